/**
 * The backplane suite over a real redis-server, for each runtime's test
 * folder (node: this package's, bun and deno: theirs): the server is started
 * on a free port (no persistence) before the suite and stopped after it; the
 * outage test kills it and starts it again, empty. Each node reaches it
 * through a TCP relay of its own, so that one node can be cut off for good
 * (a crashed machine: no cleanup, no heartbeat, no reconnection). Skipped,
 * with the reason, where redis-server is missing (never on CI).
 */
import type { Backplane } from "@wirekit/core"
import { RedisBackplane } from "@wirekit/redis"
import { BackplaneConformance } from "@wirekit/testing"
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Net from "node:net"
import { afterAll, beforeAll } from "vitest"
import { redisServerProgram, startRedisServer } from "../../../scripts/redis-server.ts"
import type { RedisServer } from "../../../scripts/redis-server.ts"

/** A relay from a free port of 127.0.0.1 to `port`, and a way to cut it for good. */
export interface Relay {
  readonly port: number
  /** Drops every relayed connection and refuses new ones. */
  readonly cut: () => void
}

export const relay = (port: number): Effect.Effect<Relay, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Relay>((resume) => {
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((client) => {
        const upstream = Net.connect({ host: "127.0.0.1", port })
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on("error", () => {})
          s.on("close", () => {
            sockets.delete(s)
            client.destroy()
            upstream.destroy()
          })
        }
        client.pipe(upstream)
        upstream.pipe(client)
      })
      const cut = () => {
        server.close()
        for (const s of sockets) s.destroy()
      }
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ port: (server.address() as Net.AddressInfo).port, cut })))
    }),
    (r) =>
      Effect.sync(() =>
        r.cut()
      )
  )

/** Registers the suite as `Groups over the redis backplane (RUNTIME)`. */
export const run = (runtime: string): void => {
  let server: RedisServer | undefined

  beforeAll(async () => {
    if (!redisServerProgram.skip) server = await startRedisServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  const relays = new WeakMap<Backplane.Backplane, Relay>()
  BackplaneConformance.run({
    name: "redis",
    title: runtime,
    skip: redisServerProgram.skip ? redisServerProgram.reason : undefined,
    node: ({ namespace, heartbeat, ttl }) =>
      Effect.gen(function*() {
        const via = yield* relay(server!.port)
        const backplane = yield* RedisBackplane.make({
          url: `redis://127.0.0.1:${via.port}`,
          keyPrefix: `test:${namespace}:`,
          heartbeat,
          ttl,
          maxReconnectDelay: "200 millis"
        })
        relays.set(backplane, via)
        return backplane
      }),
    crash: (_, backplane) => Effect.sync(() => relays.get(backplane)!.cut()),
    outage: {
      stop: () => Effect.promise(() => server!.stop()),
      start: () => Effect.promise(() => server!.start())
    }
  })
}
