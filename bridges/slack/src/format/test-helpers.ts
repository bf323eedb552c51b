/** Shared by the tests of this directory only (not exported from index.ts). */
import assert from "node:assert/strict";
import { format } from "@switchboard/framework";
import { slackToMatrix, type MatrixText, type SlackRefs } from "./mrkdwn-to-html.js";

const USERS: Record<string, string> = { U1: "Alice", U2: "Bob <script>" };
const CHANNELS: Record<string, string> = { C1: "general" };

/** The Matrix id the Slack connector gives a ghost: team and user id, lower-cased. */
export function ghostId(slackUserId: string, team = "T1"): string {
  return `@slack_${team.toLowerCase()}_${slackUserId.toLowerCase()}:example.org`;
}

export const refs: SlackRefs = {
  userName: (id) => USERS[id],
  channelName: (id) => CHANNELS[id],
  mentionHtml: (id, name) => format.pill(ghostId(id), name),
};

/** Converts and checks the invariant every result holds: the HTML is already sanitized. */
export function toMatrix(text: string): MatrixText {
  const result = slackToMatrix(text, refs);
  if (result.html !== undefined) assert.equal(format.sanitizeMatrixHtml(result.html), result.html);
  return result;
}

/** mulberry32: a tiny deterministic PRNG, so property-style tests fail the same way every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` pieces drawn from `alphabet`, concatenated. */
export function randomString(random: () => number, alphabet: readonly string[], count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) out += alphabet[Math.floor(random() * alphabet.length)] ?? "";
  return out;
}
