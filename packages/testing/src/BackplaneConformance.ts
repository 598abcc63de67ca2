/**
 * The backplane conformance suite: what `Groups.withBackplane` promises over
 * a backplane, checked with several nodes (each a backplane of its own, as
 * separate processes would have): broadcasts across nodes and their order,
 * members everywhere with metadata, `except` naming a remote member, a
 * node's clean stop and its crash (members gone within the TTL), an outage
 * (typed errors, local delivery, the bounded queue, recovery with the
 * memberships announced again), payloads that do not encode or decode. Run
 * over the in-process backplane (`packages/core/test`) and Redis
 * (`packages/redis/test`). Every test runs on the real clock.
 *
 * @example
 * ```ts
 * // packages/core/test/backplane.memory.test.ts
 * const hubs = new Map<string, Backplane.Hub>()
 * const hub = (ns: string) => hubs.get(ns) ?? hubs.set(ns, Backplane.makeHub()).get(ns)!
 * BackplaneConformance.run({
 *   name: "memory",
 *   node: ({ namespace, heartbeat, ttl }) => Backplane.memory({ hub: hub(namespace), heartbeat, ttl }),
 *   crash: (namespace, node) => hub(namespace).crash(node.node),
 *   outage: { stop: (ns) => hub(ns).setAvailable(false), start: (ns) => hub(ns).setAvailable(true, { lose: true }) }
 * })
 * ```
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import { Backplane } from "@wirekit/core"
import { Groups } from "@wirekit/core"
import type { Session as Session$ } from "@wirekit/core"
import { Duration, Effect, Exit, Schedule, Scope } from "effect"
import { expect } from "vitest"
type Session<A = unknown> = Session$.Session<A>

/**
 * How the suite makes nodes and, optionally, crashes and outages.
 * @since 0.1.0
 * @category options
 */
export interface BackplaneConformanceOptions {
  /** The backplane's name (what `Backplane.name` is). */
  readonly name: string
  /** Added to the suite's title (e.g. the runtime). */
  readonly title?: string | undefined
  /**
   * A new node (a backplane of its own, as in another process) of
   * `namespace`: the nodes of one namespace share groups; each test uses a
   * fresh one.
   */
  readonly node: (options: {
    readonly namespace: string
    readonly heartbeat: Duration.DurationInput
    readonly ttl: Duration.DurationInput
  }) => Effect.Effect<Backplane.Backplane, Backplane.BackplaneError, Scope.Scope>
  /** Kills a node as a killed process dies (no cleanup). Absent: that test is skipped. */
  readonly crash?: ((namespace: string, node: Backplane.Backplane) => Effect.Effect<void>) | undefined
  /**
   * Takes the backplane away for every node (`stop`), and brings it back
   * having lost its state (`start`), as a restarted server without
   * persistence. Absent: that test is skipped.
   */
  readonly outage?: {
    readonly stop: (namespace: string) => Effect.Effect<void>
    readonly start: (namespace: string) => Effect.Effect<void>
  } | undefined
  /** When set, the whole suite is skipped and this says why (e.g. a server missing here). */
  readonly skip?: string | undefined
}

/** A stand-in session: what `Groups` uses of one (an id, open or not, pushes into an inbox). */
interface Fake {
  readonly session: Session<unknown>
  readonly inbox: Array<unknown>
  close(): void
}

const fake = (id: number): Fake => {
  const inbox: Array<unknown> = []
  let open = true
  const session = {
    id,
    isOpen: () => open,
    unsafePush: (message: unknown) => {
      if (!open) return false
      inbox.push(message)
      return true
    }
  } as unknown as Session<unknown>
  return { session, inbox, close: () => void (open = false) }
}

/** Polls `check` every 20 ms until it holds; fails with `what` after `ms`. */
const eventually = <E>(what: string, check: Effect.Effect<boolean, E>, ms = 5000) =>
  Effect.flatMap(Effect.either(check), (r) => (r._tag === "Right" && r.right ? Effect.void : Effect.fail("not yet")))
    .pipe(
      Effect.retry(Schedule.spaced("20 millis")),
      Effect.timeoutFail({
        duration: Duration.millis(ms),
        onTimeout: () => new Error(`still not true after ${ms}ms: ${what}`)
      })
    )

const nicks = (members: ReadonlyArray<Backplane.Member>) =>
  members.map((m) => m.meta.nick ?? `${m.node}/${m.session}`).sort()

let namespaces = 0

/**
 * Registers the suite.
 * @since 0.1.0
 * @category suites
 */
export const run = (options: BackplaneConformanceOptions): void => {
  const { name } = options
  const base = `Groups over the ${name} backplane${options.title === undefined ? "" : ` (${options.title})`}`
  const title = options.skip === undefined ? base : `${base} [skipped: ${options.skip}]`

  describe.skipIf(options.skip !== undefined)(title, () => {
    /** A fresh namespace and a way to add nodes to it (each with its Groups). */
    const cluster = Effect.sync(() => {
      const namespace = `ns${++namespaces}-${Date.now().toString(36)}`
      const node = (
        groupsOptions?: Groups.BackplaneOptions<unknown>,
        heartbeat: Duration.DurationInput = "100 millis",
        ttl: Duration.DurationInput = "600 millis"
      ) =>
        Effect.gen(function*() {
          const backplane = yield* options.node({ namespace, heartbeat, ttl })
          const groups = yield* Groups.withBackplane<unknown>({ retryInterval: "100 millis", ...groupsOptions }).pipe(
            Effect.provideService(Backplane.Backplane, backplane)
          )
          return { backplane, groups }
        })
      return { namespace, node }
    })

    it.scopedLive("a broadcast reaches the group's members on every node; its count is this node's deliveries", () =>
      Effect.gen(function*() {
        const { node } = yield* cluster
        const a = yield* node()
        const b = yield* node()
        const [a1, a2, b1, b2] = [fake(1), fake(2), fake(1), fake(2)]
        a.groups.unsafeJoin("room", a1.session)
        a.groups.unsafeJoin("room", a2.session)
        b.groups.unsafeJoin("room", b1.session)
        b.groups.unsafeJoin("other", b2.session)
        yield* eventually(
          "both nodes list the three members",
          Effect.map(a.groups.membersEverywhere("room"), (m) => m.length === 3)
        )
        yield* eventually(
          "both nodes list the three members",
          Effect.map(b.groups.membersEverywhere("room"), (m) => m.length === 3)
        )

        expect(a.groups.unsafeBroadcast("room", "hi", { except: a1.session })).toBe(1)
        yield* eventually("b1 got it", Effect.sync(() => b1.inbox.length === 1))
        expect(yield* b.groups.broadcast("room", { from: "b", n: 1 })).toBe(1)
        yield* eventually("a1 and a2 got it", Effect.sync(() => a1.inbox.length === 1 && a2.inbox.length === 2))
        // a node never gets its own broadcast twice, nor one for a group it has no member in
        yield* Effect.sleep("100 millis")
        expect(a1.inbox).toEqual([{ from: "b", n: 1 }])
        expect(a2.inbox).toEqual(["hi", { from: "b", n: 1 }])
        expect(b1.inbox).toEqual(["hi", { from: "b", n: 1 }])
        expect(b2.inbox).toEqual([])
        expect(a.groups.stats()).toMatchObject({ backplane: name, status: "up", published: 1, received: 1, dropped: 0 })
        expect(a.groups.node).toBe(a.backplane.node)
        expect(a.groups.node).not.toBe(b.groups.node)
      }))

    it.scopedLive("one node's 1,000 broadcasts arrive on another node in the order they were made", () =>
      Effect.gen(function*() {
        const { node } = yield* cluster
        const a = yield* node()
        const b = yield* node()
        const receiver = fake(7)
        b.groups.unsafeJoin("stream", receiver.session)
        yield* eventually(
          "a sees the receiver",
          Effect.map(a.groups.membersEverywhere("stream"), (m) => m.length === 1)
        )
        for (let n = 0; n < 1000; n++) a.groups.unsafeBroadcast("stream", { n })
        yield* eventually("1,000 arrived", Effect.sync(() => receiver.inbox.length >= 1000), 15_000)
        expect(receiver.inbox.map((m) => (m as { n: number }).n)).toEqual(Array.from({ length: 1000 }, (_, n) => n))
      }))

    it.scopedLive("membersEverywhere lists every node's members with their metadata, and follows leaves, closes and renames", () =>
      Effect.gen(function*() {
        const { node } = yield* cluster
        const a = yield* node()
        const b = yield* node()
        const [alice, bob, carol] = [fake(1), fake(1), fake(2)]
        a.groups.unsafeSetMeta(alice.session, { nick: "alice" })
        a.groups.unsafeJoin("lobby", alice.session)
        b.groups.unsafeJoin("lobby", bob.session)
        b.groups.unsafeSetMeta(bob.session, { nick: "bob" })
        b.groups.unsafeJoin("lobby", carol.session)
        yield* b.groups.setMeta(carol.session, { nick: "carol" })
        const everywhere = (g: Groups.Groups<unknown>) => Effect.map(g.membersEverywhere("lobby"), nicks)
        yield* eventually(
          "a lists alice, bob, carol",
          Effect.map(everywhere(a.groups), (n) => n.join() === "alice,bob,carol")
        )
        const listed = yield* a.groups.membersEverywhere("lobby")
        expect(listed.find((m) => m.meta.nick === "bob")).toEqual({
          node: b.groups.node,
          session: 1,
          meta: { nick: "bob" }
        })
        expect(listed.find((m) => m.meta.nick === "alice")).toEqual({
          node: a.groups.node,
          session: 1,
          meta: { nick: "alice" }
        })
        // the synchronous views stay this node's
        expect(a.groups.members("lobby")).toEqual([alice.session])
        expect(b.groups.meta(bob.session)).toEqual({ nick: "bob" })

        b.groups.unsafeSetMeta(bob.session, { nick: "robert" })
        yield* eventually(
          "a sees the rename",
          Effect.map(everywhere(a.groups), (n) => n.join() === "alice,carol,robert")
        )
        b.groups.unsafeLeave("lobby", bob.session)
        yield* eventually("a sees bob leave", Effect.map(everywhere(a.groups), (n) => n.join() === "alice,carol"))
        // what the server does when a connection ends
        carol.close()
        b.groups.unsafeLeaveAll(carol.session)
        yield* eventually("a sees carol gone", Effect.map(everywhere(a.groups), (n) => n.join() === "alice"))
        expect(yield* everywhere(b.groups)).toEqual(["alice"])
        // a closed session joins nothing
        b.groups.unsafeJoin("lobby", carol.session)
        expect(b.groups.members("lobby")).toEqual([])
      }))

    it.scopedLive("flush: once it returns, the other nodes see what this node changed before it", () =>
      Effect.gen(function*() {
        const { node } = yield* cluster
        const a = yield* node()
        const b = yield* node()
        const b1 = fake(1)
        for (let round = 0; round < 20; round++) {
          b.groups.unsafeJoin(`room-${round}`, b1.session)
          b.groups.unsafeSetMeta(b1.session, { nick: `bob-${round}` })
          yield* b.groups.flush
          // no waiting: the change is there as soon as flush returns
          expect(nicks(yield* a.groups.membersEverywhere(`room-${round}`))).toEqual([`bob-${round}`])
        }
        b.groups.unsafeLeaveAll(b1.session)
        yield* b.groups.flush
        expect(yield* a.groups.membersEverywhere("room-0")).toEqual([])
        // nothing to hand over: at once
        yield* b.groups.flush
        yield* Groups.make().flush
      }))

    it.scopedLive("except names one member of any node: that member alone is skipped", () =>
      Effect.gen(function*() {
        const { node } = yield* cluster
        const a = yield* node()
        const b = yield* node()
        const [a1, b1, b2] = [fake(1), fake(1), fake(2)]
        a.groups.unsafeJoin("room", a1.session)
        b.groups.unsafeJoin("room", b1.session)
        b.groups.unsafeJoin("room", b2.session)
        yield* eventually("a lists three", Effect.map(a.groups.membersEverywhere("room"), (m) => m.length === 3))
        const target = (yield* a.groups.membersEverywhere("room")).find((m) =>
          m.node === b.groups.node && m.session === 1
        )!
        // session 1 of node b, not session 1 of node a
        expect(a.groups.unsafeBroadcast("room", "not for b1", { except: target })).toBe(1)
        yield* eventually("b2 got it", Effect.sync(() => b2.inbox.length === 1))
        yield* Effect.sleep("100 millis")
        expect(b1.inbox).toEqual([])
        expect(a1.inbox).toEqual(["not for b1"])
      }))

    it.scopedLive("a node's clean stop removes its members at once; the others go on", () =>
      Effect.gen(function*() {
        const { node } = yield* cluster
        // a TTL long enough that only the cleanup can explain the members' going
        const a = yield* node(undefined, "1 second", "30 seconds")
        const scope = yield* Scope.make()
        const b = yield* Scope.extend(node(undefined, "1 second", "30 seconds"), scope)
        const [a1, b1] = [fake(1), fake(1)]
        a.groups.unsafeJoin("room", a1.session)
        b.groups.unsafeJoin("room", b1.session)
        yield* eventually("a lists both", Effect.map(a.groups.membersEverywhere("room"), (m) => m.length === 2))
        yield* Scope.close(scope, Exit.void)
        yield* eventually(
          "b's member is gone",
          Effect.map(a.groups.membersEverywhere("room"), (m) => m.length === 1),
          3000
        )
        expect(a.groups.unsafeBroadcast("room", "still here")).toBe(1)
      }))

    it.scopedLive.skipIf(options.crash === undefined)(
      "a crashed node's members disappear once its TTL passes",
      () =>
        Effect.gen(function*() {
          const { namespace, node } = yield* cluster
          const a = yield* node()
          const b = yield* node()
          const [a1, b1] = [fake(1), fake(1)]
          a.groups.unsafeJoin("room", a1.session)
          b.groups.unsafeJoin("room", b1.session)
          yield* eventually("a lists both", Effect.map(a.groups.membersEverywhere("room"), (m) => m.length === 2))
          yield* options.crash!(namespace, b.backplane)
          // the TTL is 600 ms: listed a little longer at most (a beat's interval), then gone
          yield* eventually(
            "b's member is gone",
            Effect.map(a.groups.membersEverywhere("room"), (m) => m.length === 1),
            2000
          )
          expect((yield* a.groups.membersEverywhere("room")).map((m) => m.node)).toEqual([a.groups.node])
        })
    )

    it.scopedLive.skipIf(options.outage === undefined)(
      "an outage: typed errors, local delivery goes on, a bounded queue that counts what it drops, and recovery announces every membership again",
      () =>
        Effect.gen(function*() {
          const { namespace, node } = yield* cluster
          const a = yield* node({ maxQueued: 10 })
          const b = yield* node()
          const [a1, a2, b1] = [fake(1), fake(2), fake(1)]
          a.groups.unsafeSetMeta(a1.session, { nick: "a1" })
          a.groups.unsafeJoin("room", a1.session)
          a.groups.unsafeJoin("room", a2.session)
          b.groups.unsafeJoin("room", b1.session)
          yield* eventually("b lists three", Effect.map(b.groups.membersEverywhere("room"), (m) => m.length === 3))

          yield* options.outage!.stop(namespace)
          yield* eventually("a knows it is down", Effect.sync(() => a.groups.stats().status === "down"))
          const error = yield* Effect.flip(a.groups.membersEverywhere("room"))
          expect(error._tag).toBe("BackplaneError")
          expect((yield* Effect.flip(a.groups.flush))._tag).toBe("BackplaneError")
          expect(error.backplane).toBe(name)
          expect(["Unavailable", "Timeout"]).toContain(error.reason)
          // local delivery does not wait for the backplane
          expect(a.groups.unsafeBroadcast("room", "local", { except: a1.session })).toBe(1)
          expect(a2.inbox).toEqual(["local"])
          // membership changes during the outage are carried by the announcement after it
          a.groups.unsafeJoin("late", a2.session)
          for (let n = 0; n < 25; n++) a.groups.unsafeBroadcast("room", { n })
          const during = a.groups.stats()
          expect(during.queued).toBeLessThanOrEqual(10)
          expect(during.queued + during.dropped).toBe(26)
          expect(during.dropped).toBeGreaterThanOrEqual(16)

          yield* options.outage!.start(namespace)
          yield* eventually(
            "both are up",
            Effect.sync(() => a.groups.stats().status === "up" && b.groups.stats().status === "up"),
            10_000
          )
          // the backplane lost everything: what b lists now was announced again
          yield* eventually(
            "b lists a's members again",
            Effect.map(
              b.groups.membersEverywhere("room"),
              (m) => m.filter((x) => x.node === a.groups.node).length === 2
            ),
            10_000
          )
          yield* eventually(
            "b lists the join made during the outage",
            Effect.map(b.groups.membersEverywhere("late"), (m) => m.length === 1),
            10_000
          )
          expect((yield* b.groups.membersEverywhere("room")).find((m) => m.meta.nick === "a1")?.node).toBe(
            a.groups.node
          )
          // and broadcasts cross again (b's subscription restored)
          yield* eventually(
            "a broadcast made after the outage reaches b",
            Effect.sync(() => {
              a.groups.unsafeBroadcast("room", "after")
              return b1.inbox.includes("after")
            }),
            10_000
          )
          yield* eventually(
            "and back",
            Effect.sync(() => {
              b.groups.unsafeBroadcast("room", "from b")
              return a1.inbox.includes("from b")
            }),
            10_000
          )
          // the queue of the outage was sent (what the probes above queued too, once flushed)
          yield* a.groups.flush
          expect(a.groups.stats().queued).toBe(0)
        })
    )

    it.scopedLive("a push that does not encode stays on this node; one that does not decode is dropped; both are counted", () =>
      Effect.gen(function*() {
        const { node } = yield* cluster
        const a = yield* node()
        const b = yield* node()
        const [a1, a2, b1] = [fake(1), fake(2), fake(1)]
        a.groups.unsafeJoin("room", a1.session)
        a.groups.unsafeJoin("room", a2.session)
        b.groups.unsafeJoin("room", b1.session)
        yield* eventually("a lists three", Effect.map(a.groups.membersEverywhere("room"), (m) => m.length === 3))
        // the default codec is JSON: a bigint has no JSON form
        expect(a.groups.unsafeBroadcast("room", { n: 1n }, { except: a1.session })).toBe(1)
        expect(a2.inbox).toEqual([{ n: 1n }])
        expect(a.groups.stats().unencodable).toBe(1)
        // garbage from another node (not an envelope; an envelope whose payload is not JSON)
        yield* a.backplane.publish([{ group: "room", message: "garbage" }, {
          group: "room",
          message: "x\n\n{not json"
        }])
        a.groups.unsafeBroadcast("room", "fine")
        yield* eventually("the next broadcast arrives", Effect.sync(() => b1.inbox.length === 1))
        expect(b1.inbox).toEqual(["fine"])
        expect(b.groups.stats().undecodable).toBe(2)
      }))

    it.scopedLive("a codec: pushes cross as it encodes them and are checked as they arrive", () =>
      Effect.gen(function*() {
        const { node } = yield* cluster
        const codec: Groups.PushCodec<unknown> = {
          encode: (push) => `<${String(push)}>`,
          decode: (text) => {
            if (!text.startsWith("<")) throw new Error("not ours")
            return text.slice(1, -1).toUpperCase()
          }
        }
        const a = yield* node({ codec })
        const b = yield* node({ codec })
        const b1 = fake(1)
        b.groups.unsafeJoin("room", b1.session)
        yield* eventually("a lists b1", Effect.map(a.groups.membersEverywhere("room"), (m) => m.length === 1))
        a.groups.unsafeBroadcast("room", "hello")
        yield* eventually("b1 got it", Effect.sync(() => b1.inbox.length === 1))
        expect(b1.inbox).toEqual(["HELLO"])
      }))
  })
}
