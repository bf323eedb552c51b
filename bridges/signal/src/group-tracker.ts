import type { ChatRef, LoginState, RemoteEvent, RemoteMedia } from "@switchboard/framework";
import { groupChannel } from "./ids.js";
import type { GroupChange, GroupState, GroupsClient } from "./groups.js";
import { groupIdFromMasterKey } from "./groups.js";
import type { Emission } from "./inbound.js";

/**
 * What a login knows of each Signal group it is in, kept in its sealed state: the master key
 * (which is the group's secret), the revision, title, members and their profile keys. Signal
 * never pushes group changes; members learn them from the revision in each group message, so a
 * message with a newer revision than ours is the cue to read the change log first and turn it
 * into room events (members joining and leaving, a new name or topic) before the message.
 */

export interface KnownGroup {
  masterKey: string;
  revision: number;
  title: string;
  description?: string;
  members: string[];
  /** Profile keys (base64) by ACI, from the group state: what decrypts members' profiles. */
  profileKeys: Record<string, string>;
  announcementsOnly: boolean;
  admins: string[];
  /** CDN 0 path of the group's encrypted picture. */
  avatar?: string;
}

/** Where a group's picture is fetched from: the framework asks the connector for it lazily. */
export type AvatarMedia = (masterKey: string, path: string) => RemoteMedia;

/** Events for a group message: the ones to emit before it, and after it (once its portal exists). */
export interface Observed {
  before: Emission[];
  after: Emission[];
}

/** A Signal group admin's power level in the portal: enough to manage the bridge there (relay, unlink). */
export const ADMIN_LEVEL = 100;

export class GroupTracker {
  private readonly cache = new Map<string, KnownGroup>();

  constructor(
    private readonly state: LoginState,
    private readonly client: GroupsClient | null,
    private readonly loginId: string,
    private readonly selfAci: string,
    private readonly onError: (err: unknown, channelId: string) => void,
    private readonly avatarMedia: AvatarMedia,
  ) {}

  static chatOf(masterKey: Uint8Array): ChatRef {
    return { channelId: groupChannel(Buffer.from(groupIdFromMasterKey(masterKey), "base64")) };
  }

  async known(channelId: string): Promise<KnownGroup | null> {
    const cached = this.cache.get(channelId);
    if (cached) return cached;
    const raw = await this.state.get(`group:${channelId}`);
    if (!raw) return null;
    const group = JSON.parse(raw) as KnownGroup;
    this.cache.set(channelId, group);
    return group;
  }

  private async save(channelId: string, group: KnownGroup): Promise<void> {
    await this.state.set(`group:${channelId}`, JSON.stringify(group));
    this.cache.set(channelId, group);
  }

  /**
   * A group message arrived with this master key and revision: brings our copy up to date and
   * returns the events for what changed (emitted before the message itself).
   */
  async observe(masterKey: Uint8Array, revision: number): Promise<Observed> {
    const chat = GroupTracker.chatOf(masterKey);
    const known = await this.known(chat.channelId);
    if (known && known.revision >= revision) return { before: [], after: [] };
    const key = Buffer.from(masterKey).toString("base64");
    if (!this.client) {
      // Without the group service only the key and revision are known: messages still bridge.
      const fresh = known ?? emptyGroup(key);
      await this.save(chat.channelId, { ...fresh, revision });
      return { before: known ? [] : [this.joined(chat)], after: [] };
    }
    try {
      if (!known) {
        const state = await this.client.getGroup(masterKey);
        const group = fromState(key, state);
        await this.save(chat.channelId, group);
        const picture: Emission[] = group.avatar
          ? [
              {
                event: { type: "chat-update", chat, avatar: this.avatarMedia(key, group.avatar) },
                options: { key: `group:${chat.channelId}:${group.revision}:avatar` },
              },
            ]
          : [];
        return { before: [this.joined(chat)], after: [...this.ownLevel(chat, group, revision), ...picture] };
      }
      const log = await this.client.getChanges(masterKey, known.revision);
      const events: Emission[] = [];
      for (const change of log.changes)
        events.push(
          ...changeEvents(chat, change, this.loginId, this.selfAci, (path) => this.avatarMedia(key, path)),
        );
      const latest = log.state ?? (await this.client.getGroup(masterKey));
      await this.save(chat.channelId, fromState(key, latest));
      return { before: events, after: [] };
    } catch (err) {
      this.onError(err, chat.channelId);
      if (!known) {
        await this.save(chat.channelId, { ...emptyGroup(key), revision });
        return { before: [this.joined(chat)], after: [] };
      }
      return { before: [], after: [] };
    }
  }

  /**
   * A group admin administers its portal: the login's own Matrix user gets the room's admin
   * level (sent after the first message, which creates the portal); ghosts get theirs from
   * `getMembers`.
   */
  private ownLevel(chat: ChatRef, group: KnownGroup, revision: number): Emission[] {
    if (!group.admins.includes(this.selfAci)) return [];
    return [
      {
        event: { type: "power", chat, userId: this.selfAci, level: ADMIN_LEVEL, fromLogin: this.loginId },
        options: { key: `group-admin:${this.loginId}:${chat.channelId}:${revision}` },
      },
    ];
  }

  private joined(chat: ChatRef): Emission {
    return {
      event: { type: "login-membership", chat, loginId: this.loginId, membership: "join" },
      options: { key: `group-joined:${this.loginId}:${chat.channelId}` },
    };
  }
}

function emptyGroup(masterKey: string): KnownGroup {
  return {
    masterKey,
    revision: 0,
    title: "Signal group",
    members: [],
    profileKeys: {},
    announcementsOnly: false,
    admins: [],
  };
}

function fromState(masterKey: string, state: GroupState): KnownGroup {
  const profileKeys: Record<string, string> = {};
  for (const m of state.members)
    if (m.profileKey) profileKeys[m.aci] = Buffer.from(m.profileKey).toString("base64");
  return {
    masterKey,
    revision: state.revision,
    title: state.title || "Signal group",
    ...(state.description ? { description: state.description } : {}),
    members: state.members.map((m) => m.aci),
    profileKeys,
    announcementsOnly: state.announcementsOnly,
    admins: state.members.filter((m) => m.role === "admin").map((m) => m.aci),
    ...(state.avatarUrl ? { avatar: state.avatarUrl } : {}),
  };
}

/** One change from the group's log as room events; keyed by revision so a replay adds nothing. */
export function changeEvents(
  chat: ChatRef,
  change: GroupChange,
  loginId: string,
  selfAci: string,
  avatarMedia: (path: string) => RemoteMedia,
): Emission[] {
  const out: Emission[] = [];
  const key = (what: string, i = 0) => ({ key: `group:${chat.channelId}:${change.revision}:${what}:${i}` });
  const by = change.editor && !change.editor.startsWith("PNI:") ? { by: change.editor } : {};
  change.membersAdded.forEach((m, i) => {
    const event: RemoteEvent = { type: "member", chat, user: { id: m.aci }, membership: "join", ...by };
    out.push({ event, options: key("join", i) });
  });
  change.membersRemoved.forEach((aci, i) => {
    const kicked = change.editor && change.editor !== aci;
    const event: RemoteEvent = {
      type: "member",
      chat,
      user: { id: aci },
      membership: kicked ? "kick" : "leave",
      ...by,
    };
    out.push({ event, options: key("leave", i) });
  });
  change.rolesChanged.forEach((r, i) => {
    const level = r.role === "admin" ? ADMIN_LEVEL : 0;
    const event: RemoteEvent =
      r.aci === selfAci
        ? { type: "power", chat, userId: r.aci, level, fromLogin: loginId }
        : { type: "power", chat, userId: r.aci, level };
    out.push({ event, options: key("role", i) });
  });
  if (change.title !== undefined || change.description !== undefined || change.avatarUrl !== undefined) {
    out.push({
      event: {
        type: "chat-update",
        chat,
        ...(change.title !== undefined ? { name: change.title } : {}),
        ...(change.description !== undefined ? { topic: change.description } : {}),
        ...(change.avatarUrl !== undefined
          ? { avatar: change.avatarUrl ? avatarMedia(change.avatarUrl) : null }
          : {}),
      },
      options: key("update"),
    });
  }
  return out;
}
