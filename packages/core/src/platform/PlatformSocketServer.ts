/**
 * A wirekit listener as an `@effect/platform` `SocketServer`, the input of
 * `@effect/rpc`'s `RpcServer.layerProtocolSocketServer`, on any wirekit
 * transport (Node, Bun, Deno, memory).
 *
 * - The layer listens when built (with the current wirekit `Transport`) and
 *   stops listening when released; its `address` is the bound address as a
 *   `SocketServer.Address` (`TcpAddress` with the real port for port 0, or
 *   `UnixAddress`).
 * - `run(handler)` accepts connections and runs `handler` for each one in its
 *   own fiber, with the connection as a platform socket (see
 *   `PlatformSocket.fromConnection`: ordered, backpressured reads; EOF is not
 *   an error). Connections that arrive before `run` wait in wirekit's accept
 *   queue. The current wirekit `Connection` is also provided to the handler.
 * - When a handler returns, its connection is closed gracefully (pending
 *   writes flushed, FIN sent). A handler that fails or dies closes only its
 *   own connection; the failure is logged at Warning and `run` goes on.
 * - Interrupting `run` interrupts every handler and closes their
 *   connections gracefully; the listener stays open until the layer's scope
 *   closes, so `run` may be called again.
 *
 * @example
 * ```ts
 * import { RpcServer, RpcSerialization } from "@effect/rpc"
 * import { PlatformSocketServer } from "@wirekit/core/platform"
 * import { BunTransport } from "@wirekit/bun"
 * import { Layer } from "effect"
 *
 * // MyRpcs / MyHandlers: your RpcGroup and its handlers layer
 * const Main = RpcServer.layer(MyRpcs).pipe(
 *   Layer.provide(MyHandlers),
 *   Layer.provide(RpcServer.layerProtocolSocketServer),
 *   Layer.provide(PlatformSocketServer.layer({ host: "0.0.0.0", port: 7000 })),
 *   Layer.provide(RpcSerialization.layerNdjson),
 *   Layer.provide(BunTransport.layer)
 * )
 * Layer.launch(Main)
 * ```
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { Cause, Effect, Exit, FiberSet, Layer, Scope } from "effect"
import type { Address } from "../Address.ts"
import { format } from "../Address.ts"
import { Connection } from "../Connection.ts"
import type { ListenError, ListenOptions } from "../Transport.ts"
import { Transport } from "../Transport.ts"
import * as PlatformAddress from "./internal/address.ts"
import * as PlatformSocket from "./PlatformSocket.ts"

/**
 * Options of {@link layer} and {@link make}: wirekit's listen options (which
 * also apply to every accepted connection), plus how sockets and logs behave.
 *
 * @example
 * ```ts
 * import { PlatformSocketServer } from "@wirekit/core/platform"
 * const options: PlatformSocketServer.PlatformSocketServerOptions = { backlog: 1024, logConnections: true }
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface PlatformSocketServerOptions extends ListenOptions, PlatformSocket.FromConnectionOptions {
  /** Log each connection's open and close at Info level (default: Debug). */
  readonly logConnections?: boolean | undefined
}

/**
 * Listens on `address` with the current wirekit {@link Transport} and returns
 * the `SocketServer` service; the listener lives as long as the scope.
 *
 * @example
 * ```ts
 * import { PlatformSocketServer } from "@wirekit/core/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const server = yield* PlatformSocketServer.make({ host: "127.0.0.1", port: 0 })
 *   yield* Effect.log(server.address) // { _tag: "TcpAddress", hostname: "127.0.0.1", port: 41234 }
 *   yield* server.run((socket) => Effect.scoped(Effect.gen(function* () {
 *     const write = yield* socket.writer
 *     yield* socket.run(write) // echo
 *   })))
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  address: Address | SocketServer.Address,
  options?: PlatformSocketServerOptions
): Effect.Effect<SocketServer.SocketServer["Type"], ListenError, Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const transport = yield* Transport
    const listener = yield* transport.listen(PlatformAddress.fromPlatform(address), options)
    const log = options?.logConnections ? Effect.logInfo : Effect.logDebug
    const socketOptions: PlatformSocket.FromConnectionOptions = { closeCodeIsError: options?.closeCodeIsError }

    const serveOne = <R, E, _>(
      conn: Connection,
      connScope: Scope.CloseableScope,
      handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
    ): Effect.Effect<void, never, R> =>
      log("connection opened").pipe(
        Effect.zipRight(Effect.suspend(() => handler(PlatformSocket.fromConnection(conn, socketOptions)))),
        Effect.provideService(Connection, conn),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.void
            : Effect.logWarning("platform socket handler failed; closing its connection", cause)
        ),
        Effect.zipRight(log("connection closed")),
        Effect.ensuring(Scope.close(connScope, Exit.void)),
        Effect.annotateLogs({ connection: conn.id, peer: format(conn.remoteAddress) })
      ) as Effect.Effect<void, never, R>

    const run = <R, E, _>(
      handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
    ): Effect.Effect<never, SocketServer.SocketServerError, R> =>
      Effect.scoped(Effect.gen(function*() {
        const fibers = yield* FiberSet.make<void, never>()
        // accept and fork without a gap where an interrupt could leak the accepted connection
        const acceptOne = Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            const connScope = yield* Scope.make()
            const conn = yield* restore(Scope.extend(listener.accept, connScope)).pipe(
              Effect.onError(() => Scope.close(connScope, Exit.void))
            )
            yield* FiberSet.run(fibers, Effect.interruptible(serveOne(conn, connScope, handler)))
          })
        )
        return yield* Effect.forever(acceptOne)
      })).pipe(
        Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Unknown", cause }))
      )

    return SocketServer.SocketServer.of({
      address: PlatformAddress.toPlatform(listener.address),
      run
    })
  })

/**
 * A `SocketServer` Layer on wirekit: listens on `address` when built, stops
 * when released. Give it `{ host, port: 0 }` and read the real port from
 * the service's `address`.
 *
 * @example
 * ```ts
 * import { SocketServer } from "@effect/platform/SocketServer"
 * import { PlatformSocketServer } from "@wirekit/core/platform"
 * import { NodeTransport } from "@wirekit/node"
 * import { Effect, Layer } from "effect"
 *
 * const ServerLive = PlatformSocketServer.layer({ host: "127.0.0.1", port: 0 }).pipe(Layer.provide(NodeTransport.layer))
 * const port = Effect.map(SocketServer, (s) => s.address._tag === "TcpAddress" ? s.address.port : 0)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  address: Address | SocketServer.Address,
  options?: PlatformSocketServerOptions
): Layer.Layer<SocketServer.SocketServer, ListenError, Transport> =>
  Layer.scoped(SocketServer.SocketServer, make(address, options))
