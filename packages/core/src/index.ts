/**
 * @wirekit/core: the runtime-free heart of wirekit.
 * @since 0.1.0
 */

/** Network addresses (TCP and Unix). */
export * as Address from "./Address.ts"
/** One open connection: pull-based reads, drain-aware writes, half-close. */
export * as Connection from "./Connection.ts"
/** The adapter contract for runtime packages. */
export * as Driver from "./Driver.ts"
/** The in-memory transport. */
export * as MemoryTransport from "./MemoryTransport.ts"
/** The server runner. */
export * as Server from "./Server.ts"
/** The transport service and its errors. */
export * as Transport from "./Transport.ts"
