/**
 * @wirekit/node: the wirekit transport on `node:net`.
 * @module @wirekit/node
 * @since 0.1.0
 */

/**
 * The transport on `node:net`.
 *
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.ts"

/**
 * N worker processes of one program on one address, under `node:cluster`.
 *
 * @since 0.1.0
 */
export * as NodeWorkers from "./NodeWorkers.ts"

/**
 * The datagram (UDP) transport on `node:dgram`.
 *
 * @since 0.1.0
 */
export * as NodeDatagram from "./NodeDatagram.ts"
