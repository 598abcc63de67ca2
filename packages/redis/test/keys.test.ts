/**
 * What the Redis backplane leaves in Redis: a dead node's memberships are
 * swept by a live node's heartbeat, and a clean stop leaves no key behind.
 * Read with a plain ioredis client from the redis-server this file starts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Backplane, Groups } from "@wirekit/core"
import type { Session } from "@wirekit/core"
import { RedisBackplane } from "@wirekit/redis"
import { Effect, Exit, Schedule, Scope } from "effect"
import { Redis } from "ioredis"
import { afterAll, beforeAll } from "vitest"
import { redisServerProgram, startRedisServer } from "../../../scripts/redis-server.ts"
import type { RedisServer } from "../../../scripts/redis-server.ts"
import { relay } from "./redisSuite.ts"

let server: RedisServer | undefined

beforeAll(async () => {
  if (!redisServerProgram.skip) server = await startRedisServer()
})
afterAll(async () => {
  await server?.close()
})

const fake = (id: number) => ({ id, isOpen: () => true, unsafePush: () => true }) as unknown as Session.Session<unknown>

/** Retries `check` every 50 ms until it passes; fails after 5 s. */
const eventually = <A>(check: Effect.Effect<A, unknown>) =>
  check.pipe(Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 }))

describe.skipIf(redisServerProgram.skip)(redisServerProgram.title("RedisBackplane's keys"), () => {
  it.scopedLive("a dead node's memberships are swept by a live node's heartbeat; a clean stop leaves no key", () =>
    Effect.gen(function*() {
      const prefix = "keys-test:"
      const admin = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(server!.url)),
        (r) => Effect.sync(() => r.disconnect())
      )
      const node = (url: string) =>
        Effect.gen(function*() {
          const backplane = yield* RedisBackplane.make({
            url,
            keyPrefix: prefix,
            heartbeat: "100 millis",
            ttl: "500 millis"
          })
          const groups = yield* Groups.withBackplane<unknown>().pipe(
            Effect.provideService(Backplane.Backplane, backplane)
          )
          return { backplane, groups }
        })
      const scopeA = yield* Scope.make()
      const a = yield* Scope.extend(node(server!.url), scopeA)
      const via = yield* relay(server!.port)
      const b = yield* node(`redis://127.0.0.1:${via.port}`)
      const a1 = fake(1)
      a.groups.unsafeJoin("room", a1)
      a.groups.unsafeSetMeta(a1, { nick: "alice" })
      b.groups.unsafeJoin("room", fake(1))
      b.groups.unsafeJoin("other", fake(2))
      // a group name may hold anything, a newline and digits too
      b.groups.unsafeJoin("odd\n7", fake(3))

      yield* eventually(
        Effect.flatMap(
          Effect.promise(() => admin.hlen(`${prefix}members:room`)),
          (n) => (n === 2 ? Effect.void : Effect.fail(n))
        )
      )
      expect(yield* Effect.promise(() => admin.hget(`${prefix}members:room`, `${a.groups.node}/1`))).toBe(
        `{"nick":"alice"}`
      )
      expect((yield* Effect.promise(() => admin.zrange(`${prefix}nodes`, 0, -1))).sort()).toEqual(
        [a.groups.node, b.groups.node].sort()
      )
      expect((yield* Effect.promise(() => admin.hkeys(`${prefix}node:${b.groups.node}`))).sort()).toEqual([
        "odd\n7\n3",
        "other\n2",
        "room\n1"
      ])

      // b is cut off for good: after its TTL, a's heartbeat removes everything of b's
      via.cut()
      yield* eventually(
        Effect.flatMap(
          Effect.promise(() => admin.exists(`${prefix}node:${b.groups.node}`)),
          (n) => (n === 0 ? Effect.void : Effect.fail(n))
        )
      )
      expect(yield* Effect.promise(() => admin.hkeys(`${prefix}members:room`))).toEqual([`${a.groups.node}/1`])
      expect(yield* Effect.promise(() => admin.exists(`${prefix}members:other`, `${prefix}members:odd\n7`))).toBe(0)
      expect(yield* Effect.promise(() => admin.zrange(`${prefix}nodes`, 0, -1))).toEqual([a.groups.node])

      // a clean stop of a leaves nothing
      yield* Scope.close(scopeA, Exit.void)
      expect(yield* Effect.promise(() => admin.keys(`${prefix}*`))).toEqual([])
    }))
})
