import { aliasNamespaceRegex, userNamespaceRegex } from "./build.js";
import type {
  Namespace,
  NamespaceInput,
  Registration,
  RegistrationInput,
  RegistrationProblem,
} from "./types.js";
import { REGENERATE_COMMAND } from "./types.js";

/** Shorter tokens than this are reported (generated ones are 43 characters). */
export const MIN_TOKEN_LENGTH = 32;

const REGENERATE = `re-run \`${REGENERATE_COMMAND}\` and restart the homeserver (on Conduit/continuwuity, register the new file again in the admin room)`;

/** Compiles a namespace regex with JavaScript semantics; null when it does not compile. */
function compile(regex: string): RegExp | null {
  try {
    return new RegExp(regex);
  } catch {
    return null;
  }
}

/**
 * Index of the namespace entry that covers the bridge's ids: its regex is the one we would
 * generate, or it matches sample ids built from the prefix. Exclusive entries are preferred.
 */
function findCovering(list: Namespace[], expected: string, samples: string[]): number[] {
  const covering: number[] = [];
  list.forEach((n, i) => {
    const re = compile(n.regex);
    if (n.regex === expected || (re !== null && samples.some((s) => re.test(s)))) covering.push(i);
  });
  return covering;
}

function bridgeLabel(ns: NamespaceInput): string {
  return ns.name ? `the ${ns.name} bridge` : `the bridge with prefix "${ns.userPrefix}"`;
}

/**
 * Compares a registration with what the bridge expects and explains every mismatch.
 * `expectedTokens` are the tokens the bridge itself uses, when it keeps them elsewhere
 * (e.g. in its config); without them only token quality is checked. Messages never print tokens.
 */
export function checkRegistration(
  r: Registration,
  input: RegistrationInput,
  expectedTokens?: { asToken: string; hsToken: string },
): RegistrationProblem[] {
  const problems: RegistrationProblem[] = [];

  if (r.id !== input.id) {
    problems.push({
      code: "id-mismatch",
      path: "id",
      message: `registration id is "${r.id}" but the bridge is configured as "${input.id}"; the homeserver will treat them as different appservices.`,
      fix: `set \`id: ${input.id}\` or ${REGENERATE}.`,
    });
  }

  if (r.url !== input.url) {
    if (r.url === null && input.url !== null) {
      problems.push({
        code: "url-missing",
        path: "url",
        message: `registration has no url, so the homeserver sends the bridge no events (it should be ${input.url}).`,
        fix: `set \`url: ${input.url}\` or ${REGENERATE}.`,
      });
    } else {
      problems.push({
        code: "url-mismatch",
        path: "url",
        message:
          input.url === null
            ? `registration sends events to ${r.url}, but the bridge has no url configured.`
            : `registration sends events to ${r.url}, but the bridge listens at ${input.url}; the homeserver cannot reach it.`,
        fix: `set \`url: ${input.url === null ? "null" : input.url}\` (the address the homeserver uses to reach the bridge) or ${REGENERATE}.`,
      });
    }
  }

  if (r.sender_localpart !== input.senderLocalpart) {
    problems.push({
      code: "sender-localpart-mismatch",
      path: "sender_localpart",
      message: `registration's bot is @${r.sender_localpart}:${input.domain}, but the bridge acts as @${input.senderLocalpart}:${input.domain}; the homeserver will reject the bridge bot's requests.`,
      fix: `set \`sender_localpart: ${input.senderLocalpart}\` or ${REGENERATE}.`,
    });
  }

  const checkNamespace = (
    kind: "users" | "aliases",
    ns: NamespaceInput,
    expected: string,
    samples: string[],
  ): void => {
    const list = r.namespaces[kind];
    const covering = findCovering(list, expected, samples);
    const what = kind === "users" ? "users" : "room aliases";
    if (covering.length === 0) {
      problems.push({
        code: kind === "users" ? "users-namespace-missing" : "aliases-namespace-missing",
        path: `namespaces.${kind}`,
        message: `no ${kind} namespace covers ${what} like ${samples[0]} of ${bridgeLabel(ns)}; the homeserver will refuse to let the bridge ${kind === "users" ? "create and act as its puppets" : "create its aliases"}.`,
        fix: `add \`{ exclusive: true, regex: '${expected}' }\` under namespaces.${kind} (single quotes keep the backslashes), or ${REGENERATE}.`,
      });
    } else if (!covering.some((i) => list[i]?.exclusive === true)) {
      const i = covering[0] ?? 0;
      problems.push({
        code: "namespace-not-exclusive",
        path: `namespaces.${kind}[${i}].exclusive`,
        message: `the ${kind} namespace "${list[i]?.regex}" of ${bridgeLabel(ns)} is not exclusive; real users could take ${what} the bridge relies on.`,
        fix: `set \`exclusive: true\` on it, or ${REGENERATE}.`,
      });
    }
  };

  for (const ns of input.namespaces) {
    checkNamespace("users", ns, userNamespaceRegex(ns.userPrefix, input.domain), [
      `@${ns.userPrefix}x:${input.domain}`,
      `@${ns.userPrefix}1:${input.domain}`,
    ]);
    checkNamespace("aliases", ns, aliasNamespaceRegex(ns.aliasPrefix, input.domain), [
      `#${ns.aliasPrefix}x:${input.domain}`,
      `#${ns.aliasPrefix}1:${input.domain}`,
    ]);
  }

  for (const kind of ["users", "aliases", "rooms"] as const) {
    r.namespaces[kind].forEach((n, i) => {
      if (compile(n.regex) === null) {
        problems.push({
          code: "namespace-invalid-regex",
          path: `namespaces.${kind}[${i}].regex`,
          message: `"${n.regex}" is not a valid regular expression; the homeserver may refuse to start or ignore it.`,
          fix: `correct or remove it, or ${REGENERATE}.`,
        });
      }
    });
  }

  if (expectedTokens) {
    if (r.as_token !== expectedTokens.asToken) {
      problems.push({
        code: "as-token-mismatch",
        path: "as_token",
        message:
          "the registration's as_token differs from the one the bridge uses; the homeserver will answer the bridge with M_UNKNOWN_TOKEN.",
        fix: "make both use the same as_token: copy it from the registration into the bridge's settings and restart the bridge (or change the registration and restart the homeserver).",
      });
    }
    if (r.hs_token !== expectedTokens.hsToken) {
      problems.push({
        code: "hs-token-mismatch",
        path: "hs_token",
        message:
          "the registration's hs_token differs from the one the bridge expects; the bridge will reject every transaction the homeserver pushes.",
        fix: "make both use the same hs_token: copy it from the registration into the bridge's settings and restart the bridge (or change the registration and restart the homeserver).",
      });
    }
  }

  const newTokens = `delete the as_token and hs_token lines, ${REGENERATE}, and give the bridge the new tokens.`;
  if (r.as_token !== "" && r.as_token === r.hs_token) {
    problems.push({
      code: "tokens-equal",
      path: "hs_token",
      message:
        "as_token and hs_token are the same; anyone who can send requests to the bridge could then also act as it on the homeserver.",
      fix: newTokens,
    });
  }
  for (const key of ["as_token", "hs_token"] as const) {
    if (r[key].length < MIN_TOKEN_LENGTH) {
      problems.push({
        code: "token-too-short",
        path: key,
        message: `${key} is ${r[key].length} characters long; it should be at least ${MIN_TOKEN_LENGTH} random characters to be hard to guess.`,
        fix: newTokens,
      });
    }
  }

  if (r.rate_limited !== false) {
    problems.push({
      code: "rate-limited",
      path: "rate_limited",
      message:
        r.rate_limited === true
          ? "rate_limited is true: the homeserver will rate-limit the bridge's puppets and busy channels will lag or drop messages."
          : "rate_limited is missing: Synapse then rate-limits the bridge's puppets and busy channels will lag or drop messages.",
      fix: `set \`rate_limited: false\` or ${REGENERATE}.`,
    });
  }

  if (r.receive_ephemeral !== true) {
    problems.push({
      code: "receive-ephemeral-missing",
      path: "receive_ephemeral",
      message: `receive_ephemeral is ${r.receive_ephemeral === false ? "false" : "missing"}: the homeserver will not push typing notifications, read receipts or presence, so they are not bridged.`,
      fix: `set \`receive_ephemeral: true\` (and \`de.sorunome.msc2409.push_ephemeral: true\` for older homeservers) or ${REGENERATE}.`,
    });
  }

  return problems;
}
