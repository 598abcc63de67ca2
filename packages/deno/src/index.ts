/**
 * @wirekit/deno: the wirekit transport on `Deno.listen` / `Deno.connect`.
 * @module @wirekit/deno
 * @since 0.1.0
 */

/**
 * The transport on Deno's native sockets.
 *
 * @since 0.1.0
 */
export * as DenoTransport from "./DenoTransport.ts"

/**
 * `runMain` for Deno entry points (SIGINT/SIGTERM → graceful interruption).
 *
 * @since 0.1.0
 */
export * as DenoRuntime from "./DenoRuntime.ts"

/**
 * N worker processes of one program on one address, each a `deno run --unstable-net` listening with `reusePort`.
 *
 * @since 0.1.0
 */
export * as DenoWorkers from "./DenoWorkers.ts"

/**
 * The datagram (UDP) transport on `Deno.listenDatagram` (needs `--unstable-net`).
 *
 * @since 0.1.0
 */
export * as DenoDatagram from "./DenoDatagram.ts"
