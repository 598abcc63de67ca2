/**
 * @wirekit/bun: the wirekit transport on Bun's native sockets.
 * @module @wirekit/bun
 * @since 0.1.0
 */

/**
 * The transport on `Bun.listen` / `Bun.connect`.
 *
 * @since 0.1.0
 */
export * as BunTransport from "./BunTransport.ts"

/**
 * N worker processes of one program on one address, each listening with `reusePort`.
 *
 * @since 0.1.0
 */
export * as BunWorkers from "./BunWorkers.ts"

/**
 * The datagram (UDP) transport on `Bun.udpSocket`.
 *
 * @since 0.1.0
 */
export * as BunDatagram from "./BunDatagram.ts"
