/**
 * @wirekit/redis: a wirekit backplane on Redis, so that broadcast groups span
 * processes and machines.
 * @module @wirekit/redis
 * @since 0.1.0
 */

/**
 * The Redis backplane: pub/sub per group, membership in hashes, node heartbeats.
 *
 * @since 0.1.0
 */
export * as RedisBackplane from "./RedisBackplane.ts"
