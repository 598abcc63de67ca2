/**
 * The typed suite's kv service per request, without sockets: decode, handler,
 * encode, each stage timed over the load generator's mix, next to the raw
 * baseline's handler. A tool for finding where a request's time goes (the
 * suite's figures come from bench/run.mjs).
 *
 *   taskset -c 0 node --import tsx bench/typed-micro.ts [gen|mw|timeout|metrics|logging] [seconds]
 *   HANDLER=rpc ...   (the Protocol.rpc service with a handler per method instead of one Effect.gen handler)
 */
import { ByteBuffer, Middleware } from "@wirekit/core"
import { Effect, LogLevel, pipe } from "effect"
import { InlineHost } from "../packages/core/src/internal/inline.ts"
import { handler, StoreLive } from "./src/kv-service.ts"
import { Kv, KvRpc, rpcHandler } from "./src/kv.ts"
// @ts-expect-error: plain JS module of the raw baselines
import { makeKvHandler } from "./servers/lib/kv.mjs"

const variant = process.argv[2] ?? "gen"
const seconds = Number(process.argv[3] ?? "2")
const enc = new TextEncoder()

// the load generator's mix: 70% Get hit, 15% Get miss, 10% Put, 5% Put too long
const frames: Array<Uint8Array> = []
const payloads: Array<Uint8Array> = []
for (let i = 0; i < 1000; i++) {
  const r = i % 20
  const key = `key:${i % 100}`
  const request = r < 14 ? { _tag: "Get", key } : r < 17 ? { _tag: "Get", key: `nokey:${i}` } : r < 19
    ? { _tag: "Put", key, value: `val:${i}:`.padEnd(32, "x") }
    : { _tag: "Put", key, value: "y".repeat(200) }
  const payload = enc.encode(JSON.stringify({ id: i + 1, request }))
  // the wire form: a 4-byte big-endian length, then the JSON envelope
  const frame = new Uint8Array(4 + payload.length)
  new DataView(frame.buffer).setUint32(0, payload.length)
  frame.set(payload, 4)
  frames.push(frame)
  payloads.push(payload)
}

const time = (name: string, f: (frame: Uint8Array) => unknown) => {
  let n = 0
  const end = performance.now() + seconds * 1000
  const start = performance.now()
  while (performance.now() < end) {
    for (let i = 0; i < frames.length; i++) f(frames[i]!)
    n += frames.length
  }
  const ns = ((performance.now() - start) * 1e6) / n
  console.log(`${name.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/request`)
  return ns
}

// HANDLER=rpc: the service as Protocol.rpc with a handler per method (generator methods)
const rpc = process.env.HANDLER === "rpc"
const base: any = rpc ? rpcHandler : handler
const protocol: any = rpc ? KvRpc : Kv
const metrics = Middleware.metrics({ prefix: "kv" })
const h: any = variant === "mw"
  ? pipe(base, Middleware.timeout("5 seconds"), metrics.middleware, Middleware.logging({ level: LogLevel.Debug }))
  : variant === "timeout"
  ? pipe(base, Middleware.timeout("5 seconds"))
  : variant === "metrics"
  ? pipe(base, metrics.middleware)
  : variant === "logging"
  ? pipe(base, Middleware.logging({ level: LogLevel.Debug }))
  : base

const program = Effect.gen(function*() {
  const runtime = yield* Effect.runtime<never>()
  const host = new InlineHost(runtime)
  const codec = protocol.server({} as any) // the JSON envelope's codec never reads the session
  const incoming: Array<any> = []
  const decode = (f: Uint8Array) => {
    codec.decoder.decode(f, incoming)
    return incoming.pop()
  }
  const out = ByteBuffer.make()
  const encode = (id: number | undefined, outcome: any, request: unknown) => {
    codec.encodeResponse(id, outcome, out, request)
    out.clear()
  }
  const context = {
    kind: "request",
    session: { remoteAddress: { host: "127.0.0.1", port: 1 }, id: 1 },
    protocol: "kv",
    describe: (m: any) => m._tag,
    headers: {},
    trace: undefined,
    receivedAt: performance.now()
  } as any
  const raw = makeKvHandler()
  for (const p of payloads) raw(p)
  let r = 0
  time("raw handler (parse+logic+stringify)", () => raw(payloads[r++ % payloads.length]))
  time("decode (JSON + Schema)", decode)
  const decoded = frames.map(decode)
  let k = 0
  time("handler + evaluate", () => {
    const m = decoded[k++ % decoded.length]
    return host.evaluate(h(m.request, context))
  })
  const outcomes = decoded.map((m) => {
    const exit: any = host.evaluate(h(m.request, context))
    return exit._tag === "Success"
      ? { _tag: "Success", value: exit.value }
      : { _tag: "Failure", error: exit.cause.error }
  })
  k = 0
  time("encode (Schema + JSON)", () => {
    const i = k++ % outcomes.length
    return encode(decoded[i].id, outcomes[i], decoded[i].request)
  })
  k = 0
  time("all three", (f) => {
    const m = decode(f)
    const exit: any = host.evaluate(h(m.request, context))
    return encode(
      m.id,
      exit._tag === "Success" ? { _tag: "Success", value: exit.value } : { _tag: "Failure", error: exit.cause.error },
      m.request
    )
  })
  console.log(`inline: ${host.completed} completed, ${host.suspended} suspended`)
})

Effect.runSync(program.pipe(
  Effect.provide(StoreLive)
) as Effect.Effect<void>)
