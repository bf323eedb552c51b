import {
  ChannelType,
  InteractionCallbackType,
  InteractionType,
  MessageFlag,
  MessageType,
  OptionType,
} from "./bits.js";
import {
  channelObject,
  memberObject,
  messageObject,
  roleObject,
  userObject,
  type ChannelRecord,
  type MessageRecord,
} from "./discord-objects.js";
import { badRequest, invalidForm, unknown } from "./errors.js";
import { createMessage, editMessage, type MessageEdit, type MessageInput } from "./messages.js";
import { findCommand } from "./commands.js";
import type { Model } from "./model.js";
import { tokenMatches } from "./token-check.js";
import type { DiscordMessage, InteractionOutcome } from "./types.js";

/**
 * Interactions received over the gateway: a person runs a slash command or clicks a button
 * (INTERACTION_CREATE), the app answers once through POST /interactions/{id}/{token}/callback within
 * the response window, then uses the interaction token as a webhook of its application for
 * follow-ups and for editing its @original answer (valid 15 minutes, as on Discord).
 */

const TOKEN_LIFETIME_MS = 15 * 60 * 1000;

export interface InteractionRecord {
  id: string;
  token: string;
  type: number;
  guildId: string | null;
  channelId: string;
  userId: string;
  /** Command name (type 2) or custom_id (type 3), for interaction_metadata. */
  name: string;
  commandType?: number;
  /** The message whose component was used. */
  messageId?: string;
  createdAt: number;
  responseType?: number;
  originalMessageId?: string;
  followups: string[];
  modal?: Record<string, unknown>;
}

export class Interactions {
  private readonly records = new Map<string, InteractionRecord>();

  constructor(
    private readonly model: Model,
    private readonly responseTimeoutMs: number,
  ) {}

  private create(
    userId: string,
    c: ChannelRecord,
    type: number,
    name: string,
    data: Record<string, unknown>,
    extra: { messageId?: string; commandType?: number; message?: DiscordMessage },
  ): InteractionRecord {
    const { model } = this;
    const user = model.user(userId);
    const guild = model.guildOf(c);
    if (guild && !guild.members.has(userId))
      throw new Error(`Discord double: ${userId} is not in the channel's guild`);
    if (!model.canView(userId, c)) throw new Error(`Discord double: ${userId} cannot see channel ${c.id}`);
    const record: InteractionRecord = {
      id: model.mint.next(),
      token: `aW50ZXJhY3Rpb246${model.mint.secret(60)}`,
      type,
      guildId: c.guildId,
      channelId: c.id,
      userId,
      name,
      ...(extra.commandType !== undefined ? { commandType: extra.commandType } : {}),
      ...(extra.messageId !== undefined ? { messageId: extra.messageId } : {}),
      createdAt: Date.now(),
      followups: [],
    };
    this.records.set(record.id, record);
    const member = guild?.members.get(userId);
    this.model.dispatch({
      t: "INTERACTION_CREATE",
      d: {
        id: record.id,
        application_id: model.bot.applicationId,
        type,
        data,
        ...(guild ? { guild_id: guild.id, guild: { id: guild.id, locale: "en-US", features: [] } } : {}),
        channel_id: c.id,
        channel: channelObject(c, model),
        ...(member
          ? {
              member: {
                ...memberObject(member, user),
                permissions: model.permissionsOf(userId, c).toString(),
              },
            }
          : { user: userObject(user) }),
        token: record.token,
        version: 1,
        ...(extra.message ? { message: extra.message } : {}),
        app_permissions: model.permissionsOf(model.bot.userId, c).toString(),
        locale: "en-US",
        ...(guild ? { guild_locale: "en-US" } : {}),
        entitlements: [],
        authorizing_integration_owners: { "0": guild?.id ?? "0" },
        context: c.type === ChannelType.DM ? 1 : 0,
        attachment_size_limit: 10 * 1024 * 1024,
      },
      intent: null,
    });
    return record;
  }

  /** A person submits /name with options; they are checked against the registered command like the client does. */
  invokeCommand(
    userId: string,
    c: ChannelRecord,
    name: string,
    options: Record<string, string | number | boolean> = {},
  ): InteractionRecord {
    const { model } = this;
    const command = findCommand(model, c, name);
    if (!command) throw new Error(`Discord double: no /${name} command registered for channel ${c.id}`);
    const defs = command.options;
    const given: Array<Record<string, unknown>> = [];
    const resolved: Record<string, Record<string, unknown>> = {};
    const add = (kind: string, id: string, value: unknown) => {
      resolved[kind] = { ...(resolved[kind] ?? {}), [id]: value };
    };
    for (const [key, value] of Object.entries(options)) {
      const def = defs.find((d) => d.name === key);
      if (!def) throw new Error(`Discord double: /${name} has no option "${key}"`);
      const type = Number(def.type);
      given.push({ name: key, type, value });
      const id = String(value);
      if (type === OptionType.USER || type === OptionType.MENTIONABLE) {
        const u = model.users.get(id);
        if (u) {
          add("users", id, userObject(u));
          const m = model.guildOf(c)?.members.get(id);
          if (m)
            add("members", id, { ...memberObject(m), permissions: model.permissionsOf(id, c).toString() });
        }
      }
      if (type === OptionType.ROLE || type === OptionType.MENTIONABLE) {
        const r = model.guildOf(c)?.roles.get(id);
        if (r) add("roles", id, roleObject(r));
      }
      if (type === OptionType.CHANNEL) {
        const ch = model.findChannel(id);
        if (!ch) throw new Error(`Discord double: option "${key}": no channel ${id}`);
        add("channels", id, {
          ...channelObject(ch, model),
          permissions: model.permissionsOf(userId, ch).toString(),
        });
      }
    }
    for (const d of defs) {
      if (d.required === true && !(String(d.name) in options)) {
        throw new Error(`Discord double: /${name} needs option "${String(d.name)}"`);
      }
    }
    return this.create(
      userId,
      c,
      InteractionType.APPLICATION_COMMAND,
      name,
      {
        id: command.id,
        name,
        type: command.type,
        ...(given.length > 0 ? { options: given } : {}),
        ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
        ...(command.guildId !== null ? { guild_id: command.guildId } : {}),
      },
      { commandType: command.type },
    );
  }

  /** A person clicks a button: the message must carry a button with that custom_id. */
  clickButton(userId: string, c: ChannelRecord, msg: MessageRecord, customId: string): InteractionRecord {
    const buttons = msg.components.flatMap((row) =>
      Array.isArray(row.components) ? (row.components as Array<Record<string, unknown>>) : [],
    );
    const button = buttons.find((b) => b.type === 2 && b.custom_id === customId);
    if (!button) throw new Error(`Discord double: message ${msg.id} has no button "${customId}"`);
    if (button.disabled === true) throw new Error(`Discord double: button "${customId}" is disabled`);
    return this.create(
      userId,
      c,
      InteractionType.MESSAGE_COMPONENT,
      customId,
      { custom_id: customId, component_type: 2 },
      { messageId: msg.id, message: messageObject(msg, this.model) },
    );
  }

  get(id: string): InteractionRecord {
    const r = this.records.get(id);
    if (!r) throw new Error(`Discord double: no interaction ${id}`);
    return r;
  }

  /** The interaction an application-webhook token belongs to (followups, @original). */
  byToken(token: string): InteractionRecord | undefined {
    for (const r of this.records.values()) {
      if (tokenMatches(token, r.token)) return Date.now() - r.createdAt < TOKEN_LIFETIME_MS ? r : undefined;
    }
    return undefined;
  }

  private metadata(r: InteractionRecord): Record<string, unknown> {
    return {
      id: r.id,
      type: r.type,
      user: userObject(this.model.user(r.userId)),
      authorizing_integration_owners: { "0": r.guildId ?? "0" },
      ...(r.type === InteractionType.APPLICATION_COMMAND
        ? { name: r.name, command_type: r.commandType ?? 1 }
        : {}),
      ...(r.messageId !== undefined ? { interacted_message_id: r.messageId } : {}),
    };
  }

  private respondWithMessage(r: InteractionRecord, input: MessageInput): MessageRecord {
    const c = this.model.channel(r.channelId);
    return createMessage(this.model, this.model.bot.userId, c, {
      ...input,
      type:
        r.type === InteractionType.APPLICATION_COMMAND ? MessageType.CHAT_INPUT_COMMAND : MessageType.DEFAULT,
      applicationId: this.model.bot.applicationId,
      interactionMetadata: this.metadata(r),
      ephemeral: Boolean((input.flags ?? 0) & MessageFlag.EPHEMERAL),
    });
  }

  /**
   * POST /interactions/{id}/{token}/callback. Returns the InteractionCallbackResponse for
   * `with_response=true`, else undefined (204).
   */
  callback(
    id: string,
    token: string,
    type: number,
    input: MessageInput & { modal?: Record<string, unknown> },
    withResponse: boolean,
  ): Record<string, unknown> | undefined {
    const r = this.records.get(id);
    if (!r || !tokenMatches(token, r.token)) throw unknown("interaction");
    if (r.responseType !== undefined) throw badRequest(40060, "Interaction has already been acknowledged.");
    // Unanswered within the window, the person already saw "The application did not respond".
    if (Date.now() - r.createdAt > this.responseTimeoutMs) throw unknown("interaction");
    const component = r.type === InteractionType.MESSAGE_COMPONENT;
    let message: MessageRecord | undefined;
    switch (type) {
      case InteractionCallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
        message = this.respondWithMessage(r, input);
        break;
      case InteractionCallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
        message = this.respondWithMessage(r, {
          content: "",
          flags: MessageFlag.LOADING | ((input.flags ?? 0) & MessageFlag.EPHEMERAL),
        });
        break;
      case InteractionCallbackType.DEFERRED_UPDATE_MESSAGE:
      case InteractionCallbackType.UPDATE_MESSAGE: {
        if (!component || r.messageId === undefined) {
          throw invalidForm(
            "type",
            "INTERACTION_RESPONSE_TYPE_INVALID",
            "Interaction response type is invalid",
          );
        }
        if (type === InteractionCallbackType.UPDATE_MESSAGE) {
          const c = this.model.channel(r.channelId);
          message = this.model.message(c.id, r.messageId);
          editMessage(this.model, c, message, toEdit(input));
        }
        break;
      }
      case InteractionCallbackType.MODAL:
        if (!input.modal) throw invalidForm("data", "BASE_TYPE_REQUIRED", "This field is required");
        r.modal = input.modal;
        break;
      default:
        // PONG is for HTTP interactions, autocomplete results for autocomplete interactions.
        throw invalidForm(
          "type",
          "INTERACTION_RESPONSE_TYPE_INVALID",
          "Interaction response type is invalid",
        );
    }
    r.responseType = type;
    if (message && type !== InteractionCallbackType.UPDATE_MESSAGE) r.originalMessageId = message.id;
    if (!withResponse) return undefined;
    return {
      interaction: {
        id: r.id,
        type: r.type,
        activity_instance_id: null,
        ...(message
          ? {
              response_message_id: message.id,
              response_message_loading: Boolean(message.flags & MessageFlag.LOADING),
              response_message_ephemeral: Boolean(message.ephemeral),
            }
          : {}),
        channel_id: r.channelId,
        ...(r.guildId !== null ? { guild_id: r.guildId } : {}),
      },
      ...(message && (type === 4 || type === 7)
        ? { resource: { type, message: messageObject(message, this.model) } }
        : {}),
    };
  }

  /** The @original answer, or a followup by id, of an interaction addressed by its token. */
  messageOf(r: InteractionRecord, messageId: string): MessageRecord {
    const id =
      messageId === "@original"
        ? r.originalMessageId
        : r.followups.includes(messageId)
          ? messageId
          : undefined;
    const msg = id !== undefined ? this.model.findMessage(r.channelId, id) : undefined;
    if (!msg) throw unknown("message");
    return msg;
  }

  followup(r: InteractionRecord, input: MessageInput): MessageRecord {
    // Discord answers 10015 to a followup before the interaction was acknowledged.
    if (r.responseType === undefined) throw unknown("webhook");
    const msg = this.respondWithMessage(r, input);
    r.followups.push(msg.id);
    return msg;
  }

  outcome(id: string): InteractionOutcome {
    const r = this.get(id);
    const original =
      r.originalMessageId !== undefined
        ? this.model.findMessage(r.channelId, r.originalMessageId)
        : undefined;
    return {
      id: r.id,
      token: r.token,
      ...(r.responseType !== undefined ? { responseType: r.responseType } : {}),
      ...(original ? { original: messageObject(original, this.model) } : {}),
      followups: r.followups.flatMap((f) => {
        const m = this.model.findMessage(r.channelId, f);
        return m ? [messageObject(m, this.model)] : [];
      }),
      ...(r.modal ? { modal: structuredClone(r.modal) } : {}),
    };
  }
}

export function toEdit(input: MessageInput): MessageEdit {
  return {
    ...(input.content !== undefined ? { content: input.content } : {}),
    ...(input.embeds !== undefined ? { embeds: input.embeds } : {}),
    ...(input.components !== undefined ? { components: input.components } : {}),
    ...(input.files !== undefined && input.files.length > 0 ? { files: input.files } : {}),
  };
}
