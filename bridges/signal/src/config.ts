import { Type, type Static } from "@sinclair/typebox";
import { BridgeSectionCommon } from "@switchboard/framework";

/**
 * The zkgroup ServerPublicParams of Signal's production service, as Signal's apps ship them
 * (Signal-iOS `TSConstants`, Signal-Desktop's production config): a public value that lets a
 * client verify the groups service's credentials. 673 bytes in libsignal 0.103's format.
 */
const PRODUCTION_ZKGROUP_PUBLIC_PARAMS =
  "AMhf5ywVwITZMsff/eCyudZx9JDmkkkbV6PInzG4p8x3VqVJSFiMvnvlEKWuRob/1eaIetR31IYeAbm0NdOuHH8Qi+Rexi1wLlpzIo1gstHWBfZzy1+qHRV5A4TqPp15YzBPm0WSggW6PbSn+F4lf57VCnHF7p8SvzAA2ZZJPYJURt8X7bbg+H3i+PEjH9DXItNEqs2sNcug37xZQDLm7X36nOoGPs54XsEGzPdEV+itQNGUFEjY6X9Uv+Acuks7NpyGvCoKxGwgKgE5XyJ+nNKlyHHOLb6N1NuHyBrZrgtY/JYJHRooo5CEqYKBqdFnmbTVGEkCvJKxLnjwKWf+fEPoWeQFj5ObDjcKMZf2Jm2Ae69x+ikU5gBXsRmoF94GXTLfN0/vLt98KDPnxwAQL9j5V1jGOY8jQl6MLxEs56cwXN0dqCnImzVH3TZT1cJ8SW1BRX6qIVxEzjsSGx3yxF3suAilPMqGRp4ffyopjMD1JXiKR2RwLKzizUe5e8XyGOy9fplzhw3jVzTRyUZTRSZKkMLWcQ/gv0E4aONNqs4P+NameAZYOD12qRkxosQQP5uux6B2nRyZ7sAV54DgFyLiRcq1FvwKw2EPQdk4HDoePrO/RNUbyNddnM/mMgj4FW65xCoT1LmjrIjsv/Ggdlx46ueczhMgtBunx1/w8k8V+l8LVZ8gAT6wkU5J+DPQalQguMg12Jzug3q4TbdHiGCmD9EunCwOmsLuLJkz6EcSYXtrlDEnAM+hicw7iergYLLlMXpfTdGxJCWJmP4zqUFeTTmsmhsjGBt7NiEB/9pFFEB3pSbf4iiUukw63Eo8Aqnf4iwob6X1QviCWuc8t0LUlT9vALgh/f2DPVOOmR0RW6bgRvc7DSF20V/omg+YBw==";

/**
 * Where Signal is. The defaults are Signal's production service; every endpoint, the TLS root,
 * the sealed-sender trust root and the zkgroup public params can be replaced so a staging or
 * test server (Signal's own mock server in our suites) stands in.
 */
export const SignalServiceSchema = Type.Object(
  {
    environment: Type.Union([Type.Literal("production"), Type.Literal("staging"), Type.Literal("local")], {
      default: "production",
      description:
        "production or staging: Signal's own chat service (libsignal knows its hosts); local: a chat service on localhost:local_port (a test server)",
    }),
    local_port: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 65535,
        description: "environment local: the chat service's TLS port",
      }),
    ),
    root_certificate: Type.Optional(
      Type.String({
        pattern: "BEGIN CERTIFICATE",
        description:
          "PEM of the CA the local chat service, CDNs and storage service are signed by (default: system roots)",
      }),
    ),
    cdn_urls: Type.Record(Type.String({ pattern: "^[0-9]+$" }), Type.String({ pattern: "^https://" }), {
      default: {
        "0": "https://cdn.signal.org",
        "2": "https://cdn2.signal.org",
        "3": "https://cdn3.signal.org",
      },
      description: "Attachment CDNs by number",
    }),
    storage_url: Type.String({
      pattern: "^https://",
      default: "https://storage.signal.org",
      description: "The storage service (groups v2)",
    }),
    trust_roots: Type.Array(Type.String({ minLength: 44 }), {
      default: ["BXu6QIKVz5MA8gstzfOgRQGqyLqOwNKHL6INkv3IHWMF"],
      minItems: 1,
      description:
        "Base64 public keys that sign sealed-sender server certificates (Signal's production root by default)",
    }),
    zkgroup_public_params: Type.String({
      minLength: 100,
      // Signal's production groups service's public parameters (what Signal's own apps ship).
      default: PRODUCTION_ZKGROUP_PUBLIC_PARAMS,
      description:
        "Base64 zkgroup ServerPublicParams of the groups service (Signal's production value by default; staging and test servers have their own)",
    }),
    link_username: Type.Union([Type.Literal("aci"), Type.Literal("number")], {
      default: "number",
      description:
        "Who the device-link request names: Signal's service takes the phone number, Signal's mock server the ACI",
    }),
  },
  { additionalProperties: false, default: {} },
);

export const SignalConfigSchema = Type.Object(
  {
    ...BridgeSectionCommon,
    device_name: Type.String({
      minLength: 1,
      maxLength: 50,
      default: "Switchboard",
      description: "The linked device's name, as the phone lists it under Linked devices",
    }),
    service: SignalServiceSchema,
    prekeys: Type.Object(
      {
        refill_below: Type.Integer({
          minimum: 1,
          default: 10,
          description: "Upload more one-time keys below this count",
        }),
        batch: Type.Integer({
          minimum: 5,
          maximum: 100,
          default: 100,
          description: "One-time keys uploaded at once",
        }),
        rotate_days: Type.Integer({
          minimum: 1,
          default: 2,
          description: "Signed and last-resort keys are replaced this often",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    link_timeout_seconds: Type.Integer({
      minimum: 30,
      default: 300,
      description: "How long `login signal` keeps refreshing its QR code before giving up",
    }),
    redact_expired: Type.Boolean({
      default: true,
      description: "Redact the Matrix copies of disappearing messages when their timer runs out",
    }),
  },
  { additionalProperties: false },
);

export type SignalConfig = Static<typeof SignalConfigSchema>;
export type SignalServiceConfig = Static<typeof SignalServiceSchema>;
