import { Type, type Static } from "@sinclair/typebox";

/**
 * The config schema, written once: the TypeScript type (`Config`), validation with
 * key paths (ajv, in load.ts) and the defaults all come from here. `config.example.yaml`
 * documents every key; a unit test keeps the two in step.
 */

const Permission = Type.Union([
  Type.Literal("block"),
  Type.Literal("relay"),
  Type.Literal("user"),
  Type.Literal("admin"),
]);
export type Permission = Static<typeof Permission>;

/** Keys every bridge section has; connectors add their own keys beside these. */
export const BridgeSectionCommon = {
  enabled: Type.Boolean({ default: false, description: "Run this bridge" }),
  user_prefix: Type.Optional(
    Type.String({ pattern: "^[a-z0-9._=/-]+$", description: "Ghost localpart prefix; default '<network>_'" }),
  ),
  alias_prefix: Type.Optional(
    Type.String({ pattern: "^[a-z0-9._=/-]+$", description: "Portal alias prefix; default '<network>_'" }),
  ),
  activation_limit: Type.Optional(
    Type.Integer({ minimum: 0, description: "Overrides guards.activation_limit for this network" }),
  ),
  activation_exempt: Type.Array(Type.String(), {
    default: [],
    description: "Channel ids that skip the activation guard",
  }),
  history_import: Type.String({
    default: "1000 messages",
    pattern: "^(off|all|[1-9][0-9]{0,8} ?(messages?|days?))$",
    description:
      "History a new portal starts with, where the network has it: off, 'N messages' (the newest N), 'N days', or all the network returns",
  }),
  portals_from_logins: Type.Union([Type.Literal("eager"), Type.Literal("lazy"), Type.Literal("off")], {
    default: "eager",
    description:
      "Chats a logged-in user is in on the network: eager makes their portal when the login joins (a few per minute at most, the rest lazily), lazy on the chat's first message, off never (join by alias or link)",
  }),
};

export const ConfigSchema = Type.Object(
  {
    homeserver: Type.Object(
      {
        url: Type.String({ format: "uri", pattern: "^https?://" }),
        domain: Type.String({ minLength: 1, pattern: "^[A-Za-z0-9.:\\-\\[\\]]+$" }),
        /** Deprecated: links went to the homeserver, which now wants a token (authenticated media). */
        media_url: Type.Optional(Type.String({ format: "uri", pattern: "^https?://" })),
        retry_interval_ms: Type.Integer({ minimum: 100, default: 5000 }),
      },
      { additionalProperties: false },
    ),
    appservice: Type.Object(
      {
        id: Type.String({ minLength: 1, default: "switchboard" }),
        bind: Type.String({ default: "127.0.0.1" }),
        port: Type.Integer({ minimum: 1, maximum: 65535, default: 9000 }),
        url: Type.Optional(Type.String({ format: "uri", pattern: "^https?://" })),
        registration: Type.String({ minLength: 1, default: "registration.yaml" }),
        bot: Type.Object(
          {
            localpart: Type.String({ pattern: "^[a-z0-9._=/-]+$", default: "switchboard" }),
            displayname: Type.String({ default: "Switchboard bridge" }),
            avatar: Type.Optional(Type.String({ pattern: "^mxc://" })),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    media: Type.Object(
      {
        public_url: Type.Optional(Type.String({ format: "uri", pattern: "^https?://" })),
        bind: Type.Optional(Type.String({ minLength: 1 })),
        port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
        link_lifetime_days: Type.Number({ minimum: 0, default: 0 }),
      },
      { additionalProperties: false, default: {} },
    ),
    store: Type.Object(
      {
        type: Type.Union([Type.Literal("nedb"), Type.Literal("postgres"), Type.Literal("mongodb")], {
          default: "nedb",
        }),
        /** nedb: its datafiles. All: where a generated credentials key file goes. */
        path: Type.String({ minLength: 1, default: "./data" }),
        /** postgres and mongodb: the database; its scheme is checked per type below. */
        url: Type.Optional(Type.String({ minLength: 1 })),
        message_retention_days: Type.Number({ minimum: 0, default: 90 }),
      },
      {
        additionalProperties: false,
        default: {},
        // One object with conditionals rather than a union: ajv fills defaults only outside
        // anyOf/oneOf, and the default (nedb, ./data) must apply to a config without a store section.
        allOf: [
          {
            if: { required: ["type"], properties: { type: { const: "postgres" } } },
            then: {
              required: ["url"],
              properties: { url: { pattern: "^postgres(ql)?://" } },
              description: "a postgres store needs url: postgres://user:password@host:5432/database",
            },
          },
          {
            if: { required: ["type"], properties: { type: { const: "mongodb" } } },
            then: {
              required: ["url"],
              properties: { url: { pattern: "^mongodb(\\+srv)?://" } },
              description: "a mongodb store needs url: mongodb://user:password@host:27017/database",
            },
          },
        ],
      },
    ),
    encryption: Type.Object(
      {
        key: Type.Optional(Type.String({ minLength: 32 })),
        key_file: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false, default: {} },
    ),
    permissions: Type.Record(Type.String(), Permission, { default: { "*": "relay" } }),
    admins: Type.Array(Type.String({ pattern: "^@[^:]+:.+$" }), { default: [] }),
    double_puppet: Type.Object(
      {
        secrets: Type.Record(Type.String(), Type.String({ minLength: 1 }), { default: {} }),
      },
      { additionalProperties: false, default: {} },
    ),
    metrics: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        bind: Type.String({ default: "127.0.0.1" }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 9001 }),
      },
      { additionalProperties: false, default: {} },
    ),
    provisioning: Type.Object(
      {
        // Off by default: it can log users in and link rooms, so an admin turns it on knowingly.
        enabled: Type.Boolean({ default: false }),
        bind: Type.String({ default: "127.0.0.1" }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 9002 }),
        shared_secret: Type.Optional(
          Type.String({
            minLength: 16,
            description:
              "Bearer secret for integration managers (with ?user_id=); at least 16 characters. Leave it out to accept only Matrix tokens.",
          }),
        ),
        /** How long a checked Matrix access token is trusted before it is asked about again. */
        token_cache_seconds: Type.Number({ minimum: 0, default: 60 }),
        /** Where the admin console's "take a backup" writes (relative to the config file). */
        backup_dir: Type.String({ minLength: 1, default: "./backups" }),
      },
      { additionalProperties: false, default: {} },
    ),
    logging: Type.Object(
      {
        level: Type.Union(
          ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => Type.Literal(l)),
          { default: "info" },
        ),
        // auto: readable lines on a terminal, JSON when piped or under systemd (for log shippers).
        format: Type.Union([Type.Literal("auto"), Type.Literal("json"), Type.Literal("pretty")], {
          default: "auto",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    startup: Type.Object(
      {
        network_timeout_seconds: Type.Number({ exclusiveMinimum: 0, default: 60 }),
        login_concurrency: Type.Integer({ minimum: 1, default: 8 }),
        login_timeout_seconds: Type.Number({ exclusiveMinimum: 0, default: 30 }),
      },
      { additionalProperties: false, default: {} },
    ),
    guards: Type.Object(
      {
        activation_limit: Type.Integer({ minimum: 0, default: 100 }),
        ghost_rate_per_second: Type.Number({ exclusiveMinimum: 0, default: 20 }),
        double_bridge_check: Type.Boolean({ default: true }),
        other_bridges: Type.Union([Type.Literal("refuse"), Type.Literal("warn")], { default: "refuse" }),
        foreign_puppet_patterns: Type.Array(Type.String(), { default: [] }),
        foreign_remote_puppets: Type.Union([Type.Literal("drop"), Type.Literal("bridge")], {
          default: "drop",
        }),
        echo_window_seconds: Type.Number({ exclusiveMinimum: 0, default: 30 }),
        echo_threshold: Type.Integer({ minimum: 1, default: 3 }),
        receipt_debounce_ms: Type.Integer({ minimum: 0, default: 500 }),
      },
      { additionalProperties: false, default: {} },
    ),
    moderation: Type.Object(
      {
        policy_rooms: Type.Array(
          Type.String({
            pattern: "^[!#][^:]+:.+$",
            description: "a policy room's id (!abc:example.org) or alias (#bans:example.org)",
          }),
          {
            default: [],
            description: "Matrix policy rooms (Draupnir/Mjolnir ban lists) the bot joins and follows",
          },
        ),
        max_ban_share: Type.Number({
          exclusiveMinimum: 0,
          maximum: 1,
          default: 0.2,
          description:
            "A rule matching more than this share of active users (members of bridged rooms) waits for an admin's `moderation confirm`",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    bridges: Type.Record(
      Type.String({ pattern: "^[a-z][a-z0-9]*$" }),
      Type.Object(BridgeSectionCommon, { additionalProperties: true }),
      { default: {} },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type BridgeSection = Config["bridges"][string];
