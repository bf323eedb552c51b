// irc-framework ships no TypeScript types; this declares only the parts the test suites use.
declare module "irc-framework" {
  export interface ClientOptions {
    host: string;
    port: number;
    nick: string;
    username?: string;
    gecos?: string;
    encoding?: string;
    auto_reconnect?: boolean;
    auto_reconnect_max_retries?: number;
    ping_interval?: number;
    ping_timeout?: number;
    message_max_length?: number;
  }

  export interface RegisteredEvent {
    nick: string;
  }

  export interface JoinEvent {
    nick: string;
    ident: string;
    hostname: string;
    channel: string;
    gecos: string;
  }

  /** A PRIVMSG; target is the channel, or our own nick for a private message. */
  export interface MessageEvent {
    nick: string;
    ident: string;
    hostname: string;
    target: string;
    message: string;
    from_server: boolean;
    tags: Record<string, string>;
  }

  /** Numeric error replies (e.g. 403 no such channel), already decoded. */
  export interface IrcErrorEvent {
    error: string;
    channel?: string;
    nick?: string;
    reason: string;
  }

  export interface ClientEvents {
    registered: [event: RegisteredEvent];
    join: [event: JoinEvent];
    privmsg: [event: MessageEvent];
    "irc error": [event: IrcErrorEvent];
    /** The connection is gone for good (no reconnect follows); the flag tells if it was an error. */
    close: [hadError: boolean];
  }

  export class Client {
    constructor(options?: Partial<ClientOptions>);
    readonly user: { nick: string; username: string; gecos: string };
    connect(options?: ClientOptions): void;
    join(channel: string, key?: string): void;
    say(target: string, message: string): void;
    quit(message?: string): void;
    on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
    once<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
    off<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): this;
  }
}
