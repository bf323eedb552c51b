import { matrixUserIdIn, type ForeignPuppet } from "@switchboard/framework";

/**
 * Another Matrix bridge on the same channel (matrix-appservice-discord, mautrix-discord's relay,
 * a second Switchboard) posts its Matrix users' messages through its own webhook, under the
 * Matrix name. Ghosting those shows each Matrix person twice in a room that has them already. A
 * webhook username holding a Matrix id names whom; otherwise a webhook (or the application that
 * owns it) listed in `foreign_bridge_webhooks` gives a name hint, counted when a member of the
 * room has that name (see `ForeignPuppet`). Our own webhooks never get here (they are echoes). Pure.
 */
export function foreignWebhookAuthor(
  m: { webhookId: string | null; applicationId: string | null; author: { username: string } },
  bridgeWebhooks: readonly string[],
): ForeignPuppet | undefined {
  if (!m.webhookId) return undefined;
  const username = m.author.username;
  const id = matrixUserIdIn(username);
  if (id) return { matrixUserId: id };
  const listed =
    bridgeWebhooks.includes(m.webhookId) ||
    (m.applicationId !== null && bridgeWebhooks.includes(m.applicationId));
  if (!listed) return undefined;
  return username ? { nameHint: username } : { unknown: true };
}
