/**
 * Bench server (bench/scale.mjs): the typed kv service of bench/src/kv.ts served by N worker
 * processes (`Workers.run`), on whichever runtime runs this file (Node, Bun or Deno).
 *
 *   node --import tsx bench/servers/wirekit-kv-workers.ts --port P --host 127.0.0.1 --workers 2 [--variant rpc|gen]
 *   bun run bench/servers/wirekit-kv-workers.ts …      deno run -A bench/servers/wirekit-kv-workers.ts …
 *
 * Every worker holds its own store, so each one starts with the load generator's keys
 * (`key:0` … `key:999`, `--mode kv`) already stored: the load's answers are then the same
 * whichever worker a connection lands on (its setup Puts store the same values again).
 * Each worker prints `LISTENING <port>` when it listens; with more than one worker the
 * primary then logs `N workers ready`. SIGTERM / SIGINT: the workers drain, exit 0.
 */
import { Address, ProtocolServer } from "@wirekit/core"
import type { Transport } from "@wirekit/core"
import { Effect, Layer } from "effect"
import { parseFlags } from "../src/flags.ts"
import { handler, Store } from "../src/kv-service.ts"
import { Kv, KvRpc, rpcHandler } from "../src/kv.ts"

/** The load generator's keys (bench/loadgen/loadgen.c: KV_KEYS, kv_value). */
const KEYS = 1000
const valueOf = (i: number) => `val:${i}:abcdefghijklmnopqrstuvwx`

/** A store that starts with the load generator's keys. */
const PreloadedStore = Layer.sync(Store, () => {
  const data = new Map<string, string>()
  for (let i = 0; i < KEYS; i++) data.set(`key:${i}`, valueOf(i))
  return Store.of({
    get: (key) => data.get(key),
    set: (key, value) => {
      data.set(key, value)
    }
  })
})

const args: ReadonlyArray<string> = typeof (globalThis as { Deno?: unknown }).Deno === "object"
  ? (globalThis as unknown as { Deno: { args: ReadonlyArray<string> } }).Deno.args
  : process.argv.slice(2)
const flags = parseFlags(args)
const port = Number(flags.port ?? "0")
const workers = Number(flags.workers ?? "1")
const variant = flags.variant ?? "rpc"
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("bad --port")
if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new Error("bad --workers")
if (variant !== "rpc" && variant !== "gen") throw new Error("--variant must be rpc or gen")

const program: Effect.Effect<never, Transport.ListenError, Transport.Transport> = Effect.scoped(Effect.gen(function*() {
  const address = Address.tcp(flags.host ?? "127.0.0.1", port)
  const server = variant === "rpc"
    ? yield* ProtocolServer.serve(KvRpc, rpcHandler, { address })
    : yield* ProtocolServer.serve(Kv, handler, { address })
  console.log(`LISTENING ${(server.address as Address.TcpAddress).port}`)
  return yield* Effect.never
})).pipe(Effect.provide(PreloadedStore))

// the runtime picks its Workers adapter, transport and runMain; the primary starts this file again per worker
if (typeof (globalThis as { Bun?: unknown }).Bun === "object") {
  const { BunTransport, BunWorkers } = await import("@wirekit/bun")
  const { BunRuntime } = await import("@effect/platform-bun")
  program.pipe(BunWorkers.run({ workers }), Effect.provide(BunTransport.layer), BunRuntime.runMain)
} else if (typeof (globalThis as { Deno?: unknown }).Deno === "object") {
  const { DenoRuntime, DenoTransport, DenoWorkers } = await import("@wirekit/deno")
  program.pipe(DenoWorkers.run({ workers }), Effect.provide(DenoTransport.layer), DenoRuntime.runMain)
} else {
  const { NodeTransport, NodeWorkers } = await import("@wirekit/node")
  const { NodeRuntime } = await import("@effect/platform-node")
  program.pipe(NodeWorkers.run({ workers }), Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
}
