export type {
  Namespace,
  NamespaceInput,
  Registration,
  RegistrationInput,
  RegistrationProblem,
  RegistrationProblemCode,
} from "./types.js";
export { REGENERATE_COMMAND, RegistrationError } from "./types.js";
export {
  TOKEN_BYTES,
  aliasNamespaceRegex,
  botUserRegex,
  buildRegistration,
  escapeRegex,
  generateToken,
  userNamespaceRegex,
} from "./build.js";
export { parseRegistration, registrationToYaml } from "./yaml.js";
export { MIN_TOKEN_LENGTH, checkRegistration } from "./check.js";
export { SPEC_REGISTRATION_SCHEMA_PATH, loadSpecRegistrationSchema, validateAgainstSpec } from "./spec.js";
export type { HomeserverSnippets, SnippetOptions } from "./snippets.js";
export { homeserverSnippets } from "./snippets.js";
