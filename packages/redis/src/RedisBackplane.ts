/**
 * A {@link Backplane.Backplane} on Redis: broadcast groups that span
 * processes and machines, in the manner of socket.io's Redis adapter. Each
 * process is a node with a unique id; `Groups.withBackplane` over this
 * backplane publishes its broadcasts through Redis pub/sub, and keeps its
 * members in Redis so that any node can list a group's members everywhere.
 *
 * Two connections (ioredis): one publishes and keeps the registry, one
 * subscribes (a subscribed connection can do nothing else). A node's
 * broadcasts all go through the one publishing connection, in one pipeline
 * per batch, and Redis relays one connection's messages in order: a sender's
 * messages arrive in the order they were sent.
 *
 * One channel per group (`PREFIX group:NAME`), subscribed while the node has
 * a member in it: a node receives only the broadcasts its members need. A
 * single pattern subscription would send every broadcast of every group to
 * every node, whose traffic grows with nodes × all messages; the cost here is
 * a SUBSCRIBE when a group gets its first member on a node.
 *
 * Keys (all under `keyPrefix`, default `wirekit:`):
 *
 * ```
 *   PREFIX nodes              zset  node id → the time (Redis's clock, ms) its liveness ends
 *   PREFIX members:GROUP      hash  "node/session" → metadata (JSON)
 *   PREFIX node:NODE          hash  "GROUP\nsession" → 1 (what the node's cleanup removes)
 *   PREFIX group:GROUP        the group's pub/sub channel
 * ```
 *
 * Every `heartbeat` a node moves its liveness to now + `ttl` and removes up
 * to 16 dead nodes' memberships (a Lua script, atomic, on Redis's clock, so
 * the nodes' clocks do not matter); member lists skip nodes whose liveness
 * ended. A node that finds it was taken for dead (a stall longer than the
 * TTL, or a Redis restart) announces its memberships again. A clean stop
 * removes the node's memberships at once; a killed node's go when its TTL
 * passes.
 *
 * Outages: commands fail at once while a connection is down (no offline
 * queue: `Groups` keeps the bounded queue), both connections reconnect with
 * a capped backoff, the subscriptions still wanted are restored, and when
 * both are back the listeners are told `up` (`Groups` then announces its
 * memberships again: a restarted Redis without persistence has none).
 *
 * Standalone Redis (or a primary; Sentinel through ioredis options). The
 * scripts touch keys they compute, which Redis Cluster does not allow.
 *
 * @example
 * ```ts
 * import { Groups, ProtocolServer } from "@wirekit/core"
 * import { RedisBackplane } from "@wirekit/redis"
 *
 * const program = Effect.gen(function* () {
 *   const groups = yield* Groups.withBackplane<Push>()
 *   yield* ProtocolServer.serve(Chat, handlers, { address, groups })
 *   yield* Effect.never
 * }).pipe(Effect.scoped, Effect.provide(RedisBackplane.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 * @since 0.1.0
 */
import { Backplane } from "@wirekit/core"
import { Layer } from "effect"
import type { Duration, Effect, Scope } from "effect"
import type { RedisOptions } from "ioredis"
import * as internal from "./internal/redisBackplane.ts"

/**
 * Options of {@link make}.
 * @since 0.1.0
 * @category options
 */
export interface RedisBackplaneOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  readonly url: string
  /** The prefix of every key and channel (nodes sharing groups use the same). Default `wirekit:`. */
  readonly keyPrefix?: string | undefined
  /** This node's id. Default `Backplane.makeNodeId()`, unique per process. */
  readonly node?: string | undefined
  /** The interval of this node's heartbeat. Default 2 seconds. */
  readonly heartbeat?: Duration.DurationInput | undefined
  /** How long this node is alive after a beat (then its members are no longer listed). Default 6 seconds; longer than `heartbeat`. */
  readonly ttl?: Duration.DurationInput | undefined
  /** The first connection must be ready within this, or {@link make} fails. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** A command with no answer for this long fails (`Timeout`). Default 5 seconds. */
  readonly commandTimeout?: Duration.DurationInput | undefined
  /** The longest wait between reconnection attempts (from 100 ms, doubling). Default 2 seconds. */
  readonly maxReconnectDelay?: Duration.DurationInput | undefined
  /**
   * More ioredis options for both connections (e.g. `tls`, `username`,
   * `password`, `db`). The ones the backplane relies on are its own: no
   * offline queue, no resending after a reconnection, its own
   * resubscription, lazy connect, the timeouts and retry strategy above.
   */
  readonly redis?: RedisOptions | undefined
}

/**
 * Default settings.
 * @since 0.1.0
 * @category options
 */
export const defaults: {
  readonly keyPrefix: string
  readonly connectTimeout: Duration.Duration
  readonly commandTimeout: Duration.Duration
  readonly maxReconnectDelay: Duration.Duration
} = internal.defaults

/**
 * Connects (both connections ready within `connectTimeout`, else a
 * `BackplaneError` of reason `Unavailable` or `Timeout`), registers this node,
 * and starts its heartbeat, for the scope's lifetime; the scope's end removes
 * the node's memberships and closes the connections. Throws a `RangeError`
 * for a bad node id or duration.
 *
 * ```ts
 * const backplane = yield* RedisBackplane.make({ url: "redis://127.0.0.1:6379", heartbeat: "500 millis", ttl: "2 seconds" })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options: RedisBackplaneOptions
) => Effect.Effect<Backplane.Backplane, Backplane.BackplaneError, Scope.Scope> = internal.make

/**
 * {@link make} as a Layer of the `Backplane` service.
 *
 * ```ts
 * program.pipe(Effect.provide(RedisBackplane.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: RedisBackplaneOptions): Layer.Layer<Backplane.Backplane, Backplane.BackplaneError> =>
  Layer.scoped(Backplane.Backplane, internal.make(options))
