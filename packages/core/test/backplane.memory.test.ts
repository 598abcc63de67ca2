/**
 * Groups across nodes over the in-process backplane (a hub per test
 * namespace), and what groups without a backplane answer to the questions
 * that span nodes.
 */
import { describe, it } from "@effect/vitest"
import { Backplane, Groups } from "@wirekit/core"
import type { Session } from "@wirekit/core"
import { BackplaneConformance } from "@wirekit/testing"
import { Effect, Schema } from "effect"
import { expect } from "vitest"

const hubs = new Map<string, Backplane.Hub>()
const hub = (namespace: string): Backplane.Hub => {
  let h = hubs.get(namespace)
  if (h === undefined) hubs.set(namespace, h = Backplane.makeHub())
  return h
}

BackplaneConformance.run({
  name: "memory",
  node: ({ namespace, heartbeat, ttl }) => Backplane.memory({ hub: hub(namespace), heartbeat, ttl }),
  crash: (namespace, node) => hub(namespace).crash(node.node),
  outage: {
    stop: (namespace) => hub(namespace).setAvailable(false),
    start: (namespace) => hub(namespace).setAvailable(true, { lose: true })
  }
})

const fake = (id: number) => {
  const inbox: Array<unknown> = []
  const session = {
    id,
    isOpen: () => true,
    unsafePush: (m: unknown) => (inbox.push(m), true)
  } as unknown as Session.Session<unknown>
  return { session, inbox }
}

describe("Groups without a backplane", () => {
  it.effect("membersEverywhere lists this node's members with their metadata; stats say local", () =>
    Effect.gen(function*() {
      const groups = Groups.make<unknown>()
      const [a, b] = [fake(1), fake(2)]
      groups.unsafeJoin("room", a.session)
      groups.unsafeJoin("room", b.session)
      groups.unsafeSetMeta(a.session, { nick: "alice" })
      const members = yield* groups.membersEverywhere("room")
      expect(members).toEqual([
        { node: groups.node, session: 1, meta: { nick: "alice" } },
        { node: groups.node, session: 2, meta: {} }
      ])
      expect(Backplane.isNodeId(groups.node)).toBe(true)
      expect(groups.node).not.toBe(Groups.make().node)
      // except as a member of this node, as listed
      expect(groups.unsafeBroadcast("room", "hi", { except: members[0]! })).toBe(1)
      expect(a.inbox).toEqual([])
      expect(b.inbox).toEqual(["hi"])
      expect(groups.stats()).toEqual({
        node: groups.node,
        backplane: undefined,
        status: "local",
        published: 0,
        received: 0,
        queued: 0,
        dropped: 0,
        undecodable: 0,
        unencodable: 0
      })
    }))

  it("schemaCodec encodes through the schema and refuses what does not match it", () => {
    const Push = Schema.Struct({ at: Schema.Date, text: Schema.String })
    const codec = Groups.schemaCodec(Push)
    const at = new Date("2026-01-02T03:04:05.000Z")
    const text = codec.encode({ at, text: "hi" })
    expect(JSON.parse(text)).toEqual({ at: "2026-01-02T03:04:05.000Z", text: "hi" })
    expect(codec.decode(text)).toEqual({ at, text: "hi" })
    expect(() => codec.decode(`{"at":"2026-01-02T03:04:05.000Z"}`)).toThrow()
    expect(() => Groups.json.encode(1n)).toThrow()
  })

  it("the memory backplane refuses a bad node id and a TTL shorter than its heartbeat", () => {
    expect(() => Effect.runSync(Effect.scoped(Backplane.memory({ node: "a/b" })))).toThrow(/node id/)
    expect(() => Effect.runSync(Effect.scoped(Backplane.memory({ heartbeat: "1 second", ttl: "1 second" })))).toThrow(
      /ttl/
    )
  })
})

describe("Groups over a backplane that stops answering", () => {
  it.scopedLive("a call past the timeout fails typed (Timeout), local delivery goes on, and the queue is sent once it answers again", () =>
    Effect.gen(function*() {
      const hub = Backplane.makeHub()
      const real = yield* Backplane.memory({ hub })
      const other = yield* Backplane.memory({ hub })
      // a backplane whose calls hang while `stalled` (a server that accepts and never answers)
      let stalled = false
      const hang = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
        Effect.suspend(() => (stalled ? Effect.never : effect))
      const stalling: Backplane.Backplane = {
        ...real,
        publish: (messages) => hang(real.publish(messages)),
        update: (changes) => hang(real.update(changes)),
        announce: (memberships) => hang(real.announce(memberships)),
        members: (group) => hang(real.members(group))
      }
      const a = yield* Groups.withBackplane<unknown>({ timeout: "100 millis", retryInterval: "50 millis" }).pipe(
        Effect.provideService(Backplane.Backplane, stalling)
      )
      const b = yield* Groups.withBackplane<unknown>().pipe(Effect.provideService(Backplane.Backplane, other))
      const [a1, a2, b1] = [fake(1), fake(2), fake(1)]
      a.unsafeJoin("room", a1.session)
      a.unsafeJoin("room", a2.session)
      b.unsafeJoin("room", b1.session)
      const listed = () => Effect.map(b.membersEverywhere("room"), (m) => m.length === 3)
      while (!(yield* listed())) yield* Effect.sleep("10 millis")

      stalled = true
      const error = yield* Effect.flip(a.membersEverywhere("room"))
      expect(error).toMatchObject({
        _tag: "BackplaneError",
        reason: "Timeout",
        backplane: "memory",
        operation: "members"
      })
      expect(a.unsafeBroadcast("room", "during", { except: a1.session })).toBe(1)
      expect(a2.inbox).toEqual(["during"])
      while (a.stats().status !== "down") yield* Effect.sleep("10 millis")
      // the publish that timed out may have gone out or not: dropped and counted, never sent twice
      expect(a.stats().dropped).toBe(1)
      a.unsafeBroadcast("room", "queued")
      expect(a.stats().queued).toBe(1)

      stalled = false
      while (!b1.inbox.includes("queued")) yield* Effect.sleep("10 millis")
      expect(a.stats()).toMatchObject({ status: "up", queued: 0, dropped: 1 })
      expect(b1.inbox).toEqual(["queued"])
    }).pipe(Effect.timeout("5 seconds")))
})
