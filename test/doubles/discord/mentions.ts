/**
 * Who a message pings. Discord parses `<@id>`, `<@!id>`, `<@&role>`, `@everyone` and `@here` out of
 * the content and then keeps only what `allowed_mentions` allows; the message's `mentions`,
 * `mention_roles` and `mention_everyone` describe the pings that actually happened. That matters to
 * a bot without MESSAGE_CONTENT: it is only shown the content of messages that ping it.
 */

export interface AllowedMentions {
  parse?: Array<"users" | "roles" | "everyone" | null> | null;
  users?: Array<string | null> | null;
  roles?: Array<string | null> | null;
  replied_user?: boolean | null;
}

export interface MentionResult {
  users: string[];
  roles: string[];
  everyone: boolean;
}

export function parseMentions(
  content: string,
  allowed: AllowedMentions | null | undefined,
  ctx: {
    isUser: (id: string) => boolean;
    isRole: (id: string) => boolean;
    /** May the author ping @everyone/@here (MENTION_EVERYONE)? */
    mayMentionEveryone: boolean;
    /** The author of the message being replied to, if any. */
    repliedUser?: string;
  },
): MentionResult {
  const users = new Set<string>();
  const roles = new Set<string>();
  for (const m of content.matchAll(/<@!?(\d{1,20})>/g)) if (ctx.isUser(m[1]!)) users.add(m[1]!);
  for (const m of content.matchAll(/<@&(\d{1,20})>/g)) if (ctx.isRole(m[1]!)) roles.add(m[1]!);
  let everyone = /@(everyone|here)\b/.test(content) && ctx.mayMentionEveryone;

  // Without allowed_mentions everything parses and a reply pings the replied-to author.
  if (allowed === undefined || allowed === null) {
    if (ctx.repliedUser !== undefined) users.add(ctx.repliedUser);
    return { users: [...users], roles: [...roles], everyone };
  }
  const parse = new Set((allowed.parse ?? []).filter((p) => p !== null));
  const allowUsers = new Set((allowed.users ?? []).filter((u): u is string => u !== null));
  const allowRoles = new Set((allowed.roles ?? []).filter((r): r is string => r !== null));
  const keptUsers = [...users].filter((u) => parse.has("users") || allowUsers.has(u));
  const keptRoles = [...roles].filter((r) => parse.has("roles") || allowRoles.has(r));
  everyone = everyone && parse.has("everyone");
  if (
    ctx.repliedUser !== undefined &&
    allowed.replied_user === true &&
    !keptUsers.includes(ctx.repliedUser)
  ) {
    keptUsers.push(ctx.repliedUser);
  }
  return { users: keptUsers, roles: keptRoles, everyone };
}

/** Discord rejects allowed_mentions that both parse a type and list ids of it. */
export function allowedMentionsConflict(allowed: AllowedMentions | null | undefined): string | undefined {
  if (!allowed) return undefined;
  const parse = allowed.parse ?? [];
  if (parse.includes("users") && (allowed.users?.length ?? 0) > 0) return "users";
  if (parse.includes("roles") && (allowed.roles?.length ?? 0) > 0) return "roles";
  return undefined;
}
