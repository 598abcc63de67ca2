/**
 * Sessions: the server's view of one protocol connection, as a service inside
 * request handlers.
 *
 * A session has the connection's id and addresses, typed per-connection state
 * ({@link SessionState}), the groups it belongs to, and `push` to send it an
 * unsolicited message. Handlers get it as `context.session` (typed with the
 * protocol's push type) or as the {@link Session} service (push untyped).
 *
 * @example
 * ```ts
 * import { Session } from "@wirekit/core"
 * import { Effect } from "effect"
 *
 * const Nick = Session.state<string>("nick", () => "anonymous")
 *
 * const rename = (name: string) => Effect.gen(function* () {
 *   const old = yield* Nick.get
 *   yield* Nick.set(name)
 *   const session = yield* Session.Session
 *   yield* Effect.logInfo(`connection ${session.id}: ${old} is now ${name}`)
 * })
 * ```
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import type { Address } from "./Address.ts"
import type { Connection } from "./Connection.ts"
import type { TlsError, TlsServerOptions } from "./Tls.ts"

/**
 * One protocol connection, on the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Session<Push = unknown> {
  /** The connection id (process-unique, increasing). */
  readonly id: number
  /** The peer's address: the real client's when a trusted PROXY-protocol header named it. */
  readonly remoteAddress: Address
  /** The address the peer connected to. */
  readonly localAddress: Address
  /** The protocol's name. */
  readonly protocol: string
  /** The underlying connection (stats, raw access). */
  readonly connection: Connection
  /** True until the connection starts closing. */
  readonly isOpen: () => boolean
  /**
   * Sends an unsolicited message. Never waits: the frame is written with the
   * current batch or at the end of the turn. `false` when it was not sent:
   * the connection is closing, the message did not encode (logged), or the
   * peer is too slow (over the server's `maxWriteBuffer`; the connection is
   * then closed).
   */
  push(message: Push): Effect.Effect<boolean>
  /** {@link Session.push} as a plain call. */
  unsafePush(message: Push): boolean
  /** Reads per-connection state (its initial value on first use). */
  get<A>(state: SessionState<A>): A
  /** Writes per-connection state. */
  set<A>(state: SessionState<A>, value: A): void
  /** The groups this session belongs to. */
  readonly groups: () => ReadonlyArray<string>
  /** Requests and one-way messages being handled right now on this connection. */
  readonly inFlight: () => number
  /**
   * Closes the connection gracefully: stops reading, lets requests in flight
   * finish and their responses go out, then closes.
   */
  readonly close: Effect.Effect<void>
  /** Starts {@link Session.close} and returns at once (safe inside a handler of this session). */
  unsafeClose(): void
  /**
   * Upgrades this connection to TLS (STARTTLS), as the TLS server, once the
   * message being handled is answered: call it from the handler of the
   * upgrade command, which then returns its plain-text reply (e.g. `220
   * Ready to start TLS`). Succeeds at once when the upgrade is scheduled;
   * fails (a `TlsError`, and nothing changes, so the handler can answer
   * "not available") when the transport cannot upgrade (`ENOTSUP`), the
   * connection is already TLS or upgrading (`EALREADY`) or closing
   * (`ENOTCONN`), or when called after the handler first waited (`EINVAL`:
   * by then later messages may have been handled).
   *
   * Then the server: handles no further message of the current read (the
   * peer sent them in plain text after the upgrade command: they are
   * discarded and logged, never handled as if they had come over TLS), waits
   * until every earlier message is answered, sends the replies in plain text,
   * upgrades (`connection.startTls`: bytes received and not read are
   * discarded too; the handshake timeout applies), and reads on through TLS
   * with a fresh `protocol.server(session)` codec, as on a new connection
   * (session state is kept). `connection.tls` then tells the session. A failed
   * handshake closes only this connection (logged at debug level).
   *
   * @example
   * ```ts
   * const handler = (command: Command, { session }: RequestContext) =>
   *   command._tag === "StartTls"
   *     ? session.startTls({ certificates }).pipe(
   *       Effect.as("220 Ready to start TLS"),
   *       Effect.orElseSucceed(() => "454 TLS not available")
   *     )
   *     : answer(command)
   * ```
   */
  startTls(options: TlsServerOptions): Effect.Effect<void, TlsError>
}

/**
 * The current session, as a service inside request handlers and connection
 * middleware. Its `push` accepts `unknown`: prefer the typed
 * `context.session` a handler receives.
 *
 * ```ts
 * const whoAmI = Effect.map(Session.Session, (s) => `connection ${s.id} from ${Address.format(s.remoteAddress)}`)
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Session: Context.Tag<Session, Session> = Context.GenericTag<Session>("@wirekit/core/Session")

/**
 * A typed slot of per-connection state, created once (module level) and
 * read/written per session. The initial value is computed lazily per
 * session.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionState<A> {
  /** A name for the slot, for debugging (slots are told apart by identity, not by name). */
  readonly name: string
  /** The value a session starts with, computed on its first read. */
  readonly initial: () => A
  /** The value for the current session. */
  readonly get: Effect.Effect<A, never, Session>
  /** Sets the value for the current session. */
  readonly set: (value: A) => Effect.Effect<void, never, Session>
  /** Updates the value for the current session, returning the new one. */
  readonly update: (f: (a: A) => A) => Effect.Effect<A, never, Session>
}

/**
 * Creates a {@link SessionState} slot.
 *
 * @example
 * ```ts
 * const Counter = Session.state("counter", () => 0)
 * const next = Counter.update((n) => n + 1)  // Effect<number, never, Session>
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const state = <A>(name: string, initial: () => A): SessionState<A> => {
  const self: SessionState<A> = {
    name,
    initial,
    get: Effect.map(Session, (s) => s.get(self)),
    set: (value) => Effect.map(Session, (s) => s.set(self, value)),
    update: (f) =>
      Effect.map(Session, (s) => {
        const next = f(s.get(self))
        s.set(self, next)
        return next
      })
  }
  return self
}
