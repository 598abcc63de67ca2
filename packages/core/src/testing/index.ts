/**
 * @wirekit/core/testing: the conformance suite adapters run, and test helpers.
 * @since 0.1.0
 */

/** Blackhole addresses for connect-timeout tests. */
export * as Blackhole from "./Blackhole.ts"
/** The transport conformance suite. */
export * as Conformance from "./Conformance.ts"
/** The `@effect/platform` interop suite (platform Socket, SocketServer, @effect/rpc over wirekit). */
export * as PlatformConformance from "./PlatformConformance.ts"
