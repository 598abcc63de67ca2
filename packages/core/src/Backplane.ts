/**
 * Backplanes: what {@link Groups} needs to span processes and machines. With
 * one, the broadcast groups of several servers (each a *node*, with a node id
 * unique per process) behave as one set of groups: a broadcast on any node
 * reaches the group's members on every node, and "who is in this room" is
 * answered for all of them.
 *
 * ```
 *   node A (chat server, port 7001)          node B (chat server, port 7002)
 *   alice ─┐                                              ┌─ bob
 *          │ broadcast("lobby", msg)                      │
 *   Groups ├── local delivery (alice's room mates on A)   │
 *          └── publish ──► backplane (Redis pub/sub) ──► Groups on B ── local delivery (bob)
 *
 *   membership: each node writes its members (node id, session id, metadata) to the backplane,
 *   beats every `heartbeat`; a node silent for `ttl` is dead and its members are no longer listed
 * ```
 *
 * A backplane is a service ({@link Backplane}); `Groups.withBackplane` builds
 * the server's groups over it, and passes them to `ProtocolServer.serve`
 * (`groups` option). Without one, groups are in-process (`Groups.make()`),
 * which is what {@link memory} with a single node amounts to.
 *
 * The contract is small on purpose, so that an adapter (`@wirekit/redis`) is
 * thin and the semantics live once, in `Groups`: the bounded queue of
 * outgoing broadcasts, the outage handling (a logged degradation: local
 * delivery keeps working), the re-announcement of memberships when the
 * backplane comes back, the codec of pushes. An adapter:
 *
 * - delivers the messages published to a group to every node subscribed to
 *   it, the publisher included (pub/sub servers do; `Groups` skips its own),
 *   keeping the order of one node's messages (one connection, no reordering);
 * - keeps its subscriptions across its own reconnections;
 * - stores memberships as plain data ({@link Member}); remote members are
 *   never `Session` objects;
 * - keeps this node alive with a heartbeat every `heartbeat`, lists only
 *   members of nodes that beat within `ttl`, and removes the memberships of
 *   dead nodes;
 * - tells its listeners when it goes away (`down`) and when it is back, or
 *   may have lost this node's state (`up`: `Groups` then announces every
 *   membership again);
 * - fails its operations with a typed {@link BackplaneError}, never hangs
 *   (`Groups` bounds each call by its `timeout` anyway).
 *
 * @example
 * ```ts
 * // two nodes in one process, on the in-process hub (tests, or a model of two machines)
 * const hub = Backplane.makeHub()
 * const a = yield* Groups.withBackplane<string>().pipe(Effect.provideServiceEffect(Backplane.Backplane, Backplane.memory({ hub })))
 * const b = yield* Groups.withBackplane<string>().pipe(Effect.provideServiceEffect(Backplane.Backplane, Backplane.memory({ hub })))
 * ```
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import type { Duration, Effect, Scope } from "effect"
import * as internal from "./internal/backplane.ts"

/**
 * The metadata a server attaches to a session's memberships (e.g. a chat
 * nickname): strings only, so that every backplane stores it as is.
 * @since 0.1.0
 * @category models
 */
export type Metadata = Readonly<Record<string, string>>

/**
 * A member of a group, on any node, as plain data.
 * @since 0.1.0
 * @category models
 */
export interface Member {
  /** The node the session is connected to. */
  readonly node: string
  /** The session's id (`Session.id`, unique within its node). */
  readonly session: number
  /** What the server attached to the session (`Groups.setMeta`); `{}` when nothing. */
  readonly meta: Metadata
}

/**
 * A message for the other nodes: `message` is opaque text made by `Groups`
 * (an envelope around the encoded push).
 * @since 0.1.0
 * @category models
 */
export interface Publication {
  readonly group: string
  readonly message: string
}

/**
 * One membership of this node.
 * @since 0.1.0
 * @category models
 */
export interface Membership {
  readonly group: string
  readonly member: Member
}

/**
 * A change of this node's memberships: `member` set (joined, or its metadata
 * changed), or `undefined` (left).
 * @since 0.1.0
 * @category models
 */
export interface MembershipChange {
  readonly group: string
  readonly session: number
  readonly member: Member | undefined
}

/**
 * What a backplane tells `Groups`. Called from the backplane's own callbacks:
 * each must return at once (no waiting).
 * @since 0.1.0
 * @category models
 */
export interface BackplaneListener {
  /** A message published to `group` (a group this node subscribed to), by any node. */
  readonly message: (group: string, message: string) => void
  /**
   * The backplane is (back) up, and may have lost this node's state (a
   * restarted server, a liveness that expired): announce everything again.
   */
  readonly up: () => void
  /** The backplane went away: its operations fail until `up`. */
  readonly down: (error: BackplaneError) => void
}

/**
 * A backplane: pub/sub per group, a membership registry with node liveness.
 * Used by `Groups.withBackplane`; see the module documentation for what an
 * adapter must guarantee.
 * @since 0.1.0
 * @category models
 */
export interface Backplane {
  /** The backplane's kind, for logs and errors (`memory`, `redis`). */
  readonly name: string
  /** This node's id: unique per process (see {@link makeNodeId}). */
  readonly node: string
  /** Publishes the messages, in order, to the nodes subscribed to their groups. */
  readonly publish: (messages: ReadonlyArray<Publication>) => Effect.Effect<void, BackplaneError>
  /**
   * Starts receiving the messages of `group` (kept across reconnections;
   * idempotent). Completes once the subscription is in effect when connected:
   * `Groups` publishes a membership only after it, so that a member listed on
   * any node gets the group's broadcasts.
   */
  readonly subscribe: (group: string) => Effect.Effect<void>
  /** Stops receiving the messages of `group` (idempotent). */
  readonly unsubscribe: (group: string) => Effect.Effect<void>
  /** Applies changes of this node's memberships, in order. */
  readonly update: (changes: ReadonlyArray<MembershipChange>) => Effect.Effect<void, BackplaneError>
  /** Replaces every membership of this node with `memberships` (and beats). */
  readonly announce: (memberships: ReadonlyArray<Membership>) => Effect.Effect<void, BackplaneError>
  /** The members of `group` on every live node. */
  readonly members: (group: string) => Effect.Effect<ReadonlyArray<Member>, BackplaneError>
  /** Registers a listener for the scope's lifetime. */
  readonly listen: (listener: BackplaneListener) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * The backplane service. Provide one (`Backplane.layerMemory`,
 * `RedisBackplane.layer`) to build groups with `Groups.withBackplane`.
 *
 * ```ts
 * const groups = yield* Groups.withBackplane<Push>()   // needs Backplane.Backplane
 * ```
 * @since 0.1.0
 * @category services
 */
export const Backplane: Context.Tag<Backplane, Backplane> = Context.GenericTag<Backplane>("@wirekit/core/Backplane")

/**
 * Why a backplane operation failed.
 * @since 0.1.0
 * @category errors
 */
export type BackplaneErrorReason =
  /** Not connected (down, reconnecting, refused). */
  | "Unavailable"
  /** No answer within the timeout. */
  | "Timeout"
  /** The backplane answered with an error (a refused command, a bad reply). */
  | "Failed"

/**
 * A backplane operation that failed, with the backplane, the operation, the
 * node and the client's words.
 * @since 0.1.0
 * @category errors
 */
export const BackplaneError: typeof internal.BackplaneError = internal.BackplaneError

/**
 * A failed backplane operation (the instance type of {@link BackplaneError}).
 * @since 0.1.0
 * @category errors
 */
export type BackplaneError = internal.BackplaneError

/**
 * Default heartbeat settings: a beat every 2 seconds, a node dead after 6
 * seconds without one (its members are no longer listed).
 * @since 0.1.0
 * @category options
 */
export const defaults: {
  readonly heartbeat: Duration.Duration
  readonly ttl: Duration.Duration
} = internal.defaults

/**
 * A new node id: `n-` and 24 random hex digits (unique per process, never
 * reused, so that a restarted process is a new node).
 * @since 0.1.0
 * @category constructors
 */
export const makeNodeId: () => string = internal.makeNodeId

/**
 * Whether `id` can be a node id: 1-64 of `A-Z a-z 0-9 . _ : -` (never `/`,
 * which separates a node from a session in member keys).
 * @since 0.1.0
 * @category utils
 */
export const isNodeId: (id: string) => boolean = internal.isNodeId

/**
 * An in-process hub: the shared state of {@link memory} backplanes, with
 * controls for tests (an outage, a crashed node).
 * @since 0.1.0
 * @category models
 */
export interface Hub {
  /** The nodes attached and not crashed. */
  nodes(): ReadonlyArray<string>
  /**
   * Takes the hub away (every operation fails `Unavailable`, nodes are told
   * `down`) or brings it back (nodes are told `up`); `lose: true` forgets
   * memberships and liveness, as a restarted server that kept nothing.
   */
  setAvailable(available: boolean, options?: { readonly lose?: boolean | undefined }): Effect.Effect<void>
  /**
   * Detaches a node as a killed process would be: no cleanup, no more
   * heartbeats or messages; its members stay listed until its `ttl` passes.
   */
  crash(node: string): Effect.Effect<void>
}

/**
 * A new in-process hub.
 *
 * ```ts
 * const hub = Backplane.makeHub()
 * yield* hub.setAvailable(false)   // an outage, in a test
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const makeHub: () => Hub = internal.makeHub

/**
 * Options of {@link memory}.
 * @since 0.1.0
 * @category options
 */
export interface MemoryOptions {
  /** The hub shared with the other nodes. Default: a hub of its own (a single node). */
  readonly hub?: Hub | undefined
  /** This node's id. Default {@link makeNodeId}. */
  readonly node?: string | undefined
  /** The interval of this node's heartbeat. Default 2 seconds. */
  readonly heartbeat?: Duration.DurationInput | undefined
  /** How long this node is alive after a beat. Default 6 seconds; longer than `heartbeat`. */
  readonly ttl?: Duration.DurationInput | undefined
}

/**
 * The in-process backplane: a node on a {@link Hub} (nodes of one process
 * sharing it, as if each were a machine). Delivery is synchronous, liveness
 * follows the `Clock`. Its scope's end removes the node's memberships.
 * Throws a `RangeError` for a bad node id or heartbeat.
 *
 * ```ts
 * const backplane = yield* Backplane.memory({ hub, heartbeat: "50 millis", ttl: "200 millis" })
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const memory: (options?: MemoryOptions) => Effect.Effect<Backplane, never, Scope.Scope> = internal.memory

/**
 * {@link memory} as a Layer.
 *
 * ```ts
 * const hub = Backplane.makeHub()
 * program.pipe(Effect.provide(Backplane.layerMemory({ hub })))
 * ```
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options?: MemoryOptions): Layer.Layer<Backplane> => Layer.scoped(Backplane, memory(options))
