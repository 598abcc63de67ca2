/**
 * The adapter contract: what a runtime package implements to become a wirekit
 * transport. An adapter wraps one native socket in a {@link SocketDriver} and
 * forwards the socket's events to the {@link SocketEvents} the core hands it;
 * the core then provides buffering, backpressure, EOF, typed errors and close
 * semantics identically on every runtime.
 *
 * ```
 *  native socket ──events──▶ SocketEvents ─┐
 *                                          ├─ core Connection ──▶ user
 *  native socket ◀──calls─── SocketDriver ─┘
 * ```
 *
 * @example
 * ```ts
 * // sketch of an adapter's accept path
 * const conn = Driver.makeConnection({ localAddress, remoteAddress, options }, (events) => {
 *   socket.on("data", (b) => events.data(b))
 *   socket.on("end", () => events.readEnd())
 *   socket.on("drain", () => events.drain())
 *   socket.on("close", () => events.closedByRuntime())
 *   return { write: (b) => socket.write(b), ... }
 * })
 * ```
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { Address } from "./Address.ts"
import type { Connection, ConnectionError, ConnectionErrorReason, ConnectionOptions } from "./Connection.ts"
import { ConnectionImpl } from "./internal/connection.ts"
import * as connectTimeout from "./internal/connectTimeout.ts"
import { ListenerImpl, refusalOf } from "./internal/listener.ts"
import * as socketWriter from "./internal/socketWriter.ts"
import type { StartTlsOptions, TlsError, TlsInfo } from "./Tls.ts"
import type { ConnectError, Listener, ListenError, ListenOptions } from "./Transport.ts"

/**
 * Actions on a native socket, implemented by an adapter. All are synchronous and must not throw.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketDriver {
  /**
   * Hands bytes to the runtime (which must keep them, in order, until sent).
   * Returns `false` when the runtime's unsent bytes are at or past the write
   * high-water mark: the core then waits for {@link SocketEvents.drain}.
   */
  write(data: Uint8Array): boolean
  /** Like `write` for several chunks at once (one syscall where possible). */
  writev(chunks: ReadonlyArray<Uint8Array>): boolean
  /** Stop reading from the OS (read backpressure). */
  pause(): void
  /** Resume reading from the OS. */
  resume(): void
  /** Half-close after every byte written so far is flushed; `done` once the FIN is sent (or with the error). */
  end(done: (error?: ConnectionError) => void): void
  /** Release the socket now (graceful if already ended). Must lead to `closedByRuntime`. */
  destroy(): void
  /** Reset (RST) and release. Must lead to `closedByRuntime`. */
  reset(): void
  /**
   * Bytes written but not yet taken by the OS. When it is `0` the adapter must
   * hold no reference to any array passed to `write`/`writev` (callers reuse
   * their memory on that promise).
   */
  writeBuffered(): number
  /**
   * Upgrades the socket to TLS in place (STARTTLS; `Connection.startTls`).
   * Optional: without it, `startTls` fails with a `TlsError` of code
   * `ENOTSUP`.
   *
   * The core calls it at most once, after `pause()`, once it has discarded
   * the bytes it had received and not delivered and every byte written so far
   * has been sent (`writeBuffered() === 0`). The adapter starts the handshake
   * on the same socket at once and returns the driver of the TLS stream (the
   * core uses it from then on, for `reset` and `destroy` too), whose events go
   * to the same {@link SocketEvents}; the old socket must no longer report
   * `data`. Bytes the runtime has received and not yet reported (they came
   * after `pause()`) belong to the peer's handshake: they go to TLS, never to
   * `data`. `done` is called once: with the session when the handshake
   * succeeded (reading then flows as after `resume()`), or with the typed
   * failure (the core then resets the connection). It must not throw: a
   * failure to start is `done(error)`, the current driver returned.
   */
  startTls?(options: StartTlsOptions, done: (outcome: TlsInfo | TlsError) => void): SocketDriver
}

/**
 * Events an adapter reports to the core.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketEvents {
  /**
   * Bytes arrived. The core keeps the array (no copy): the adapter must not
   * reuse it, unless {@link SocketEvents.borrows} said `true` just before.
   */
  data(chunk: Uint8Array): void
  /**
   * Whether a `data` call made now lends the chunk rather than giving it: the
   * consumer reads with `pump(..., { borrow: true })` and uses the chunk only
   * during the call, except through writes on this same socket made during
   * it. An adapter that reads into memory it owns may then reuse that memory
   * once `data` has returned AND every byte handed to its `write`/`writev` up
   * to that moment has been sent. Adapters that always get fresh memory from
   * their runtime can ignore it.
   */
  borrows(): boolean
  /** The peer ended its side (FIN). */
  readEnd(): void
  /** The runtime reported an error on the socket. */
  error(reason: ConnectionErrorReason, code?: string, cause?: unknown): void
  /** Unsent bytes fell below the write high-water mark again. */
  drain(): void
  /** The socket is fully closed and released. */
  closedByRuntime(): void
}

/**
 * What the core must know to build a connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionInfo {
  readonly localAddress: Address
  readonly remoteAddress: Address
  readonly options?: ConnectionOptions | undefined
  /** The session of a TLS connection (its handshake done); becomes `connection.tls`. */
  readonly tls?: TlsInfo | undefined
}

/**
 * Builds a core {@link Connection} around a native socket. `open` receives the
 * events sink (wire the socket's events to it) and returns the driver.
 *
 * A runtime may report no address for a socket the peer reset before it was
 * set up (Bun then has `remoteAddress === undefined`): such an address becomes
 * the unspecified one (`0.0.0.0:0`), so every connection has a usable address
 * and the reset shows up as ordinary traffic on the connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeConnection = (info: ConnectionInfo, open: (events: SocketEvents) => SocketDriver): Connection => {
  const conn = new ConnectionImpl(usable(info.localAddress), usable(info.remoteAddress), info.options, info.tls)
  conn.attach(open(conn))
  return conn
}

const unspecified: Address = { host: "0.0.0.0", port: 0 }

const usable = (a: Address | undefined): Address => {
  if (a === undefined || a === null) return unspecified
  if ("path" in a) return typeof a.path === "string" ? a : { path: "" }
  const host = typeof a.host === "string" && a.host !== "" ? a.host : undefined
  const port = typeof a.port === "number" && Number.isFinite(a.port) ? a.port : 0
  if (host === undefined) return { host: unspecified.host, port }
  return port === a.port ? a : { host, port }
}

/**
 * What an adapter provides to build a listener.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerInfo {
  /** The bound address (the real port for port 0). */
  readonly address: Address
  /** Accepted connections waiting for `accept` past which new ones are closed at once. */
  readonly acceptQueue?: number | undefined
  /** Stop listening at the OS level. Called once. */
  readonly close: () => void
  /**
   * The listen's options, for those the core implements on every transport
   * (`proxyProtocol`). Options it refuses fail the listen in
   * {@link scopedListener}.
   */
  readonly options?: ListenOptions | undefined
}

/**
 * The adapter's handle on a listener: offer accepted connections to it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerHandle {
  readonly listener: Listener
  /** Queue an accepted connection; returns false (and closes it) when the queue is full or the listener closed. */
  readonly offer: (conn: Connection) => boolean
  /** Connections queued and not yet accepted. */
  readonly pending: () => number
  /** Register a callback run each time `accept` takes a connection (memory transport uses it for its backlog). */
  readonly onAccept: (f: () => void) => void
}

/**
 * Builds a core listener around an adapter's native listening socket.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeListener = (info: ListenerInfo): ListenerHandle => {
  const impl = new ListenerImpl(info.address, info.acceptQueue, info.close, info.options)
  return {
    listener: impl,
    offer: (conn) => impl.offer(conn),
    pending: () => impl.pending(),
    onAccept: (f) => impl.onAccept(f)
  }
}

/**
 * Acquires a listener in a scope: closes it when the scope closes. A
 * listener whose options the core refused (see {@link ListenerInfo.options})
 * is closed at once and the listen fails with the `ListenError`.
 *
 * @since 0.1.0
 * @category utils
 */
export const scopedListener = <E>(
  acquire: Effect.Effect<ListenerHandle, E>
): Effect.Effect<Listener, E | ListenError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(Effect.interruptible(Effect.flatMap(acquire, refuseBadOptions)), (h) => h.listener.close),
    (h) => h.listener
  )

const refuseBadOptions = (handle: ListenerHandle): Effect.Effect<ListenerHandle, ListenError> => {
  const refusal = refusalOf(handle.listener)
  return refusal === undefined ? Effect.succeed(handle) : Effect.zipRight(handle.listener.close, Effect.fail(refusal))
}

/**
 * Acquires a connection in a scope: closes it gracefully when the scope closes.
 *
 * @since 0.1.0
 * @category utils
 */
export const scopedConnection = <E>(acquire: Effect.Effect<Connection, E>): Effect.Effect<Connection, E, Scope.Scope> =>
  // the acquire stays interruptible so that a connect timeout or an interrupt can stop it
  Effect.acquireRelease(Effect.interruptible(acquire), (c) => c.close)

// ---------------------------------------------------------------------------
// Helpers for adapters whose runtime does not buffer writes
// ---------------------------------------------------------------------------

/**
 * How a {@link SocketWriter} reaches the native socket. Implemented by an
 * adapter; no method may throw.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export interface WriteTarget {
  /**
   * Offers `length` bytes of `data` from `offset` to the runtime. Returns
   * - a number, for a runtime that takes what the OS accepts now and buffers
   *   nothing: how many bytes it took (the rest stays queued until the
   *   adapter calls {@link SocketWriter.writable}), or a negative number when
   *   the socket is already gone;
   * - a promise, for a runtime that writes asynchronously: the number of bytes
   *   written (the writer starts no other send until it settles), or a
   *   rejection with the I/O error.
   *
   * The runtime may keep `data` only until it reports the bytes as taken.
   */
  send(data: Uint8Array, offset: number, length: number): number | PromiseLike<number>
  /** Half-closes the socket (FIN); a promise when the runtime reports the outcome later. */
  shutdown(): void | PromiseLike<void>
  /**
   * An asynchronous send or shutdown failed (or a send took no bytes): report
   * the error to the core, {@link SocketWriter.close} the writer and release
   * the socket. Without it the writer reports the error itself (its reason
   * mapped from the cause's `code`) and closes.
   */
  failed?(cause: unknown): void
  /** Called once the FIN is sent, after the end callbacks. */
  finished?(): void
}

/**
 * Options of {@link makeSocketWriter}; missing ones take the core's defaults.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export interface SocketWriterOptions {
  /** Put in the errors given to `end` callbacks. */
  readonly remoteAddress?: Address | undefined
  /** Queued bytes at or past which `write` returns `false` until `drain`. */
  readonly writeHighWaterMark?: number | undefined
  /** When `false`, {@link SocketWriter.peerEnded} ends our side too. */
  readonly allowHalfOpen?: boolean | undefined
}

/**
 * Why a socket closed, for {@link SocketWriter.close}.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export interface SocketFailure {
  readonly reason: ConnectionErrorReason
  readonly code?: string | undefined
  readonly cause?: unknown
}

/**
 * The write half of a {@link SocketDriver} for a runtime that does not queue
 * writes itself: it holds, in order, the bytes the runtime has not taken yet
 * (only the chunks the core handed it, small ones merged into one send), says
 * `false` from `write` at or past the write high-water mark and reports
 * `drain` once below it again, sends the FIN only after the last queued byte
 * (`end`), and emulates `allowHalfOpen: false`. Every byte it holds counts in
 * `writeBuffered()`; at `0` it holds no reference to any chunk. It starts no
 * timer.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export interface SocketWriter extends Pick<SocketDriver, "write" | "writev" | "end" | "writeBuffered"> {
  /** Bytes the runtime has taken so far (monotonic). */
  readonly written: number
  /** An end was requested (by the core, or by {@link peerEnded}): writes are now late. */
  readonly ending: boolean
  /** The FIN is sent. */
  readonly ended: boolean
  /** For a synchronous `send`: the socket can take bytes again (the runtime's drain event). */
  writable(): void
  /** The peer sent its FIN: ends our side as well unless `allowHalfOpen`. */
  peerEnded(): void
  /**
   * The socket is gone: drops the queue and fails pending `end` callbacks
   * (with reason `Closed` without a failure). Later writes are ignored.
   */
  close(failure?: SocketFailure): void
}

/**
 * Builds a {@link SocketWriter} that sends through `target` and reports
 * `drain`, a write after an automatic end (`Closed`) and a socket found gone
 * by a synchronous send (`Reset`) to `events`. An adapter delegates `write`,
 * `writev`, `end` and `writeBuffered` of its driver to it.
 *
 * @example
 * ```ts
 * const writer = Driver.makeSocketWriter(
 *   { send: (data, offset, length) => socket.write(data, offset, length), shutdown: () => socket.shutdown() },
 *   events,
 *   { remoteAddress, writeHighWaterMark, allowHalfOpen }
 * )
 * socket.on("drain", () => writer.writable())
 * socket.on("end", () => { events.readEnd(); writer.peerEnded() })
 * socket.on("close", () => { writer.close(); events.closedByRuntime() })
 * ```
 * @since 0.1.0
 * @category adapter helpers
 */
export const makeSocketWriter: (
  target: WriteTarget,
  events: Pick<SocketEvents, "drain" | "error">,
  options?: SocketWriterOptions
) => SocketWriter = socketWriter.makeSocketWriter

/**
 * What a connect in progress reports to {@link connectWithTimeout}.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export interface ConnectAttempt<A> {
  /**
   * The socket is open: completes the connect with `make()`. Returns `false`
   * (and does not call `make`) when the attempt is over (timed out, failed or
   * interrupted): the caller then closes the socket nobody wants.
   */
  succeed(make: () => A): boolean
  /** The connect failed (ignored once the attempt is over). */
  fail(cause: unknown): void
}

/**
 * Options of {@link connectWithTimeout}.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export interface ConnectTimeoutOptions {
  /** Milliseconds before the connect fails with `TimedOut`; default `defaultConnectTimeout`; none when not finite or past 2^31 - 1. */
  readonly timeout?: number | undefined
  /** The OS or runtime error code of a failure (mapped to the `ConnectError` reason). */
  readonly errorCode: (cause: unknown) => string | undefined
}

/**
 * Runs a runtime's connect with the connect timeout of the transport
 * contract. `start` begins the connect, reports to the attempt, and may
 * return a function that cancels the connect: it is called when the timeout
 * fires or the effect is interrupted first. A `start` that throws fails the
 * attempt. The timer is cleared as soon as the attempt is over.
 *
 * @example
 * ```ts
 * Driver.connectWithTimeout(address, { timeout: options?.timeout, errorCode }, (attempt) => {
 *   const abort = new AbortController()
 *   runtimeConnect(address, abort.signal).then(
 *     (socket) => { if (!attempt.succeed(() => wrap(socket))) socket.close() },
 *     attempt.fail
 *   )
 *   return () => abort.abort()
 * })
 * ```
 * @since 0.1.0
 * @category adapter helpers
 */
export const connectWithTimeout: <A>(
  address: Address,
  options: ConnectTimeoutOptions,
  start: (attempt: ConnectAttempt<A>) => (() => void) | void
) => Effect.Effect<A, ConnectError> = connectTimeout.connectWithTimeout
