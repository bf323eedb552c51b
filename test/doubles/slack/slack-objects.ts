import { createHash } from "node:crypto";
import type { SlackBotProfile, SlackFile } from "./types.js";

/**
 * The JSON shapes Slack returns for users, bots, conversations and files, built from the
 * double's records. Kept apart from the workspace model so the model stays about behaviour and
 * this file about wire format.
 */

export interface Team {
  id: string;
  name: string;
  domain: string;
}

export interface UserRecord {
  id: string;
  name: string;
  realName: string;
  displayName: string;
  avatarUrl: string | undefined;
  isBot: boolean;
  /** Bot users (other integrations and our app's bot user) have a bot id and an app id. */
  botId: string | undefined;
  appId: string | undefined;
  updated: number;
}

export interface ChannelRecord {
  id: string;
  name: string;
  kind: "public" | "private" | "im" | "mpim";
  members: string[];
  created: number;
  creator: string;
  topic: { value: string; creator: string; last_set: number };
  purpose: { value: string; creator: string; last_set: number };
  previousNames: string[];
}

export interface FileRecord {
  id: string;
  name: string;
  title: string | undefined;
  mimetype: string;
  /** Undefined until the bytes arrive at the upload URL. */
  data: Buffer | undefined;
  declaredLength: number;
  user: string;
  created: number;
  /** Where the file was shared: the file_share message of each share. */
  shares: Array<{ channel: string; ts: string }>;
}

/** Where the double serves avatars and file downloads; both need the listening port. */
export interface Urls {
  base: string;
}

const AVATAR_SIZES = [24, 32, 48, 72, 192, 512, 1024] as const;

export function avatarUrl(user: UserRecord, urls: Urls, size: number): string {
  return user.avatarUrl ?? `${urls.base}avatars/${user.id}/${size}.png`;
}

/** Bridges detect avatar changes by this hash, so it must change exactly when the picture does. */
export function avatarHash(user: UserRecord): string {
  return createHash("sha1")
    .update(user.avatarUrl ?? `default:${user.id}`)
    .digest("hex")
    .slice(0, 12);
}

export function userProfile(user: UserRecord, team: Team, urls: Urls): Record<string, unknown> {
  const profile: Record<string, unknown> = {
    title: "",
    phone: "",
    skype: "",
    real_name: user.realName,
    real_name_normalized: user.realName,
    display_name: user.displayName,
    display_name_normalized: user.displayName,
    fields: null,
    status_text: "",
    status_emoji: "",
    status_expiration: 0,
    avatar_hash: avatarHash(user),
    first_name: user.realName.split(" ")[0] ?? "",
    last_name: user.realName.split(" ").slice(1).join(" "),
    team: team.id,
  };
  for (const size of AVATAR_SIZES) profile[`image_${size}`] = avatarUrl(user, urls, size);
  if (user.avatarUrl !== undefined) {
    profile.is_custom_image = true;
    profile.image_original = user.avatarUrl;
  }
  if (user.isBot) {
    profile.bot_id = user.botId;
    profile.api_app_id = user.appId;
    profile.always_active = true;
  }
  return profile;
}

export function userObject(user: UserRecord, team: Team, urls: Urls): Record<string, unknown> {
  return {
    id: user.id,
    team_id: team.id,
    name: user.name,
    deleted: false,
    color: "9f69e7",
    real_name: user.realName,
    tz: "Europe/Amsterdam",
    tz_label: "Central European Time",
    tz_offset: 3600,
    profile: userProfile(user, team, urls),
    is_admin: false,
    is_owner: false,
    is_primary_owner: false,
    is_restricted: false,
    is_ultra_restricted: false,
    is_bot: user.isBot,
    is_app_user: false,
    updated: user.updated,
  };
}

export function botProfile(user: UserRecord, team: Team, urls: Urls): SlackBotProfile {
  return {
    id: user.botId ?? "",
    deleted: false,
    name: user.name,
    updated: user.updated,
    app_id: user.appId ?? "",
    icons: {
      image_36: avatarUrl(user, urls, 36),
      image_48: avatarUrl(user, urls, 48),
      image_72: avatarUrl(user, urls, 72),
    },
    team_id: team.id,
  };
}

/** bots.info's `bot`: like bot_profile, plus the bot's user id. */
export function botInfo(user: UserRecord, team: Team, urls: Urls): Record<string, unknown> {
  const { team_id: _team, ...profile } = botProfile(user, team, urls);
  return { ...profile, user_id: user.id };
}

/** A conversation as `viewer` sees it (is_member, and the other party of an im). */
export function conversationObject(ch: ChannelRecord, team: Team, viewer: string): Record<string, unknown> {
  if (ch.kind === "im") {
    return {
      id: ch.id,
      created: ch.created,
      is_archived: false,
      is_im: true,
      is_org_shared: false,
      user: ch.members.find((m) => m !== viewer) ?? ch.members[0],
      is_open: true,
      priority: 0,
    };
  }
  return {
    id: ch.id,
    name: ch.name,
    is_channel: ch.kind === "public",
    is_group: false,
    is_im: false,
    is_mpim: ch.kind === "mpim",
    is_private: ch.kind !== "public",
    created: ch.created,
    is_archived: false,
    is_general: false,
    unlinked: 0,
    name_normalized: ch.name,
    is_shared: false,
    is_org_shared: false,
    is_pending_ext_shared: false,
    pending_shared: [],
    parent_conversation: null,
    creator: ch.creator,
    is_ext_shared: false,
    shared_team_ids: [team.id],
    pending_connected_team_ids: [],
    is_member: ch.members.includes(viewer),
    topic: { ...ch.topic },
    purpose: { ...ch.purpose },
    previous_names: [...ch.previousNames],
    num_members: ch.members.length,
  };
}

const FILE_TYPES: Record<string, { filetype: string; pretty: string; mimetype: string }> = {
  png: { filetype: "png", pretty: "PNG", mimetype: "image/png" },
  jpg: { filetype: "jpg", pretty: "JPEG", mimetype: "image/jpeg" },
  jpeg: { filetype: "jpg", pretty: "JPEG", mimetype: "image/jpeg" },
  gif: { filetype: "gif", pretty: "GIF", mimetype: "image/gif" },
  webp: { filetype: "webp", pretty: "WebP", mimetype: "image/webp" },
  txt: { filetype: "text", pretty: "Plain Text", mimetype: "text/plain" },
  pdf: { filetype: "pdf", pretty: "PDF", mimetype: "application/pdf" },
  mp4: { filetype: "mp4", pretty: "MPEG 4 Video", mimetype: "video/mp4" },
  ogg: { filetype: "ogg", pretty: "Ogg Vorbis", mimetype: "audio/ogg" },
  mp3: { filetype: "mp3", pretty: "MP3", mimetype: "audio/mpeg" },
};

/** Slack decides the type of an external upload from its file name. */
export function mimetypeFromName(name: string): string {
  const ext = name.split(".").pop()?.toLowerCase() ?? "";
  return FILE_TYPES[ext]?.mimetype ?? "application/octet-stream";
}

function fileType(name: string, mimetype: string): { filetype: string; pretty: string } {
  const ext = name.split(".").pop()?.toLowerCase() ?? "";
  const byExt = FILE_TYPES[ext];
  if (byExt) return byExt;
  const byMime = Object.values(FILE_TYPES).find((t) => t.mimetype === mimetype);
  return byMime ?? { filetype: "binary", pretty: "Binary" };
}

export function fileUrls(f: FileRecord, team: Team, urls: Urls): { private: string; download: string } {
  const name = encodeURIComponent(f.name);
  return {
    private: `${urls.base}files-pri/${team.id}-${f.id}/${name}`,
    download: `${urls.base}files-pri/${team.id}-${f.id}/download/${name}`,
  };
}

export function fileObject(f: FileRecord, team: Team, urls: Urls): SlackFile {
  const { filetype, pretty } = fileType(f.name, f.mimetype);
  const u = fileUrls(f, team, urls);
  const file: SlackFile = {
    id: f.id,
    created: f.created,
    timestamp: f.created,
    name: f.name,
    title: f.title ?? f.name,
    mimetype: f.mimetype,
    filetype,
    pretty_type: pretty,
    user: f.user,
    user_team: team.id,
    editable: false,
    size: f.data?.length ?? f.declaredLength,
    mode: "hosted",
    is_external: false,
    external_type: "",
    is_public: false,
    public_url_shared: false,
    display_as_bot: false,
    username: "",
    url_private: u.private,
    url_private_download: u.download,
    permalink: `https://${team.domain}.slack.com/files/${f.user}/${f.id}/${encodeURIComponent(f.name)}`,
    permalink_public: `https://slack-files.com/${team.id}-${f.id}-0000000000`,
    has_rich_preview: false,
  };
  return file;
}

/** files.info's richer file: where it was shared, keyed by channel like Slack's `shares`. */
export function fileInfoObject(
  f: FileRecord,
  team: Team,
  urls: Urls,
  channels: Map<string, ChannelRecord>,
): Record<string, unknown> {
  const pub: Record<string, unknown[]> = {};
  const priv: Record<string, unknown[]> = {};
  for (const share of f.shares) {
    const ch = channels.get(share.channel);
    if (!ch) continue;
    const bucket = ch.kind === "public" ? pub : priv;
    (bucket[ch.id] ??= []).push({ reply_users: [], reply_users_count: 0, reply_count: 0, ts: share.ts });
  }
  const shares: Record<string, unknown> = {};
  if (Object.keys(pub).length > 0) shares.public = pub;
  if (Object.keys(priv).length > 0) shares.private = priv;
  const where = f.shares.map((s) => channels.get(s.channel)).filter((c): c is ChannelRecord => !!c);
  return {
    ...fileObject(f, team, urls),
    is_public: where.some((c) => c.kind === "public"),
    channels: [...new Set(where.filter((c) => c.kind === "public").map((c) => c.id))],
    groups: [...new Set(where.filter((c) => c.kind === "private" || c.kind === "mpim").map((c) => c.id))],
    ims: [...new Set(where.filter((c) => c.kind === "im").map((c) => c.id))],
    comments_count: 0,
    shares,
  };
}

/** The 1x1 PNG the double serves as everyone's default avatar. */
export const DEFAULT_AVATAR_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);
