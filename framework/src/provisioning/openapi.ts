/**
 * The OpenAPI 3.1 description of the provisioning API, served at
 * `/_matrix/provision/v3/openapi.json`. Written by hand beside the routes in api.ts (openapi.test.ts
 * checks that every route is described and nothing else), since the routes are a dozen and
 * generating them would need a schema per handler that the handlers do not otherwise want.
 */

const error = {
  description: "An error: `errcode` is what to switch on, `error` what to tell a person.",
  content: {
    "application/json": {
      schema: {
        type: "object",
        required: ["errcode", "error"],
        properties: { errcode: { type: "string" }, error: { type: "string" } },
      },
    },
  },
};

const ok = (description: string) => ({
  description,
  content: { "application/json": { schema: { type: "object" } } },
});

const errors = { "400": error, "401": error, "403": error, "404": error };

const networkParam = {
  name: "network",
  in: "path",
  required: true,
  description: "The bridge's id of the network (irc, slack, discord, signal…).",
  schema: { type: "string" },
};

const pathParam = (name: string, description: string) => ({
  name,
  in: "path",
  required: true,
  description,
  schema: { type: "string" },
});

const op = (summary: string, params: object[] = [], body?: object) => ({
  summary,
  parameters: params,
  ...(body ? { requestBody: { required: false, content: { "application/json": { schema: body } } } } : {}),
  responses: { "200": ok(summary), ...errors },
});

export function openApiDocument(): Record<string, unknown> {
  const process = pathParam("loginProcessID", "The `login_id` of the step the last call returned.");
  const room = pathParam("roomID", "A Matrix room id.");
  const paths: Record<string, Record<string, unknown>> = {
    "/{network}/v3/whoami": {
      get: op("The caller on this network: its login flows and logins.", [networkParam]),
    },
    "/{network}/v3/login/flows": { get: op("The ways to log in to this network.", [networkParam]) },
    "/{network}/v3/login/start/{flowID}": {
      post: op("Starts a login; answers its first step.", [
        networkParam,
        pathParam("flowID", "A flow's id."),
      ]),
    },
    "/{network}/v3/login/step/{loginProcessID}/{stepID}/{stepType}": {
      post: op(
        "Answers the current step: `user_input` with the fields' values by id, or `display_and_wait`, " +
          "which returns when the QR code was scanned or the page visited. Answers the next step.",
        [
          networkParam,
          process,
          pathParam("stepID", "The current step's `step_id`."),
          pathParam("stepType", "user_input or display_and_wait"),
        ],
        { type: "object", additionalProperties: { type: "string" } },
      ),
    },
    "/{network}/v3/login/cancel/{loginProcessID}": {
      post: op("Abandons a login in progress.", [networkParam, process]),
    },
    "/{network}/v3/logins": {
      get: op("The caller's logins on this network and their state.", [networkParam]),
    },
    "/{network}/v3/logout/{loginID}": {
      post: op("Logs out of one login (or `all`) and wipes its credentials.", [
        networkParam,
        pathParam("loginID", "A login id, or all."),
      ]),
    },
    "/v3/whoami": { get: op("The caller on every network, and their bridge permission.") },
    "/v3/links": {
      get: op("Linked rooms: every one for a bridge admin, the caller's own otherwise."),
      post: op("Links a room the bridge bot is in to a chat (the caller must administer the room).", [], {
        type: "object",
        required: ["room_id", "network", "chat"],
        properties: {
          room_id: { type: "string" },
          network: { type: "string" },
          chat: { type: "string", description: "What `!link <network> <chat>` takes." },
          migrate: { type: "boolean" },
        },
      }),
    },
    "/v3/links/{roomID}": { delete: op("Unlinks a room (its admin, or a bridge admin).", [room]) },
    "/v3/activations": {
      get: op("Links the activation guard holds for a bridge admin, with their member counts."),
    },
    "/v3/activations/{roomID}/{action}": {
      post: op(
        'approve (body `{"mode": "lazy"}` for lazy) or deny a held link. Bridge admins.',
        [room, pathParam("action", "approve or deny")],
        { type: "object", properties: { mode: { enum: ["full", "lazy"] } } },
      ),
    },
    "/v3/health": { get: op("The homeserver's reachability and every connection's state. Bridge admins.") },
    "/v3/openapi.json": { get: op("This document.") },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchboard provisioning API",
      version: "3",
      description:
        "Per-network routes follow mautrix bridgev2's provisioning v3. Authenticate with `Authorization: Bearer` " +
        "and one of: the shared secret (then `?user_id=@user:server` names the user), a Matrix access token, or " +
        "`openid:<token>` (an OpenID token from the homeserver).",
    },
    servers: [{ url: "/_matrix/provision" }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
