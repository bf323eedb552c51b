import type { ChannelRecord, CommandRecord } from "./discord-objects.js";
import { invalidForm } from "./errors.js";
import type { Model } from "./model.js";

/** Application commands: bulk overwrite (Discord's upsert by name and type) and lookup for invocations. */

/** Bulk overwrite: same name and type keeps the command's id (Discord's upsert), others are deleted. */
export function overwriteCommands(
  model: Model,
  guildId: string | null,
  list: Array<Record<string, unknown>>,
): CommandRecord[] {
  const old = [...model.commands.values()].filter((c) => c.guildId === guildId);
  const next: CommandRecord[] = [];
  const seen = new Set<string>();
  for (const [i, body] of list.entries()) {
    const name = typeof body.name === "string" ? body.name : "";
    const type = typeof body.type === "number" ? body.type : 1;
    if (type === 1 && !/^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u.test(name)) {
      throw invalidForm(`${i}.name`, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid");
    }
    const description = typeof body.description === "string" ? body.description : "";
    if (type === 1 && (description.length < 1 || description.length > 100)) {
      throw invalidForm(`${i}.description`, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.");
    }
    if (seen.has(`${type}:${name}`)) {
      throw invalidForm(
        `${i}.name`,
        "APPLICATION_COMMANDS_DUPLICATE_NAME",
        "Application command names must be unique",
      );
    }
    seen.add(`${type}:${name}`);
    const previous = old.find((c) => c.name === name && c.type === type);
    const record: CommandRecord = {
      id: previous?.id ?? model.mint.next(),
      applicationId: model.bot.applicationId,
      guildId,
      name,
      description,
      type,
      options: Array.isArray(body.options)
        ? (structuredClone(body.options) as Array<Record<string, unknown>>)
        : [],
      version: model.mint.next(),
      defaultMemberPermissions:
        typeof body.default_member_permissions === "string" ? body.default_member_permissions : null,
      nsfw: body.nsfw === true,
      contexts: Array.isArray(body.contexts) ? (body.contexts as number[]) : null,
      integrationTypes: Array.isArray(body.integration_types) ? (body.integration_types as number[]) : [0],
    };
    next.push(record);
  }
  for (const c of old) model.commands.delete(c.id);
  for (const c of next) model.commands.set(c.id, c);
  return next;
}

/** The command a user can run in a channel: a guild command of its guild first, else a global one. */
export function findCommand(
  model: Model,
  c: ChannelRecord,
  name: string,
  type = 1,
): CommandRecord | undefined {
  const all = [...model.commands.values()].filter((x) => x.name === name && x.type === type);
  return (
    all.find((x) => x.guildId !== null && x.guildId === c.guildId) ?? all.find((x) => x.guildId === null)
  );
}
