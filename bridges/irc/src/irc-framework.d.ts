// irc-framework ships no TypeScript types; this declares the parts Switchboard uses
// (the IRC bridge and the test suites), so no `any` leaks out of the library.
declare module "irc-framework" {
  export interface ClientOptions {
    host: string;
    port: number;
    nick: string;
    username?: string;
    gecos?: string;
    password?: string;
    tls?: boolean;
    rejectUnauthorized?: boolean;
    account?: { account: string; password: string };
    encoding?: string;
    /** Defaults to true, which would hide a dropped connection behind a silent reconnect. */
    auto_reconnect?: boolean;
    ping_interval?: number;
    ping_timeout?: number;
    enable_chghost?: boolean;
    enable_echomessage?: boolean;
  }

  export interface RegisteredEvent {
    nick: string;
  }
  export interface UserRef {
    nick: string;
    ident?: string;
    hostname?: string;
  }
  export interface JoinEvent extends UserRef {
    channel: string;
    gecos?: string;
    account?: string | false;
  }
  export interface PartEvent extends UserRef {
    channel: string;
    message?: string;
  }
  export interface QuitEvent extends UserRef {
    message?: string;
  }
  export interface KickEvent extends UserRef {
    kicked: string;
    channel: string;
    message?: string;
  }
  export interface NickEvent extends UserRef {
    new_nick: string;
  }
  /** A PRIVMSG, NOTICE or CTCP ACTION; target is the channel, or our own nick for a private message. */
  export interface MessageEvent extends UserRef {
    target: string;
    message: string;
    from_server: boolean;
    time?: number;
  }
  export interface TopicEvent {
    channel: string;
    topic: string;
    nick?: string;
  }
  export interface UserlistEvent {
    channel: string;
    users: Array<UserRef & { modes: string[] }>;
  }
  export interface ModeEvent {
    target: string;
    nick?: string;
    modes: Array<{ mode: string; param?: string | null }>;
  }
  export interface InviteEvent extends UserRef {
    /** Who is invited (our nick when it is us). */
    invited: string;
    channel: string;
  }
  export interface BanlistEvent {
    channel: string;
    bans: Array<{ channel: string; banned: string; banned_by?: string; banned_at?: string }>;
  }
  export interface IrcErrorEvent {
    error: string;
    channel?: string;
    nick?: string;
    reason?: string;
  }
  export interface WhoisResult {
    nick: string;
    ident?: string;
    hostname?: string;
    real_name?: string;
    server?: string;
    channels?: string;
    idle?: number;
    account?: string;
    error?: string;
  }

  /** The answer to a WHO (a channel's members, or one nick: empty when nobody has it). */
  export interface WhoListEvent {
    target: string;
    users: Array<UserRef & { real_name?: string; channel?: string }>;
  }
  /** RPL_CHANNELMODEIS (modes) or RPL_CREATIONTIME (created_at), answers to `MODE #channel`. */
  export interface ChannelInfoEvent {
    channel: string;
    modes?: Array<{ mode: string; param?: string | null }>;
    created_at?: number;
  }

  export interface ClientEvents {
    wholist: [event: WhoListEvent];
    "channel info": [event: ChannelInfoEvent];
    registered: [event: RegisteredEvent];
    join: [event: JoinEvent];
    part: [event: PartEvent];
    quit: [event: QuitEvent];
    kick: [event: KickEvent];
    nick: [event: NickEvent];
    privmsg: [event: MessageEvent];
    notice: [event: MessageEvent];
    action: [event: MessageEvent];
    topic: [event: TopicEvent];
    userlist: [event: UserlistEvent];
    mode: [event: ModeEvent];
    invite: [event: InviteEvent];
    banlist: [event: BanlistEvent];
    "nick in use": [event: { nick: string; reason: string }];
    "nick invalid": [event: { nick: string; reason: string }];
    "irc error": [event: IrcErrorEvent];
    /** The connection is gone for good (no reconnect follows); the flag tells if it was an error. */
    close: [hadError: boolean];
    "socket close": [err?: unknown];
    /** Every line, either way; `from_server` tells which. */
    raw: [event: { line: string; from_server: boolean }];
  }

  export class Client {
    constructor(options?: Partial<ClientOptions>);
    readonly user: { nick: string; username?: string };
    /** options holds the server's ISUPPORT (005) tokens, e.g. options.NICKLEN === "30". */
    readonly network: {
      readonly options: Readonly<Record<string, unknown>>;
      supports(feature: string): unknown;
      readonly cap: { isEnabled(name: string): boolean };
    };
    readonly connected: boolean;
    connect(options?: ClientOptions): void;
    join(channel: string, key?: string): void;
    part(channel: string, message?: string): void;
    say(target: string, message: string): void;
    notice(target: string, message: string): void;
    action(target: string, message: string): void;
    changeNick(nick: string): void;
    raw(...args: string[]): void;
    whois(nick: string, cb: (result: WhoisResult) => void): void;
    quit(message?: string): void;
    caseLower(s: string): string;
    on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
    off<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
    removeAllListeners(): this;
  }
}
