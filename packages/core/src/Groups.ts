/**
 * Named broadcast groups of sessions (chat rooms, topics).
 *
 * A server has one `Groups`; handlers reach it as `context.groups` (typed with
 * the protocol's push type) or as the {@link Groups} service. A session's
 * memberships end when its connection ends.
 *
 * ```
 *   join("lobby", s1) join("lobby", s2) join("lobby", s3)
 *   broadcast("lobby", msg)                    → s1, s2, s3 each get msg as a push
 *   broadcast("lobby", msg, { except: s1 })    → s2, s3
 *   s2 disconnects                             → members("lobby") = [s1, s3]
 * ```
 *
 * Broadcasting never waits for a slow member: each push is written with the
 * member's next write; a member over the server's `maxWriteBuffer` is
 * disconnected instead.
 *
 * Groups made with {@link make} live in one process. Groups made with
 * {@link withBackplane} span processes and machines (each process a *node*):
 * a broadcast also goes to the group's members on the other nodes, and
 * {@link Groups.membersEverywhere} lists the members of every node (as plain
 * data: {@link Backplane.Member}). See {@link withBackplane} for what changes
 * then (serialized pushes, the outage behaviour).
 *
 * @example
 * ```ts
 * // a request handler: JOIN a room, or SAY something to it
 * const handler: ProtocolServer.HandlerFor<typeof Chat, never> = (req, { session, groups }) =>
 *   req._tag === "Join"
 *     ? Effect.as(groups.join(req.room, session), { _tag: "Joined" } as const)
 *     : Effect.map(groups.broadcast(req.room, { _tag: "Said", text: req.text }, { except: session }),
 *         (delivered) => ({ _tag: "Sent", delivered }) as const)
 * ```
 * @since 0.1.0
 */
import { Context, Schema } from "effect"
import type { Duration, Effect, Scope } from "effect"
import type { Backplane, BackplaneError, Member, Metadata } from "./Backplane.ts"
import * as internal from "./internal/groups.ts"
import type { Session } from "./Session.ts"

/**
 * Options of {@link Groups.broadcast}.
 * @since 0.1.0
 * @category options
 */
export interface BroadcastOptions<Push> {
  /**
   * A member that must not receive it (typically the sender): a session of
   * this node, or a member of any node (as listed by
   * {@link Groups.membersEverywhere}).
   */
  readonly except?: Session<Push> | Member | undefined
}

/**
 * Counters of a set of groups.
 * @since 0.1.0
 * @category models
 */
export interface GroupsStats {
  /** This node's id. */
  readonly node: string
  /** The backplane's name; `undefined` for in-process groups. */
  readonly backplane: string | undefined
  /** `local`: no backplane; `up`/`down`: the backplane's state as last seen. */
  readonly status: "local" | "up" | "down"
  /** Broadcasts handed to the backplane. */
  readonly published: number
  /** Broadcasts of other nodes delivered here. */
  readonly received: number
  /** Broadcasts waiting to be published now. */
  readonly queued: number
  /** Broadcasts never published: the queue was full, or they were in a publish that failed. */
  readonly dropped: number
  /** Broadcasts of other nodes that did not decode, or failed as they were delivered (dropped). */
  readonly undecodable: number
  /** Broadcasts that did not encode (delivered on this node only). */
  readonly unencodable: number
}

/**
 * Named groups of sessions.
 * @since 0.1.0
 * @category models
 */
export interface Groups<Push = unknown> {
  /** This node's id (the backplane's; a fresh one for in-process groups). */
  readonly node: string
  /** Adds the session to the group (idempotent). A closed session is not added. */
  join(group: string, session: Session<Push>): Effect.Effect<void>
  /** Removes the session from the group (idempotent). */
  leave(group: string, session: Session<Push>): Effect.Effect<void>
  /**
   * Pushes `message` to every member; returns how many sessions of this node
   * it was sent to. With a backplane it is also published to the other
   * nodes, whose deliveries are not counted (they happen later, elsewhere).
   */
  broadcast(group: string, message: Push, options?: BroadcastOptions<Push>): Effect.Effect<number>
  /** {@link Groups.broadcast} as a plain call. */
  unsafeBroadcast(group: string, message: Push, options?: BroadcastOptions<Push>): number
  /** The current members on this node (a snapshot). */
  members(group: string): ReadonlyArray<Session<Push>>
  /**
   * The members on every node, as plain data with their metadata (this
   * node's from its own state, the others' from the backplane). Without a
   * backplane: this node's. Fails when the backplane cannot answer.
   */
  membersEverywhere(group: string): Effect.Effect<ReadonlyArray<Member>, BackplaneError>
  /** The names of the non-empty groups on this node. */
  names(): ReadonlyArray<string>
  /** The groups a session belongs to. */
  of(session: Session<Push>): ReadonlyArray<string>
  /**
   * Attaches metadata to the session (e.g. its nickname), replacing what it
   * had: listed with it by {@link Groups.membersEverywhere} on every node. A
   * closed session is ignored.
   */
  setMeta(session: Session<Push>, meta: Metadata): Effect.Effect<void>
  /** {@link Groups.setMeta} as a plain call. */
  unsafeSetMeta(session: Session<Push>, meta: Metadata): void
  /** The session's metadata (`{}` when none was set). */
  meta(session: Session<Push>): Metadata
  /**
   * Waits until the membership changes, metadata and broadcasts this node
   * made so far are handed to the backplane, so that another node asking now
   * sees them (e.g. a nickname just taken). Without a backplane: at once.
   * Fails when the backplane is down, or takes longer than the `timeout`.
   */
  readonly flush: Effect.Effect<void, BackplaneError>
  /** Counters (broadcasts published, received, queued, dropped) and the backplane's state. */
  stats(): GroupsStats
  /** Removes the session from every group (done by the server when its connection ends). */
  unsafeLeaveAll(session: Session<Push>): void
  /** {@link Groups.join} as a plain call. */
  unsafeJoin(group: string, session: Session<Push>): void
  /** {@link Groups.leave} as a plain call. */
  unsafeLeave(group: string, session: Session<Push>): void
}

/**
 * The server's groups, as a service inside handlers (push typed `unknown`:
 * prefer the typed `context.groups`).
 *
 * ```ts
 * const announce = (text: string) => Effect.flatMap(Groups.Groups, (g) => g.broadcast("lobby", `* ${text}`))
 * ```
 * @since 0.1.0
 * @category services
 */
export const Groups: Context.Tag<Groups, Groups> = Context.GenericTag<Groups>("@wirekit/core/Groups")

/**
 * Creates an empty set of in-process groups. A server makes its own; use
 * this for groups shared by several servers of one process (pass it in
 * `ServeOptions.groups`).
 *
 * @example
 * ```ts
 * const groups = Groups.make<string>()
 * groups.unsafeJoin("room", session)
 * groups.unsafeBroadcast("room", "* hello")
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const make: <Push = unknown>() => Groups<Push> = internal.make

/**
 * How pushes cross to other nodes: as text.
 * `encode` and `decode` throw on what they cannot handle (counted in
 * {@link GroupsStats}, logged, never a crash).
 * @since 0.1.0
 * @category models
 */
export interface PushCodec<Push> {
  /** A push as text (throws on what it cannot encode). */
  readonly encode: (push: Push) => string
  /** Text back to a push (throws on what is not one). */
  readonly decode: (text: string) => Push
}

/**
 * The default codec: `JSON.stringify` / `JSON.parse`. Pushes must then be
 * JSON-safe: plain objects, arrays, strings, finite numbers, booleans, null
 * (a `Date` arrives as a string, a `Uint8Array` as an object, a `bigint`
 * does not encode). Otherwise pass a codec, e.g. {@link schemaCodec}.
 * @since 0.1.0
 * @category codecs
 */
export const json: PushCodec<any> = internal.json

/**
 * A codec from a Schema: pushes are encoded with it, as JSON, and
 * validated when they arrive.
 *
 * ```ts
 * const groups = yield* Groups.withBackplane({ codec: Groups.schemaCodec(Push) })
 * ```
 * @since 0.1.0
 * @category codecs
 */
export const schemaCodec = <A, I>(schema: Schema.Schema<A, I, never>): PushCodec<A> => {
  const text = Schema.parseJson(schema)
  return { encode: Schema.encodeSync(text), decode: Schema.decodeUnknownSync(text) }
}

/**
 * Options of {@link withBackplane}.
 * @since 0.1.0
 * @category options
 */
export interface BackplaneOptions<Push> {
  /** How pushes cross to other nodes. Default {@link json} (pushes must be JSON-safe). */
  readonly codec?: PushCodec<Push> | undefined
  /**
   * Broadcasts waiting for the backplane (during an outage, or when it is
   * slower than the broadcasts), past which new ones are dropped (counted,
   * and logged once per episode). Default 4096.
   */
  readonly maxQueued?: number | undefined
  /** The longest any backplane call may take before it counts as failed. Default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** While the backplane is down, how often to try it again (besides its own `up`). Default 1 second. */
  readonly retryInterval?: Duration.DurationInput | undefined
}

/**
 * Default limits of {@link withBackplane}.
 * @since 0.1.0
 * @category options
 */
export const backplaneDefaults: {
  readonly maxQueued: number
  readonly maxBatch: number
  readonly timeout: Duration.Duration
  readonly retryInterval: Duration.Duration
} = internal.backplaneDefaults

/**
 * Groups that span nodes through the {@link Backplane.Backplane} service,
 * for the scope's lifetime: pass them to `ProtocolServer.serve` (`groups`),
 * made in the same scope before the server, so that the leave notices of
 * its shutdown still go out. One `Groups` per backplane (they share its node).
 *
 * What changes with a backplane:
 *
 * - a broadcast is delivered to this node's members at once (the returned
 *   count is of those), and published to the other nodes in call order, by
 *   one fiber: one node's broadcasts arrive everywhere in the order they were
 *   made. Pushes cross serialized: `codec` (JSON by default);
 * - `membersEverywhere`, `setMeta`: members of every node, as plain data;
 *   the synchronous `members`, `names`, `of` stay this node's. Changes reach
 *   the backplane a moment later (each node's own members are always listed
 *   from its own state); `flush` waits until they have, when another node
 *   must see one at once (a nickname just taken);
 * - a backplane outage is a logged, bounded degradation: local delivery
 *   keeps working; `membersEverywhere` fails with a `BackplaneError`;
 *   broadcasts for other nodes wait in a queue of at most `maxQueued`, past
 *   which they are dropped and counted (`stats().dropped`), as are those of
 *   a publish that failed midway (never sent twice); membership changes are
 *   not queued: when the backplane is back (or says it lost this node's
 *   state), every membership is announced again, then the queue is sent;
 * - members of a node that dies disappear from `membersEverywhere` once its
 *   heartbeat's TTL passes (no leave notice is broadcast for them: no one is
 *   left to send it).
 *
 * @example
 * ```ts
 * const server = yield* Effect.gen(function* () {
 *   const groups = yield* Groups.withBackplane<Push>()
 *   return yield* ProtocolServer.serve(Chat, handlers, { groups })
 * }).pipe(Effect.provide(RedisBackplane.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const withBackplane: <Push = unknown>(
  options?: BackplaneOptions<Push>
) => Effect.Effect<Groups<Push>, never, Backplane | Scope.Scope> = internal.withBackplane
