/**
 * @wirekit/redis: a wirekit backplane on Redis, so that broadcast groups span
 * processes and machines.
 * @since 0.1.0
 */

/** The Redis backplane: pub/sub per group, membership in hashes, node heartbeats. */
export * as RedisBackplane from "./RedisBackplane.ts"
