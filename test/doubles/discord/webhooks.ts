import { ChannelType, hasMessages, Intent, isThreadType } from "./bits.js";
import type { ChannelRecord, WebhookPersona, WebhookRecord } from "./discord-objects.js";
import { badRequest, invalidForm } from "./errors.js";
import type { Model } from "./model.js";
import { imageHash } from "./snowflakes.js";

/**
 * Channel webhooks: Discord's name rules, the 15-per-channel limit, WEBHOOKS_UPDATE, and the
 * per-execution persona (`username`/`avatar_url`) of the messages they post.
 */

const MAX_WEBHOOKS_PER_CHANNEL = 15;

/** Discord's webhook name rules, for a webhook's name and for `username` overrides. */
export function validateWebhookName(field: "name" | "username", name: string): void {
  if (name.length < 1 || name.length > 80) {
    throw invalidForm(field, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.");
  }
  for (const banned of ["discord", "clyde"]) {
    if (name.toLowerCase().includes(banned)) {
      throw invalidForm(field, "USERNAME_INVALID_CONTAINS", `Username cannot contain "${banned}"`);
    }
  }
}

export function createWebhook(
  model: Model,
  c: ChannelRecord,
  w: { name: string; avatarData?: Buffer },
  creatorId: string,
  applicationId: string | null,
): WebhookRecord {
  if (
    c.guildId === null ||
    isThreadType(c.type) ||
    (!hasMessages(c.type) && c.type !== ChannelType.GUILD_FORUM)
  ) {
    throw badRequest(50024, "Cannot execute action on this channel type");
  }
  validateWebhookName("name", w.name);
  const existing = [...model.webhooks.values()].filter((x) => x.channelId === c.id);
  if (existing.length >= MAX_WEBHOOKS_PER_CHANNEL) {
    throw badRequest(30007, `Maximum number of webhooks reached (${MAX_WEBHOOKS_PER_CHANNEL})`);
  }
  const hook: WebhookRecord = {
    id: model.mint.next(),
    token: model.mint.secret(51),
    channelId: c.id,
    guildId: c.guildId,
    name: w.name,
    avatar: w.avatarData ? imageHash(w.avatarData) : null,
    ...(w.avatarData ? { avatarData: w.avatarData } : {}),
    creatorId,
    applicationId,
  };
  model.webhooks.set(hook.id, hook);
  emitWebhooksUpdate(model, c);
  return hook;
}

export function updateWebhook(
  model: Model,
  w: WebhookRecord,
  patch: { name?: string; avatarData?: Buffer | null; channelId?: string },
): void {
  if (patch.name !== undefined) {
    validateWebhookName("name", patch.name);
    w.name = patch.name;
  }
  if (patch.avatarData !== undefined) {
    w.avatar = patch.avatarData ? imageHash(patch.avatarData) : null;
    if (patch.avatarData) w.avatarData = patch.avatarData;
    else delete w.avatarData;
  }
  if (patch.channelId !== undefined && patch.channelId !== w.channelId) {
    const from = model.channel(w.channelId);
    w.channelId = model.channel(patch.channelId).id;
    emitWebhooksUpdate(model, from);
  }
  emitWebhooksUpdate(model, model.channel(w.channelId));
}

export function deleteWebhook(model: Model, w: WebhookRecord): void {
  model.webhooks.delete(w.id);
  const c = model.findChannel(w.channelId);
  if (c) emitWebhooksUpdate(model, c);
}

function emitWebhooksUpdate(model: Model, c: ChannelRecord): void {
  model.dispatch({
    t: "WEBHOOKS_UPDATE",
    d: { guild_id: c.guildId, channel_id: c.id },
    intent: Intent.GUILD_WEBHOOKS,
  });
}

/** The persona of one webhook execution: `username`/`avatar_url` override the webhook's own. */
export function webhookPersona(
  model: Model,
  w: WebhookRecord,
  username?: string | null,
  avatarUrl?: string | null,
): WebhookPersona {
  if (username !== undefined && username !== null) validateWebhookName("username", username);
  let avatar = w.avatar;
  if (avatarUrl) {
    avatar = imageHash(avatarUrl);
    model.personaAvatars.set(avatar, avatarUrl);
  }
  return {
    webhookId: w.id,
    username: username ?? w.name,
    avatar,
    ...(avatarUrl ? { avatarUrl } : {}),
  };
}
