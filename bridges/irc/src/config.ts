import { Type, type Static } from "@sinclair/typebox";
import { BridgeSectionCommon } from "@switchboard/framework";

/** One IRC network: where it is, how Matrix users appear there, and the limits to respect. */
export const IrcNetworkSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 6667 }),
    tls: Type.Boolean({ default: false }),
    /** Server password (PASS), if the network needs one. */
    password: Type.Optional(Type.String()),
    /** SASL PLAIN credentials for the bridge bot's own connection. */
    sasl: Type.Optional(
      Type.Object({ username: Type.String(), password: Type.String() }, { additionalProperties: false }),
    ),
    /** The bridge bot's nick: it listens in every bridged channel and relays for users without a puppet. */
    bot_nick: Type.String({ default: "switchboard" }),
    /** Nick of a Matrix user's puppet: {name} is their display name (sanitized). */
    nick_template: Type.String({ default: "{name}[m]" }),
    /** Ident (username) of puppets: {localpart} of the Matrix id, sanitized. */
    ident_template: Type.String({ default: "{localpart}" }),
    /** Real name of puppets: {userId} is the Matrix user id, which lets others see who it is. */
    realname_template: Type.String({ default: "{userId} (Matrix)" }),
    /** Most puppet connections at once; past it, Matrix users are relayed by the bot. */
    max_clients: Type.Integer({ minimum: 0, default: 1000 }),
    /** Puppets idle this long quit IRC quietly and come back on their next message (0: never). */
    idle_timeout_seconds: Type.Integer({ minimum: 0, default: 86400 }),
    /** Matrix user id regexes that never get a puppet (relayed by the bot instead). */
    excluded_users: Type.Array(Type.String(), { default: [] }),
    /** Mirror IRC joins/parts into Matrix, and Matrix joins into IRC (puppet joins). */
    sync_membership: Type.Object(
      {
        irc_to_matrix: Type.Boolean({ default: true }),
        matrix_to_irc: Type.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Per-connection flood protection: lines per second after a burst. */
    send_rate: Type.Object(
      {
        lines_per_second: Type.Number({ exclusiveMinimum: 0, default: 2 }),
        burst: Type.Integer({ minimum: 1, default: 5 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** First reconnect delay after a dropped connection; it doubles (with jitter) up to a minute. */
    reconnect_initial_delay_ms: Type.Integer({ minimum: 100, default: 1000 }),
    /** Connections opened at once (the server's connect throttle decides the pace, not us). */
    connect_concurrency: Type.Integer({ minimum: 1, default: 10 }),
    /** A Matrix message longer than this many IRC lines is sent as a link to a text file. */
    max_lines: Type.Integer({ minimum: 1, default: 5 }),
    /** How an edit is sent: "star" repeats the corrected line as "* new text"; "diff" sends "s/old/new/". */
    edit_style: Type.Union([Type.Literal("star"), Type.Literal("diff")], { default: "star" }),
    /** Matrix power level for channel operators' ghosts (0: do not mirror operator status). */
    ops_power_level: Type.Integer({ minimum: 0, maximum: 100, default: 50 }),
    /**
     * The way back: a Matrix user whose power level in a bridged room reaches this gets +o on
     * their puppet (given by the bridge bot, which must be a channel operator), and -o below it.
     * null: Matrix power levels are not mirrored to IRC. Ghosts' levels are never mirrored.
     */
    ops_from_power_level: Type.Union([Type.Integer({ minimum: 1, maximum: 100 }), Type.Null()], {
      default: null,
    }),
    /** Like `ops_from_power_level`, for voice (+v): null leaves voice alone. */
    voice_from_power_level: Type.Union([Type.Integer({ minimum: 1, maximum: 100 }), Type.Null()], {
      default: null,
    }),
    /**
     * Other Matrix bridges' puppets in a channel (it is bridged twice). A realname (gecos) that
     * holds a Matrix user id marks one (matrix-appservice-irc's default); so does a realname
     * pattern (a Matrix id in its first group names whom). A nick ending is only a hint: it counts
     * when a member of the room has that name, never alone.
     */
    foreign_bridges: Type.Object(
      {
        nick_hints: Type.Array(Type.String({ minLength: 1 }), { default: ["[m]", "|m", "-m"] }),
        realname_patterns: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      },
      { additionalProperties: false, default: {} },
    ),
    /**
     * IRC → Matrix flood limits (spam waves): lines per second after a burst, per IRC user in a
     * channel and per channel. Lines past them are dropped, and the room is told once per flood.
     */
    flood: Type.Object(
      {
        user_lines_per_second: Type.Number({ exclusiveMinimum: 0, default: 2 }),
        user_burst: Type.Integer({ minimum: 1, default: 20 }),
        channel_lines_per_second: Type.Number({ exclusiveMinimum: 0, default: 20 }),
        channel_burst: Type.Integer({ minimum: 1, default: 100 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Keys of +k channels. */
    channel_keys: Type.Record(Type.String(), Type.String(), { default: {} }),
    /** Only users whose puppet is a channel operator may plumb a channel. */
    plumb_ops_only: Type.Boolean({ default: false }),
    /** Raw IRC commands `!cmd` may send (upper case); admins may send any. */
    allowed_commands: Type.Array(Type.String(), { default: ["WHOIS", "MODE", "TOPIC", "INVITE", "AWAY"] }),
  },
  { additionalProperties: false },
);

export const IrcConfigSchema = Type.Object(
  {
    ...BridgeSectionCommon,
    networks: Type.Record(Type.String({ pattern: "^[a-z0-9]+$" }), IrcNetworkSchema, { default: {} }),
  },
  { additionalProperties: false },
);

export type IrcNetworkConfig = Static<typeof IrcNetworkSchema>;
export type IrcConfig = Static<typeof IrcConfigSchema>;
