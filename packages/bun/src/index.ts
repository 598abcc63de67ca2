/**
 * @wirekit/bun: the wirekit transport on Bun's native sockets.
 * @since 0.1.0
 */

/** The transport on `Bun.listen` / `Bun.connect`. */
export * as BunTransport from "./BunTransport.ts"
