// irc-framework ships no TypeScript types; this declares only the parts the test suites use.
declare module "irc-framework" {
  export interface ClientOptions {
    host: string;
    port: number;
    nick: string;
    username?: string;
    gecos?: string;
    /** Defaults to true, which would hide a dropped connection behind a silent reconnect. */
    auto_reconnect?: boolean;
  }

  export interface RegisteredEvent {
    nick: string;
  }

  export interface JoinEvent {
    nick: string;
    channel: string;
  }

  /** A PRIVMSG; target is the channel, or our own nick for a private message. */
  export interface MessageEvent {
    nick: string;
    target: string;
    message: string;
    from_server: boolean;
  }

  export interface ClientEvents {
    registered: [event: RegisteredEvent];
    join: [event: JoinEvent];
    privmsg: [event: MessageEvent];
    /** The connection is gone for good (no reconnect follows); the flag tells if it was an error. */
    close: [hadError: boolean];
  }

  export class Client {
    constructor();
    readonly user: { nick: string };
    /** options holds the server's ISUPPORT (005) tokens, e.g. options.NICKLEN === "30". */
    readonly network: { readonly options: Readonly<Record<string, unknown>> };
    connect(options: ClientOptions): void;
    join(channel: string): void;
    say(target: string, message: string): void;
    quit(message?: string): void;
    on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
    off<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
  }
}
