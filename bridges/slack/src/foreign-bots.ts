import { matrixUserIdIn, type ForeignPuppet } from "@switchboard/framework";

/**
 * Another Matrix bridge in the same workspace (matrix-appservice-slack, a second Switchboard)
 * posts its Matrix users' messages through its own bot, with the Matrix name as `username`.
 * Ghosting those shows each Matrix person twice in a room that has them already. A username
 * holding a Matrix id names whom; otherwise a configured bridge bot's username is a name hint,
 * counted when a member of the room has that name (see `ForeignPuppet`). Pure.
 */

export function foreignBotMessage(
  event: { bot_id?: unknown; username?: unknown },
  ownBotId: string,
  bridgeBots: readonly string[],
): ForeignPuppet | undefined {
  const botId = typeof event.bot_id === "string" ? event.bot_id : "";
  if (!botId || botId === ownBotId) return undefined;
  const username = typeof event.username === "string" ? event.username : "";
  const id = matrixUserIdIn(username);
  if (id) return { matrixUserId: id };
  if (!bridgeBots.includes(botId)) return undefined;
  return username ? { nameHint: username } : { unknown: true };
}
