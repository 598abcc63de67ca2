/**
 * The backplane suite over a real redis-server, started by this file on a
 * free port (no persistence) and stopped at the end; its outage test kills
 * it and starts it again, empty. Skipped, with the reason, where
 * redis-server is missing (never on CI).
 */
import { BackplaneConformance } from "@wirekit/core/testing"
import { RedisBackplane } from "@wirekit/redis"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { redisServerProgram, startRedisServer } from "../../../scripts/redis-server.ts"
import type { RedisServer } from "../../../scripts/redis-server.ts"

let server: RedisServer | undefined

beforeAll(async () => {
  if (!redisServerProgram.skip) server = await startRedisServer()
})
afterAll(async () => {
  await server?.close()
})

BackplaneConformance.run({
  name: "redis",
  skip: redisServerProgram.skip ? redisServerProgram.reason : undefined,
  node: ({ namespace, heartbeat, ttl }) =>
    RedisBackplane.make({ url: server!.url, keyPrefix: `test:${namespace}:`, heartbeat, ttl, maxReconnectDelay: "200 millis" }),
  outage: {
    stop: () => Effect.promise(() => server!.stop()),
    start: () => Effect.promise(() => server!.start())
  }
})
