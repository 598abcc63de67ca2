/**
 * The implementation of `Groups`: the registry of this process's sessions
 * per group (all that `Groups.make` is), and groups over a backplane
 * (`Groups.withBackplane`), which add to it the outgoing queue, the receiving
 * side and the outage handling. The public module holds the types and the
 * documentation.
 */
import { Deferred, Duration, Effect, Exit, Fiber, FiberId, Queue, Runtime } from "effect"
import type { Scope } from "effect"
import type { Member, Membership, MembershipChange, Metadata, Publication } from "../Backplane.ts"
import { Backplane } from "../Backplane.ts"
import type { BackplaneOptions, BroadcastOptions, Groups, GroupsStats, PushCodec } from "../Groups.ts"
import type { Session } from "../Session.ts"
import { BackplaneError, makeNodeId, member, memberKey } from "./backplane.ts"

const EMPTY_META: Metadata = Object.freeze({})

/** What groups over a backplane add to the registry: told of every change, asked for what spans nodes. */
interface Remote<Push> {
  joined(group: string, session: Session<Push>, first: boolean): void
  left(group: string, session: Session<Push>, last: boolean): void
  metaChanged(session: Session<Push>, groups: ReadonlySet<string> | undefined): void
  broadcast(group: string, message: Push, except: Member | undefined): void
  everywhere(group: string, local: ReadonlyArray<Member>): Effect.Effect<ReadonlyArray<Member>, BackplaneError>
  readonly flush: Effect.Effect<void, BackplaneError>
  stats(): GroupsStats
}

const isSession = <Push>(x: Session<Push> | Member): x is Session<Push> =>
  typeof (x as Session<Push>).unsafePush === "function"

/** This process's sessions per group, and the `Groups` object over them. */
class Registry<Push> {
  readonly byName = new Map<string, Set<Session<Push>>>()
  readonly bySession = new Map<Session<Push>, Set<string>>()
  /** Weak: a session's metadata goes with it, whoever forgets to leave. */
  readonly metas = new WeakMap<Session<Push>, Metadata>()
  remote: Remote<Push> | undefined = undefined

  constructor(readonly node: string) {}

  memberOf(session: Session<Push>): Member {
    return member(this.node, session.id, this.metas.get(session))
  }

  /** Pushes to the local members but `exceptSession` (or the one of id `exceptId`); how many it was sent to. */
  deliver(
    group: string,
    message: Push,
    exceptSession: Session<Push> | undefined,
    exceptId: number | undefined
  ): number {
    const members = this.byName.get(group)
    if (members === undefined) return 0
    let sent = 0
    // a snapshot: a push may close a slow member, which leaves the group
    for (const m of [...members]) {
      if (m === exceptSession || m.id === exceptId) continue
      if (m.unsafePush(message)) sent++
    }
    return sent
  }

  /** Every membership of this node, for an announcement. */
  memberships(): Array<Membership> {
    const all: Array<Membership> = []
    for (const [session, names] of this.bySession) {
      const m = this.memberOf(session)
      for (const group of names) all.push({ group, member: m })
    }
    return all
  }

  groups(): Groups<Push> {
    const { byName, bySession, metas, node } = this
    const unsafeJoin = (group: string, session: Session<Push>): void => {
      if (!session.isOpen()) return
      let members = byName.get(group)
      const first = members === undefined
      if (members === undefined) byName.set(group, members = new Set())
      if (members.has(session)) return
      members.add(session)
      let names = bySession.get(session)
      if (names === undefined) bySession.set(session, names = new Set())
      names.add(group)
      this.remote?.joined(group, session, first)
    }
    const unsafeLeave = (group: string, session: Session<Push>): void => {
      const members = byName.get(group)
      if (members === undefined || !members.delete(session)) return
      const last = members.size === 0
      if (last) byName.delete(group)
      const names = bySession.get(session)
      if (names !== undefined) {
        names.delete(group)
        if (names.size === 0) bySession.delete(session)
      }
      this.remote?.left(group, session, last)
    }
    const unsafeLeaveAll = (session: Session<Push>): void => {
      const names = bySession.get(session)
      if (names === undefined) return
      for (const group of [...names]) unsafeLeave(group, session)
    }
    const unsafeBroadcast = (group: string, message: Push, options?: BroadcastOptions<Push>): number => {
      const except = options?.except
      let exceptSession: Session<Push> | undefined
      let exceptId: number | undefined
      if (except !== undefined) {
        if (isSession(except)) exceptSession = except
        else if (except.node === node) exceptId = except.session
      }
      const sent = this.deliver(group, message, exceptSession, exceptId)
      if (this.remote !== undefined) {
        this.remote.broadcast(
          group,
          message,
          exceptSession !== undefined ? member(node, exceptSession.id) : except as Member | undefined
        )
      }
      return sent
    }
    const unsafeSetMeta = (session: Session<Push>, meta: Metadata): void => {
      if (!session.isOpen()) return
      metas.set(session, Object.freeze({ ...meta }))
      this.remote?.metaChanged(session, bySession.get(session))
    }
    const members = (group: string): ReadonlyArray<Session<Push>> => [...(byName.get(group) ?? [])]
    return {
      node,
      join: (group, session) => Effect.sync(() => unsafeJoin(group, session)),
      leave: (group, session) => Effect.sync(() => unsafeLeave(group, session)),
      broadcast: (group, message, options) => Effect.sync(() => unsafeBroadcast(group, message, options)),
      unsafeBroadcast,
      members,
      membersEverywhere: (group) =>
        Effect.suspend(() => {
          const local = members(group).map((s) => this.memberOf(s))
          return this.remote === undefined ? Effect.succeed(local) : this.remote.everywhere(group, local)
        }),
      names: () => [...byName.keys()],
      of: (session) => [...(bySession.get(session) ?? [])],
      setMeta: (session, meta) => Effect.sync(() => unsafeSetMeta(session, meta)),
      unsafeSetMeta,
      meta: (session) => metas.get(session) ?? EMPTY_META,
      flush: Effect.suspend(() => this.remote === undefined ? Effect.void : this.remote.flush),
      stats: () =>
        this.remote?.stats() ?? {
          node,
          backplane: undefined,
          status: "local",
          published: 0,
          received: 0,
          queued: 0,
          dropped: 0,
          undecodable: 0,
          unencodable: 0
        },
      unsafeLeaveAll,
      unsafeJoin,
      unsafeLeave
    }
  }
}

/** See `Groups.make`. */
export const make = <Push>(): Groups<Push> => new Registry<Push>(makeNodeId()).groups()

/** See `Groups.json`. */
export const json: PushCodec<any> = {
  encode: (push) => {
    const text = JSON.stringify(push)
    if (text === undefined) throw new TypeError(`a push of type ${typeof push} has no JSON form`)
    return text
  },
  decode: (text) => JSON.parse(text)
}

/** See `Groups.backplaneDefaults`. */
export const backplaneDefaults = {
  maxQueued: 4096,
  maxBatch: 256,
  timeout: Duration.seconds(5),
  retryInterval: Duration.seconds(1)
} as const

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.Duration): number => {
  const ms = Duration.toMillis(Duration.decode(d ?? fallback))
  if (!(Number.isFinite(ms) && ms > 0)) {
    throw new RangeError(`Groups.withBackplane: durations must be positive and finite, got ${ms}ms`)
  }
  return ms
}

const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** 1, 10, 100, ...: how often a repeated problem is logged (its count is always kept). */
const worthLogging = (n: number): boolean => {
  while (n >= 10 && n % 10 === 0) n /= 10
  return n === 1
}

/**
 * A broadcast for the other nodes, as text: `NODE \n EXCEPT \n PAYLOAD`, EXCEPT
 * being `node/session` or empty (node ids hold no newline or "/").
 */
const envelope = (node: string, except: Member | undefined, payload: string): string =>
  `${node}\n${except === undefined ? "" : memberKey(except.node, except.session)}\n${payload}`

/** See `Groups.withBackplane`. */
export const withBackplane = <Push>(
  options?: BackplaneOptions<Push>
): Effect.Effect<Groups<Push>, never, Backplane | Scope.Scope> =>
  Effect.gen(function*() {
    const backplane = yield* Backplane
    const clock = yield* Effect.clock
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const codec: PushCodec<Push> = options?.codec ?? json
    const maxQueued = options?.maxQueued ?? backplaneDefaults.maxQueued
    if (!(Number.isSafeInteger(maxQueued) && maxQueued > 0)) {
      throw new RangeError(`Groups.withBackplane: maxQueued must be a positive integer, got ${maxQueued}`)
    }
    const timeout = millis(options?.timeout, backplaneDefaults.timeout)
    const retryInterval = millis(options?.retryInterval, backplaneDefaults.retryInterval)
    const { name, node } = backplane
    const registry = new Registry<Push>(node)

    // the outbox: broadcasts for the other nodes, in order, at most maxQueued (an array read from `head`)
    const outbox: Array<Publication> = []
    let head = 0
    const queued = () => outbox.length - head
    /** Membership changes not yet applied, the latest per (group, session). */
    const changes = new Map<string, MembershipChange>()
    /** Groups whose subscription may have to change (the registry says which way when it is done). */
    const subscriptions = new Set<string>()
    let status: "up" | "down" = "up"
    /** The backplane may not hold this node's memberships: the next step announces them all. */
    let needsAnnounce = false
    let downSince = 0
    let droppedInOutage = 0
    let warnedFull = false
    const counts = { published: 0, received: 0, dropped: 0, undecodable: 0, unencodable: 0 }
    /** Membership changes and broadcasts made so far, and how many of them the backplane has taken. */
    let made = 0
    let taken = 0
    /** `flush` callers: each waits until `taken` reaches what was made when it asked. */
    let flushes: Array<{ readonly upto: number; readonly done: Deferred.Deferred<void, BackplaneError> }> = []
    const settle = (upto: number): void => {
      taken = upto
      if (flushes.length === 0) return
      const waiting = flushes
      flushes = []
      for (const f of waiting) {
        if (f.upto <= taken) Deferred.unsafeDone(f.done, Exit.void)
        else flushes.push(f)
      }
    }
    const work = yield* Queue.sliding<void>(1)
    const cameUp = yield* Queue.sliding<void>(1)
    const wake = () => void Queue.unsafeOffer(work, undefined)
    // from the backplane's callbacks and handlers' plain calls: logs go through the runtime
    const log = (effect: Effect.Effect<void>) => void runFork(effect)

    const markDown = (error: BackplaneError): void => {
      needsAnnounce = true
      changes.clear()
      const waiting = flushes
      flushes = []
      for (const f of waiting) Deferred.unsafeDone(f.done, Exit.fail(error))
      if (status === "down") return
      status = "down"
      downSince = clock.unsafeCurrentTimeMillis()
      log(Effect.logWarning(
        `groups: backplane ${name} unavailable (${error.message}); local delivery continues, broadcasts for other ` +
          `nodes are queued (at most ${maxQueued}, then dropped and counted) until it is back`
      ))
    }
    const markUp = (announced: number): void => {
      warnedFull = false
      if (status === "up") return
      status = "up"
      const ms = clock.unsafeCurrentTimeMillis() - downSince
      log(Effect.logInfo(
        `groups: backplane ${name} back after ${ms}ms: ${announced} membership(s) announced again, ` +
          `${queued()} queued broadcast(s) to send, ${droppedInOutage} dropped`
      ))
      droppedInOutage = 0
    }
    const drop = (n: number): void => {
      counts.dropped += n
      droppedInOutage += n
    }
    const change = (group: string, session: number, m: Member | undefined): void => {
      made++
      // while an announcement is due, it will carry the whole state
      if (needsAnnounce) return
      changes.set(`${group}\n${session}`, { group, session, member: m })
      if (changes.size > maxQueued) {
        changes.clear()
        needsAnnounce = true
      }
      wake()
    }
    const subscription = (group: string): void => {
      subscriptions.add(group)
      wake()
    }

    registry.remote = {
      joined: (group, session, first) => {
        if (first) subscription(group)
        change(group, session.id, registry.memberOf(session))
      },
      left: (group, session, last) => {
        if (last) subscription(group)
        change(group, session.id, undefined)
      },
      metaChanged: (session, groups) => {
        if (groups === undefined) return
        const m = registry.memberOf(session)
        for (const group of groups) change(group, session.id, m)
      },
      broadcast: (group, message, except) => {
        let payload: string
        try {
          payload = codec.encode(message)
        } catch (cause) {
          counts.unencodable++
          if (worthLogging(counts.unencodable)) {
            log(Effect.logWarning(
              `groups: a broadcast to ${group} did not encode (${
                messageOf(cause)
              }); delivered on this node only (${counts.unencodable} so far)`
            ))
          }
          return
        }
        if (queued() >= maxQueued) {
          drop(1)
          if (!warnedFull) {
            warnedFull = true
            log(Effect.logWarning(
              `groups: the queue of broadcasts for other nodes is full (${maxQueued}): new ones are dropped ` +
                `(counted in stats().dropped) until it drains`
            ))
          }
          return
        }
        outbox.push({ group, message: envelope(node, except, payload) })
        made++
        wake()
      },
      everywhere: (group, local) =>
        Effect.map(call("members", backplane.members(group)), (all) => {
          // this node's members from its own state: fresher than what it announced
          const out = all.filter((m) => m.node !== node)
          for (const m of local) out.push(m)
          return out
        }),
      flush: Effect.suspend(() => {
        if (status === "down") {
          return Effect.fail(
            new BackplaneError({
              reason: "Unavailable",
              backplane: name,
              operation: "flush",
              node,
              detail: "the backplane is down"
            })
          )
        }
        const upto = made
        if (taken >= upto) return Effect.void
        const done = Deferred.unsafeMake<void, BackplaneError>(FiberId.none)
        const entry = { upto, done }
        flushes.push(entry)
        wake()
        return Deferred.await(done).pipe(
          Effect.timeoutFail({
            duration: Duration.millis(timeout),
            onTimeout: () =>
              new BackplaneError({
                reason: "Timeout",
                backplane: name,
                operation: "flush",
                node,
                detail: `not taken within ${timeout}ms`
              })
          }),
          Effect.ensuring(Effect.sync(() => void (flushes = flushes.filter((f) => f !== entry))))
        )
      }),
      stats: () => ({ node, backplane: name, status, queued: queued(), ...counts })
    }

    const receive = (group: string, text: string): void => {
      const a = text.indexOf("\n")
      const b = a < 0 ? -1 : text.indexOf("\n", a + 1)
      if (b < 0) {
        counts.undecodable++
        return
      }
      // our own broadcasts come back from a pub/sub server: they were delivered here already
      if (text.slice(0, a) === node) return
      if (!registry.byName.has(group)) return
      let message: Push
      try {
        message = codec.decode(text.slice(b + 1))
      } catch (cause) {
        counts.undecodable++
        if (worthLogging(counts.undecodable)) {
          log(Effect.logWarning(
            `groups: a broadcast to ${group} from node ${text.slice(0, a)} did not decode (${
              messageOf(cause)
            }); dropped (${counts.undecodable} so far)`
          ))
        }
        return
      }
      counts.received++
      const except = text.slice(a + 1, b)
      const slash = except.lastIndexOf("/")
      const exceptId = slash > 0 && except.slice(0, slash) === node ? Number(except.slice(slash + 1)) : undefined
      registry.deliver(group, message, undefined, exceptId)
    }

    /** A backplane call, bounded by `timeout`; a defect of the adapter is a failure too. */
    const call = <A>(operation: string, effect: Effect.Effect<A, BackplaneError>): Effect.Effect<A, BackplaneError> =>
      effect.pipe(
        Effect.timeoutFail({
          duration: Duration.millis(timeout),
          onTimeout: () =>
            new BackplaneError({
              reason: "Timeout",
              backplane: name,
              operation,
              node,
              detail: `no answer within ${timeout}ms`
            })
        }),
        Effect.catchAllDefect((cause) =>
          Effect.fail(
            new BackplaneError({ reason: "Failed", backplane: name, operation, node, detail: String(cause), cause })
          )
        )
      )

    const takeBatch = (max: number): Array<Publication> => {
      const batch = outbox.slice(head, head + Math.min(max, backplaneDefaults.maxBatch))
      head += batch.length
      if (head === outbox.length) {
        outbox.length = 0
        head = 0
      } else if (head > 1024 && head * 2 > outbox.length) {
        outbox.splice(0, head)
        head = 0
      }
      return batch
    }

    /** One round of work; false when the backplane failed (then: wait for it). */
    const step: Effect.Effect<boolean> = Effect.gen(function*() {
      // what this step hands over: every change and broadcast made before it starts
      const upto = made
      let pending = queued()
      if (subscriptions.size > 0) {
        const batch = [...subscriptions]
        subscriptions.clear()
        for (const group of batch) {
          // members may have left and joined since it was asked: the registry decides
          const want = registry.byName.has(group)
          yield* Effect.either(call("subscribe", want ? backplane.subscribe(group) : backplane.unsubscribe(group)))
        }
      }
      if (needsAnnounce) {
        needsAnnounce = false
        changes.clear()
        const snapshot = registry.memberships()
        const announced = yield* Effect.either(call("announce", backplane.announce(snapshot)))
        if (announced._tag === "Left") {
          markDown(announced.left)
          return false
        }
        markUp(snapshot.length)
      }
      if (changes.size > 0) {
        const batch = [...changes.values()]
        changes.clear()
        const updated = yield* Effect.either(call("update", backplane.update(batch)))
        if (updated._tag === "Left") {
          markDown(updated.left)
          return false
        }
      }
      while (pending > 0) {
        const batch = takeBatch(pending)
        pending -= batch.length
        const published = yield* Effect.either(call("publish", backplane.publish(batch)))
        if (published._tag === "Left") {
          // what part of it went out is unknown: dropped, not sent twice
          drop(batch.length)
          markDown(published.left)
          return false
        }
        counts.published += batch.length
      }
      if (queued() === 0) warnedFull = false
      settle(upto)
      return true
    })

    const idle = () =>
      !needsAnnounce && changes.size === 0 && subscriptions.size === 0 && queued() === 0 && flushes.length === 0
    const worker = yield* Effect.forkScoped(Effect.gen(function*() {
      for (;;) {
        if (yield* step) {
          if (idle()) yield* Queue.take(work)
        } else {
          // down: try again when the backplane says it is back, or after retryInterval
          yield* Effect.race(Queue.take(cameUp), Effect.sleep(Duration.millis(retryInterval)))
        }
      }
    }))

    yield* backplane.listen({
      // called from the backplane's own callbacks (a socket's data event): whatever goes wrong
      // with one message stays with it
      message: (group, text) => {
        try {
          receive(group, text)
        } catch (cause) {
          counts.undecodable++
          log(
            Effect.logWarning(`groups: a broadcast to ${group} could not be delivered (${messageOf(cause)}); dropped`)
          )
        }
      },
      up: () => {
        needsAnnounce = true
        changes.clear()
        Queue.unsafeOffer(cameUp, undefined)
        wake()
      },
      down: markDown
    })

    // runs before the worker's own interruption (finalizers run in reverse): what is still queued
    // (e.g. the leave notices of the connections the server's shutdown closed) goes out, then this
    // node's memberships are withdrawn
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(worker)
        if (status === "down") return
        while (queued() > 0) {
          const batch = takeBatch(queued())
          const published = yield* Effect.either(call("publish", backplane.publish(batch)))
          if (published._tag === "Left") return
        }
        yield* Effect.ignore(call("announce", backplane.announce([])))
      })
    )

    return registry.groups()
  })
