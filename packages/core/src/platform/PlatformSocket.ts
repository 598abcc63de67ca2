/**
 * wirekit connections as `@effect/platform` {@link Socket.Socket}s, so code
 * written against the platform's socket interface (`@effect/rpc`'s
 * `RpcClient.layerProtocolSocket`, `Socket.toChannel`, …) runs unchanged on
 * every wirekit transport (Node, Bun, Deno, memory).
 *
 * The platform interface is kept; the behaviour is wirekit's:
 *
 * - `run(handler)` calls the handler for each received chunk, in order, one
 *   at a time: when the handler returns an Effect, the next chunk is read
 *   only after that Effect has completed. Unread bytes stay in wirekit's
 *   bounded read buffer, so a slow handler holds the peer back through TCP
 *   flow control instead of growing memory.
 * - The peer ending its side (EOF) ends `run` successfully, after the handler
 *   finished. A reset (or any other read failure) fails `run` with a
 *   `SocketGenericError` of reason `"Read"` whose `cause` is the wirekit
 *   `ConnectionError`.
 * - `writer` gives a function writing `Uint8Array`s and strings (UTF-8) with
 *   wirekit's drain-aware `write`; write failures are `SocketGenericError`s
 *   of reason `"Write"` with the `ConnectionError` as `cause`. Writing a
 *   `Socket.CloseEvent` closes the connection gracefully (pending writes are
 *   flushed, then FIN) and completes once it is closed; `run` then ends,
 *   successfully, or with a `SocketCloseError` when `closeCodeIsError(code)`.
 * - Releasing the last acquired `writer` (closing its scope) half-closes the
 *   connection (FIN after every pending write), as the platform's Node socket
 *   does: that is how platform code says "I am done sending". Reading goes on
 *   until the peer ends too.
 *
 * @example
 * ```ts
 * import { PlatformSocket } from "@wirekit/core/platform"
 * import { NodeTransport } from "@wirekit/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const socket = yield* PlatformSocket.makeSocket({ host: "127.0.0.1", port: 7000 })
 *   yield* Effect.scoped(Effect.gen(function* () {
 *     const write = yield* socket.writer
 *     yield* write("hello\n")
 *   })) // the writer's release sends FIN
 *   yield* socket.run((bytes) => Effect.log(new TextDecoder().decode(bytes)))
 * })).pipe(Effect.provide(NodeTransport.layer))
 * ```
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import { Effect, ExecutionStrategy, Exit, Layer, Option, Scope } from "effect"
import type { Address } from "../Address.ts"
import type { Connection, ConnectionError } from "../Connection.ts"
import { EOF } from "../Connection.ts"
import type { ConnectError, ConnectOptions } from "../Transport.ts"
import { Transport } from "../Transport.ts"
import * as PlatformAddress from "./internal/address.ts"

/**
 * Options of {@link fromConnection}.
 *
 * @example
 * ```ts
 * import { PlatformSocket } from "@wirekit/core/platform"
 * // only 4000-4999 are failures; 1000, 1001, 1006, … end `run` cleanly
 * const options: PlatformSocket.FromConnectionOptions = { closeCodeIsError: (code) => code >= 4000 && code < 5000 }
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface FromConnectionOptions {
  /**
   * Which codes of a `Socket.CloseEvent` written to the socket make `run`
   * fail with a `SocketCloseError` (the connection is closed either way).
   * Default: `Socket.defaultCloseCodeIsError` (every code but 1000 and 1006).
   */
  readonly closeCodeIsError?: ((code: number) => boolean) | undefined
}

/**
 * Options of {@link makeSocket} and {@link layerSocket}: wirekit's connect
 * options (timeout, noDelay, buffer marks, …), plus {@link FromConnectionOptions}.
 *
 * @example
 * ```ts
 * import { PlatformSocket } from "@wirekit/core/platform"
 * const options: PlatformSocket.MakeSocketOptions = { timeout: 2000, readHighWaterMark: 256 * 1024 }
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface MakeSocketOptions extends ConnectOptions, FromConnectionOptions {}

const ConnectionKey: unique symbol = Symbol.for("@wirekit/core/platform/PlatformSocket/connection")

interface WithConnection {
  readonly [ConnectionKey]: () => Connection | undefined
}

const encoder = new TextEncoder()

/** One wirekit connection behind a platform socket. */
interface Live {
  readonly conn: Connection
  /** The CloseEvent written to this connection, if any: decides how `run` ends. */
  closeEvent: Socket.CloseEvent | undefined
  /** A `run` is reading this connection right now. */
  reading: boolean
}

const makeLive = (conn: Connection): Live => ({ conn, closeEvent: undefined, reading: false })

const readError = (cause: ConnectionError) => new Socket.SocketGenericError({ reason: "Read", cause })
const writeError = (cause: ConnectionError) => new Socket.SocketGenericError({ reason: "Write", cause })

/** Reads `live` until EOF, calling `handler` for each chunk, strictly in sequence. */
const runOn = <_, E, R>(
  live: Live,
  closeCodeIsError: (code: number) => boolean,
  handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
  onOpen: Effect.Effect<void> | undefined
): Effect.Effect<void, Socket.SocketError | E, R> =>
  Effect.suspend(() => {
    if (live.reading) {
      return Effect.dieMessage("PlatformSocket: `run` called while another `run` reads the same connection")
    }
    live.reading = true
    const read = Effect.mapError(live.conn.read, readError)
    const ended = Effect.suspend(() => {
      const ce = live.closeEvent
      return ce !== undefined && closeCodeIsError(ce.code)
        ? Effect.fail(new Socket.SocketCloseError({ reason: "Close", code: ce.code, closeReason: ce.reason }))
        : Effect.void
    })
    // pull one chunk, hand it over, wait for the handler, pull the next: order and backpressure
    const step: Effect.Effect<void, Socket.SocketError | E, R> = Effect.flatMap(read, (chunk) => {
      if (chunk === EOF) return ended
      const next = handler(chunk)
      return Effect.isEffect(next) ? Effect.zipRight(next as Effect.Effect<_, E, R>, step) : step
    })
    return Effect.ensuring(
      onOpen === undefined ? step : Effect.zipRight(onOpen, step),
      Effect.sync(() => {
        live.reading = false
      })
    )
  })

/** Writes one platform chunk to `live`. */
const writeTo = (
  live: Live,
  chunk: Uint8Array | string | Socket.CloseEvent
): Effect.Effect<void, Socket.SocketError> => {
  if (Socket.isCloseEvent(chunk)) {
    if (live.closeEvent === undefined) live.closeEvent = chunk
    return live.conn.close
  }
  return Effect.mapError(live.conn.write(typeof chunk === "string" ? encoder.encode(chunk) : chunk), writeError)
}

/** Half-close in the background: the FIN goes out after pending writes, without holding up the caller. */
const endInBackground = (conn: Connection): Effect.Effect<void> =>
  Effect.asVoid(Effect.forkDaemon(Effect.ignore(conn.end)))

/**
 * Wraps an open wirekit {@link Connection} as an `@effect/platform` socket.
 * The connection stays owned by the caller (its scope closes it); the socket
 * only reads and writes it. One `run` at a time: a second concurrent `run`
 * on the same connection is a defect. A `run` after the end of stream
 * returns at once.
 *
 * @example
 * ```ts
 * import { Connection, Transport } from "@wirekit/core"
 * import { PlatformSocket } from "@wirekit/core/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   const conn = yield* transport.connect({ host: "127.0.0.1", port: 7000 })
 *   const socket = PlatformSocket.fromConnection(conn)
 *   const write = yield* socket.writer
 *   yield* write("ping\n")
 *   yield* socket.run((bytes) => Effect.log(bytes.length))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConnection = (conn: Connection, options?: FromConnectionOptions): Socket.Socket => {
  const live = makeLive(conn)
  const closeCodeIsError = options?.closeCodeIsError ?? Socket.defaultCloseCodeIsError
  let writers = 0
  const run = <_, E = never, R = never>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    opts?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> => runOn(live, closeCodeIsError, handler, opts?.onOpen)
  const write = (chunk: Uint8Array | string | Socket.CloseEvent) => writeTo(live, chunk)
  const writer = Effect.acquireRelease(
    Effect.sync(() => {
      writers++
      return write
    }),
    () => Effect.suspend(() => --writers === 0 ? endInBackground(conn) : Effect.void)
  )
  const socket: Socket.Socket & WithConnection = {
    [Socket.TypeId]: Socket.TypeId,
    run,
    runRaw: run,
    writer,
    [ConnectionKey]: () => conn
  }
  return socket
}

/**
 * A platform socket that connects to `address` with the current wirekit
 * {@link Transport} each time `run` is called, like the platform's own
 * `NodeSocket.makeNet`: `@effect/rpc`'s client calls `run` again to
 * reconnect after a failure.
 *
 * - Connect failures fail `run` with a `SocketGenericError` of reason
 *   `"Open"` (`"OpenTimeout"` for a connect timeout), the `ConnectError` as
 *   `cause`.
 * - Writes wait until a connection is open, then go to the current one.
 * - When `run` ends because the peer ended its side and a writer is still
 *   acquired, the connection stays open for writing (half-open) until the
 *   last writer is released, the next `run` connects, or the scope closes.
 *   Otherwise it is closed gracefully (pending writes flushed) when `run`
 *   ends. Everything is closed when the scope closes.
 *
 * `address` may be a wirekit address or a `SocketServer.Address`.
 *
 * @example
 * ```ts
 * import { PlatformSocket } from "@wirekit/core/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const socket = yield* PlatformSocket.makeSocket({ host: "127.0.0.1", port: 7000 }, { timeout: 2000 })
 *   yield* socket.run((bytes) => Effect.log(bytes.length))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSocket = (
  address: Address | SocketServer.Address,
  options?: MakeSocketOptions
): Effect.Effect<Socket.Socket, never, Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const socketScope = yield* Effect.scope
    const target = PlatformAddress.fromPlatform(address)
    const closeCodeIsError = options?.closeCodeIsError ?? Socket.defaultCloseCodeIsError
    const latch = yield* Effect.makeLatch(false)
    /** The connection writes go to, with the scope that owns it. */
    let current: { readonly live: Live; readonly scope: Scope.CloseableScope } | undefined
    let writers = 0

    const connect = Effect.mapError(
      transport.connect(target, options),
      (cause: ConnectError) =>
        new Socket.SocketGenericError({ reason: cause.reason === "TimedOut" ? "OpenTimeout" : "Open", cause })
    )

    /** Stops writes to `entry` and closes it gracefully. */
    const retire = (entry: NonNullable<typeof current>, exit: Exit.Exit<unknown, unknown>) =>
      Effect.suspend(() => {
        if (current === entry) {
          current = undefined
          latch.unsafeClose()
        }
        return Scope.close(entry.scope, exit)
      })

    const run = <_, E = never, R = never>(
      handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
      opts?: { readonly onOpen?: Effect.Effect<void> | undefined }
    ): Effect.Effect<void, Socket.SocketError | E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const scope = yield* Scope.fork(socketScope, ExecutionStrategy.sequential)
          const conn = yield* restore(Scope.extend(connect, scope)).pipe(
            Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
          )
          const entry = { live: makeLive(conn), scope }
          const previous = current
          current = entry
          latch.unsafeOpen()
          // a half-open connection left by the previous run: close it gracefully, off the critical path
          if (previous !== undefined) yield* Effect.forkDaemon(retire(previous, Exit.void))
          const exit = yield* Effect.exit(restore(runOn(entry.live, closeCodeIsError, handler, opts?.onOpen)))
          const halfOpen = Exit.isSuccess(exit) && writers > 0 && current === entry &&
            entry.live.closeEvent === undefined
          if (!halfOpen) yield* retire(entry, exit)
          return yield* exit
        })
      )

    const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
      latch.whenOpen(Effect.suspend(() =>
        current === undefined
          ? Effect.fail(new Socket.SocketGenericError({ reason: "Write", cause: "not connected" }))
          : writeTo(current.live, chunk)
      ))

    const writer = Effect.acquireRelease(
      Effect.sync(() => {
        writers++
        return write
      }),
      () =>
        Effect.suspend(() => {
          if (--writers > 0 || current === undefined) return Effect.void
          // reading: half-close and let `run` end when the peer ends; half-open leftover: close it
          return current.live.reading ? endInBackground(current.live.conn) : retire(current, Exit.void)
        })
    )

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        current = undefined
        latch.unsafeClose()
      })
    )

    const socket: Socket.Socket & WithConnection = {
      [Socket.TypeId]: Socket.TypeId,
      run,
      runRaw: run,
      writer,
      [ConnectionKey]: () => current?.live.conn
    }
    return socket as Socket.Socket
  })

/**
 * {@link makeSocket} as a Layer of the platform's `Socket` service, the
 * input of `RpcClient.layerProtocolSocket`.
 *
 * @example
 * ```ts
 * import { RpcClient, RpcSerialization } from "@effect/rpc"
 * import { PlatformSocket } from "@wirekit/core/platform"
 * import { NodeTransport } from "@wirekit/node"
 * import { Layer } from "effect"
 *
 * const ProtocolLive = RpcClient.layerProtocolSocket().pipe(
 *   Layer.provide(PlatformSocket.layerSocket({ host: "127.0.0.1", port: 7000 })),
 *   Layer.provide(RpcSerialization.layerNdjson),
 *   Layer.provide(NodeTransport.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSocket = (
  address: Address | SocketServer.Address,
  options?: MakeSocketOptions
): Layer.Layer<Socket.Socket, never, Transport> => Layer.scoped(Socket.Socket, makeSocket(address, options))

/**
 * The wirekit connection behind a socket made by {@link fromConnection}
 * (every socket a `PlatformSocketServer` hands out), or the currently open
 * one of a {@link makeSocket} socket; `None` for other sockets.
 *
 * @example
 * ```ts
 * import { Address } from "@wirekit/core"
 * import { PlatformSocket } from "@wirekit/core/platform"
 * import type * as Socket from "@effect/platform/Socket"
 * import { Option } from "effect"
 *
 * const peer = (socket: Socket.Socket) =>
 *   Option.map(PlatformSocket.connection(socket), (conn) => Address.format(conn.remoteAddress))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const connection = (socket: Socket.Socket): Option.Option<Connection> =>
  ConnectionKey in socket
    ? Option.fromNullable((socket as Socket.Socket & WithConnection)[ConnectionKey]())
    : Option.none()

/**
 * Converts a wirekit address to an `@effect/platform` `SocketServer.Address`
 * (`TcpAddress` with `hostname`/`port`, or `UnixAddress`).
 *
 * @example
 * ```ts
 * import { PlatformSocket } from "@wirekit/core/platform"
 * PlatformSocket.toPlatformAddress({ host: "127.0.0.1", port: 7000 })
 * // { _tag: "TcpAddress", hostname: "127.0.0.1", port: 7000 }
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const toPlatformAddress: (address: Address) => SocketServer.Address = PlatformAddress.toPlatform

/**
 * Converts an `@effect/platform` `SocketServer.Address` to a wirekit address
 * (a wirekit address is returned as is).
 *
 * @example
 * ```ts
 * import { PlatformSocket } from "@wirekit/core/platform"
 * PlatformSocket.fromPlatformAddress({ _tag: "UnixAddress", path: "/tmp/app.sock" }) // { path: "/tmp/app.sock" }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPlatformAddress: (address: Address | SocketServer.Address) => Address = PlatformAddress.fromPlatform
