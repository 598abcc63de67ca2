/**
 * @wirekit/core/platform: `@effect/platform` interop. A wirekit connection as
 * a platform `Socket`, a wirekit listener as a platform `SocketServer` layer,
 * so `@effect/rpc`'s socket protocol (and any other platform-socket code)
 * runs on every wirekit transport.
 *
 * @example
 * ```ts
 * import { RpcClient, RpcSerialization } from "@effect/rpc"
 * import { PlatformSocket, PlatformSocketServer } from "@wirekit/core/platform"
 * import { Layer } from "effect"
 *
 * const ServerSocket = PlatformSocketServer.layer({ host: "127.0.0.1", port: 7000 })
 * const ClientProtocol = RpcClient.layerProtocolSocket().pipe(
 *   Layer.provide(PlatformSocket.layerSocket({ host: "127.0.0.1", port: 7000 })),
 *   Layer.provide(RpcSerialization.layerNdjson)
 * )
 * ```
 * @module @wirekit/core/platform
 * @since 0.1.0
 */

/**
 * wirekit connections as `@effect/platform` sockets: `fromConnection`, `makeSocket`, `layerSocket`.
 *
 * @since 0.1.0
 */
export * as PlatformSocket from "./PlatformSocket.ts"
/**
 * A wirekit listener as an `@effect/platform` `SocketServer` layer.
 *
 * @since 0.1.0
 */
export * as PlatformSocketServer from "./PlatformSocketServer.ts"
