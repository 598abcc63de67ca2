/**
 * The implementation of `Backplane`: its error, node ids, and the in-process
 * backplane (a hub that nodes in one process share). The public module holds
 * the types and the documentation.
 */
import { Clock, Data, Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import type {
  Backplane,
  BackplaneErrorReason,
  BackplaneListener,
  Hub,
  Member,
  Membership,
  MembershipChange,
  MemoryOptions,
  Publication
} from "../Backplane.ts"

/** See `Backplane.BackplaneError`. */
export class BackplaneError extends Data.TaggedError("BackplaneError")<{
  readonly reason: BackplaneErrorReason
  /** The backplane's name (`memory`, `redis`). */
  readonly backplane: string
  /** What was being done: `publish`, `update`, `announce`, `members`, `heartbeat`, `connect`. */
  readonly operation: string
  /** The node that saw it. */
  readonly node: string
  /** Facts for humans: the client's error message, the timeout, the address. */
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const detail = this.detail === undefined ? "" : `: ${this.detail}`
    return `backplane ${this.backplane}: ${this.operation} failed on node ${this.node} (${this.reason}${detail})`
  }
}

/** See `Backplane.defaults`. */
export const defaults = {
  heartbeat: Duration.seconds(2),
  ttl: Duration.seconds(6)
} as const

const NODE_ID = /^[A-Za-z0-9._:-]{1,64}$/

/** See `Backplane.isNodeId`. */
export const isNodeId = (id: string): boolean => NODE_ID.test(id)

/** See `Backplane.makeNodeId`. */
export const makeNodeId = (): string => {
  // 12 random bytes: ids of processes that never met must not collide
  const bytes = new Uint8Array(12)
  globalThis.crypto.getRandomValues(bytes)
  let hex = ""
  for (const b of bytes) hex += b.toString(16).padStart(2, "0")
  return `n-${hex}`
}

/** The key of a member in a group's table: node ids never contain "/". */
export const memberKey = (node: string, session: number): string => `${node}/${session}`

const EMPTY_META: Readonly<Record<string, string>> = Object.freeze({})

/** `Member` from fields that may come from outside (a remote node's record). */
export const member = (node: string, session: number, meta?: Readonly<Record<string, string>> | undefined): Member => ({
  node,
  session,
  meta: meta ?? EMPTY_META
})

/** Checks the heartbeat options: a positive interval, a TTL longer than it. */
export const heartbeatOf = (
  name: string,
  options?: {
    readonly heartbeat?: Duration.DurationInput | undefined
    readonly ttl?: Duration.DurationInput | undefined
  }
): { readonly heartbeat: number; readonly ttl: number } => {
  const heartbeat = Duration.toMillis(Duration.decode(options?.heartbeat ?? defaults.heartbeat))
  const ttl = Duration.toMillis(Duration.decode(options?.ttl ?? defaults.ttl))
  if (!(Number.isFinite(heartbeat) && heartbeat > 0)) {
    throw new RangeError(`${name}: heartbeat must be a positive duration, got ${heartbeat}ms`)
  }
  if (!(Number.isFinite(ttl) && ttl > heartbeat)) {
    throw new RangeError(`${name}: ttl must be longer than the heartbeat (${heartbeat}ms), got ${ttl}ms`)
  }
  return { heartbeat: Math.round(heartbeat), ttl: Math.round(ttl) }
}

// ---------------------------------------------------------------------------
// the in-process backplane
// ---------------------------------------------------------------------------

/** One node attached to a hub. */
class MemoryNode {
  readonly subscriptions = new Set<string>()
  readonly listeners = new Set<BackplaneListener>()
  /** `group\nsession` of this node's memberships (what its cleanup removes). */
  readonly owned = new Set<string>()
  crashed = false
  constructor(readonly id: string) {}
}

class MemoryHub implements Hub {
  available = true
  readonly attached = new Map<string, MemoryNode>()
  /** Node → the time its liveness ends (the Clock of the node that last beat). */
  readonly expires = new Map<string, number>()
  /** Group → member key → member. */
  readonly tables = new Map<string, Map<string, Member>>()

  nodes(): ReadonlyArray<string> {
    return [...this.attached.values()].filter((n) => !n.crashed).map((n) => n.id)
  }

  setAvailable(available: boolean, options?: { readonly lose?: boolean | undefined }): Effect.Effect<void> {
    return Effect.sync(() => {
      if (available === this.available) return
      this.available = available
      if (!available) {
        for (const node of this.attached.values()) {
          if (node.crashed) continue
          const error = new BackplaneError({
            reason: "Unavailable",
            backplane: "memory",
            operation: "connection",
            node: node.id,
            detail: "the hub is down"
          })
          for (const l of node.listeners) l.down(error)
        }
        return
      }
      if (options?.lose) {
        // a restarted server that kept nothing: every node must announce itself again
        this.expires.clear()
        this.tables.clear()
        for (const node of this.attached.values()) node.owned.clear()
      }
      for (const node of this.attached.values()) {
        if (node.crashed) continue
        for (const l of node.listeners) l.up()
      }
    })
  }

  crash(id: string): Effect.Effect<void> {
    return Effect.sync(() => {
      const node = this.attached.get(id)
      if (node !== undefined) node.crashed = true
    })
  }

  unavailable(node: MemoryNode, operation: string): BackplaneError | undefined {
    if (node.crashed) {
      return new BackplaneError({
        reason: "Unavailable",
        backplane: "memory",
        operation,
        node: node.id,
        detail: "this node was crashed"
      })
    }
    return this.available
      ? undefined
      : new BackplaneError({
        reason: "Unavailable",
        backplane: "memory",
        operation,
        node: node.id,
        detail: "the hub is down"
      })
  }

  set(node: MemoryNode, group: string, m: Member): void {
    let table = this.tables.get(group)
    if (table === undefined) this.tables.set(group, table = new Map())
    table.set(memberKey(node.id, m.session), m)
    node.owned.add(`${group}\n${m.session}`)
  }

  remove(node: MemoryNode, group: string, session: number): void {
    const table = this.tables.get(group)
    if (table !== undefined) {
      table.delete(memberKey(node.id, session))
      if (table.size === 0) this.tables.delete(group)
    }
    node.owned.delete(`${group}\n${session}`)
  }

  removeAll(node: MemoryNode): void {
    for (const entry of [...node.owned]) {
      // the session is digits, the group anything (a newline too)
      const nl = entry.lastIndexOf("\n")
      this.remove(node, entry.slice(0, nl), Number(entry.slice(nl + 1)))
    }
  }

  /** Beats for `node`; true when it had no liveness left (its state may be gone: it must announce again). */
  beat(node: MemoryNode, now: number, ttl: number): boolean {
    const before = this.expires.get(node.id)
    this.expires.set(node.id, now + ttl)
    return before === undefined || before <= now
  }
}

/** See `Backplane.makeHub`. */
export const makeHub = (): Hub => new MemoryHub()

/** See `Backplane.memory`. */
export const memory = (options?: MemoryOptions): Effect.Effect<Backplane, never, Scope.Scope> =>
  Effect.gen(function*() {
    const hub = (options?.hub ?? new MemoryHub()) as MemoryHub
    const id = options?.node ?? makeNodeId()
    if (!isNodeId(id)) {
      throw new RangeError(`Backplane.memory: a node id is 1-64 of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(id)}`)
    }
    if (hub.attached.has(id)) throw new RangeError(`Backplane.memory: node ${id} is already attached to this hub`)
    const { heartbeat, ttl } = heartbeatOf("Backplane.memory", options)
    const node = new MemoryNode(id)
    hub.attached.set(id, node)

    const attempt = <A>(operation: string, f: () => A): Effect.Effect<A, BackplaneError> =>
      Effect.suspend(() => {
        const error = hub.unavailable(node, operation)
        return error === undefined ? Effect.succeed(f()) : Effect.fail(error)
      })

    const beat = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        if (node.crashed || !hub.available) return
        if (hub.beat(node, now, ttl)) { for (const l of node.listeners) l.up() }
      }))
    hub.beat(node, yield* Clock.currentTimeMillis, ttl)
    yield* Effect.forkScoped(Effect.repeat(Effect.delay(beat, Duration.millis(heartbeat)), Schedule.forever))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        // a crashed node leaves its state behind, as a killed process does
        if (!node.crashed) {
          hub.removeAll(node)
          hub.expires.delete(id)
        }
        hub.attached.delete(id)
      })
    )

    const backplane: Backplane = {
      name: "memory",
      node: id,
      publish: (messages: ReadonlyArray<Publication>) =>
        attempt("publish", () => {
          // every subscribed node gets it, this one too (as from a pub/sub server): Groups skips its own
          for (const { group, message } of messages) {
            for (const other of hub.attached.values()) {
              if (other.crashed || !other.subscriptions.has(group)) continue
              for (const l of other.listeners) l.message(group, message)
            }
          }
        }),
      subscribe: (group) => Effect.sync(() => void node.subscriptions.add(group)),
      unsubscribe: (group) => Effect.sync(() => void node.subscriptions.delete(group)),
      update: (changes: ReadonlyArray<MembershipChange>) =>
        attempt("update", () => {
          for (const change of changes) {
            if (change.member === undefined) hub.remove(node, change.group, change.session)
            else hub.set(node, change.group, change.member)
          }
        }),
      announce: (memberships: ReadonlyArray<Membership>) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          attempt("announce", () => {
            hub.removeAll(node)
            for (const { group, member: m } of memberships) hub.set(node, group, m)
            hub.beat(node, now, ttl)
          })),
      members: (group) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          attempt("members", () => {
            const table = hub.tables.get(group)
            if (table === undefined) return []
            const alive: Array<Member> = []
            for (const m of table.values()) if ((hub.expires.get(m.node) ?? 0) > now) alive.push(m)
            return alive
          })),
      listen: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => void node.listeners.add(listener)),
          () => Effect.sync(() => void node.listeners.delete(listener))
        )
    }
    return backplane
  })
