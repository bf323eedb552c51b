/**
 * The gateway's wire vocabulary, typed after Discord's documentation (Topics → Gateway, Opcodes and
 * Status Codes, Gateway Events): there is no official machine-readable spec for it. Client payloads
 * are read defensively: a malformed one is a decode error (4002), as on Discord.
 */

export const Op = {
  DISPATCH: 0,
  HEARTBEAT: 1,
  IDENTIFY: 2,
  PRESENCE_UPDATE: 3,
  VOICE_STATE_UPDATE: 4,
  RESUME: 6,
  RECONNECT: 7,
  REQUEST_GUILD_MEMBERS: 8,
  INVALID_SESSION: 9,
  HELLO: 10,
  HEARTBEAT_ACK: 11,
  REQUEST_SOUNDBOARD_SOUNDS: 31,
} as const;

/** Gateway close codes (Opcodes and Status Codes → Gateway Close Event Codes). */
export const Close = {
  UNKNOWN_ERROR: 4000,
  UNKNOWN_OPCODE: 4001,
  DECODE_ERROR: 4002,
  NOT_AUTHENTICATED: 4003,
  AUTHENTICATION_FAILED: 4004,
  ALREADY_AUTHENTICATED: 4005,
  INVALID_SEQ: 4007,
  RATE_LIMITED: 4008,
  SESSION_TIMED_OUT: 4009,
  INVALID_SHARD: 4010,
  SHARDING_REQUIRED: 4011,
  INVALID_API_VERSION: 4012,
  INVALID_INTENTS: 4013,
  DISALLOWED_INTENTS: 4014,
} as const;

/** Every frame the server sends: `{ op, d, s, t }` (s and t only set for dispatches). */
export interface ServerFrame {
  op: number;
  d: unknown;
  s: number | null;
  t: string | null;
}

export interface HelloData {
  heartbeat_interval: number;
  _trace: string[];
}

export interface IdentifyData {
  token: string;
  intents: number;
  properties: { os: string; browser: string; device: string };
  compress?: boolean;
  large_threshold?: number;
  shard?: [number, number];
  presence?: Record<string, unknown>;
}

export interface ResumeData {
  token: string;
  session_id: string;
  seq: number;
}

export interface RequestGuildMembersData {
  guild_id: string;
  query?: string;
  limit: number;
  presences?: boolean;
  user_ids?: string | string[];
  nonce?: string;
}

/** READY's `d` (Gateway Events → Ready). */
export interface ReadyData {
  v: number;
  user: Record<string, unknown>;
  guilds: Array<{ id: string; unavailable: true }>;
  session_id: string;
  resume_gateway_url: string;
  shard?: [number, number];
  application: { id: string; flags: number };
  session_type: "normal";
  user_settings: Record<string, never>;
  relationships: [];
  private_channels: [];
  presences: [];
  guild_join_requests: [];
  geo_ordered_rtc_regions: string[];
  _trace: string[];
}

export type ClientFrame =
  | { op: typeof Op.HEARTBEAT; d: number | null }
  | { op: typeof Op.IDENTIFY; d: IdentifyData }
  | { op: typeof Op.RESUME; d: ResumeData }
  | { op: typeof Op.REQUEST_GUILD_MEMBERS; d: RequestGuildMembersData }
  | {
      op: typeof Op.PRESENCE_UPDATE | typeof Op.VOICE_STATE_UPDATE | typeof Op.REQUEST_SOUNDBOARD_SOUNDS;
      d: unknown;
    };

/** Why a frame could not be read: the close code Discord answers it with. */
export class FrameError extends Error {
  constructor(
    readonly closeCode: number,
    reason: string,
  ) {
    super(reason);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function decodeError(what: string): FrameError {
  return new FrameError(Close.DECODE_ERROR, `Error while decoding payload: ${what}`);
}

export function parseClientFrame(text: string): ClientFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw decodeError("not JSON");
  }
  if (!isObject(raw) || typeof raw.op !== "number") throw decodeError("no op");
  const d = raw.d;
  switch (raw.op) {
    case Op.HEARTBEAT:
      if (d !== null && (typeof d !== "number" || !Number.isInteger(d)))
        throw decodeError("heartbeat d must be a sequence or null");
      return { op: Op.HEARTBEAT, d };
    case Op.IDENTIFY: {
      if (!isObject(d) || typeof d.token !== "string") throw decodeError("identify needs a token");
      if (typeof d.intents !== "number" || !Number.isInteger(d.intents))
        throw decodeError("identify needs intents");
      const p = d.properties;
      if (
        !isObject(p) ||
        typeof p.os !== "string" ||
        typeof p.browser !== "string" ||
        typeof p.device !== "string"
      ) {
        throw decodeError("identify.properties needs os, browser and device");
      }
      const shard = d.shard;
      if (
        shard !== undefined &&
        !(
          Array.isArray(shard) &&
          shard.length === 2 &&
          shard.every((n) => Number.isInteger(n) && (n as number) >= 0)
        )
      ) {
        throw decodeError("identify.shard must be [shard_id, num_shards]");
      }
      if (
        d.large_threshold !== undefined &&
        (typeof d.large_threshold !== "number" || d.large_threshold < 50 || d.large_threshold > 250)
      ) {
        throw decodeError("large_threshold must be 50-250");
      }
      return {
        op: Op.IDENTIFY,
        d: {
          token: d.token,
          intents: d.intents,
          properties: { os: p.os, browser: p.browser, device: p.device },
          ...(typeof d.compress === "boolean" ? { compress: d.compress } : {}),
          ...(typeof d.large_threshold === "number" ? { large_threshold: d.large_threshold } : {}),
          ...(shard !== undefined ? { shard: shard as [number, number] } : {}),
          ...(isObject(d.presence) ? { presence: d.presence } : {}),
        },
      };
    }
    case Op.RESUME:
      if (!isObject(d) || typeof d.token !== "string" || typeof d.session_id !== "string") {
        throw decodeError("resume needs token and session_id");
      }
      if (typeof d.seq !== "number" || !Number.isInteger(d.seq)) throw decodeError("resume needs seq");
      return { op: Op.RESUME, d: { token: d.token, session_id: d.session_id, seq: d.seq } };
    case Op.REQUEST_GUILD_MEMBERS: {
      if (!isObject(d) || typeof d.guild_id !== "string")
        throw decodeError("request guild members needs guild_id");
      const ids = d.user_ids;
      if (typeof d.query !== "string" && ids === undefined)
        throw decodeError("query or user_ids is required");
      return {
        op: Op.REQUEST_GUILD_MEMBERS,
        d: {
          guild_id: d.guild_id,
          ...(typeof d.query === "string" ? { query: d.query } : {}),
          limit: typeof d.limit === "number" ? d.limit : 0,
          ...(typeof d.presences === "boolean" ? { presences: d.presences } : {}),
          ...(typeof ids === "string" || Array.isArray(ids) ? { user_ids: ids as string | string[] } : {}),
          ...(typeof d.nonce === "string" ? { nonce: d.nonce } : {}),
        },
      };
    }
    case Op.PRESENCE_UPDATE:
    case Op.VOICE_STATE_UPDATE:
    case Op.REQUEST_SOUNDBOARD_SOUNDS:
      return { op: raw.op, d };
    default:
      throw new FrameError(Close.UNKNOWN_OPCODE, "Unknown opcode.");
  }
}
