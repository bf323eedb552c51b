import yaml from "js-yaml";

export interface HomeserverSnippets {
  /** For homeserver.yaml. */
  synapse: string;
  /** Message for Conduit's admin room. */
  conduit: string;
  /** Message for continuwuity's admin room. */
  continuwuity: string;
  /** For dendrite.yaml. */
  dendrite: string;
}

export interface SnippetOptions {
  /** The homeserver's server_name, to name the Conduit admin bot; a placeholder otherwise. */
  serverName?: string;
  /** The registration file's contents, pasted into the admin-room messages; a placeholder otherwise. */
  registrationYaml?: string;
}

/**
 * Text an admin pastes to load the registration. `registrationPath` is the file's path as the
 * homeserver sees it (inside its container, if it runs in one).
 */
export function homeserverSnippets(
  registrationPath: string,
  options: SnippetOptions = {},
): HomeserverSnippets {
  const server = options.serverName ?? "your.server.name";
  const body = (options.registrationYaml ?? `<the contents of ${registrationPath}>`).trimEnd();
  const list = (key: string) => yaml.dump({ [key]: [registrationPath] }, { lineWidth: -1 }).trimEnd();

  const synapse = [
    "# homeserver.yaml: add the registration, then restart Synapse",
    list("app_service_config_files"),
  ].join("\n");

  const dendrite = [
    "# dendrite.yaml: add the registration under app_service_api, then restart Dendrite",
    yaml.dump({ app_service_api: { config_files: [registrationPath] } }, { lineWidth: -1 }).trimEnd(),
  ].join("\n");

  const conduit = [
    `Send this message in Conduit's admin room (#admins:${server}), with the whole registration between the fences:`,
    "",
    `@conduit:${server}: register-appservice`,
    "```",
    body,
    "```",
    "",
    `Check with \`@conduit:${server}: list-appservices\`. No restart is needed. To change it later, send`,
    `\`@conduit:${server}: unregister-appservice <id>\` and register the new file.`,
  ].join("\n");

  const continuwuity = [
    `Send this message in continuwuity's admin room (#admins:${server}), with the whole registration between the fences:`,
    "",
    "!admin appservices register",
    "```",
    body,
    "```",
    "",
    "Check with `!admin appservices list`. No restart is needed; registering the same id again replaces it.",
  ].join("\n");

  return { synapse, conduit, continuwuity, dendrite };
}
