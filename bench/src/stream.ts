/**
 * The `stream` bench suite on wirekit: a `Protocol.rpc` with one streaming
 * method, `Count {n}` answered with the integers 1..n, served by
 * `ProtocolServer.serve` and read by `Client.make(…).stream`. The entry points
 * (bench/servers/wirekit-{node,bun,deno}-stream.ts) only pick the transport;
 * the client runs on the server's runtime.
 *
 * Wire format (Protocol.rpc's JSON envelope, correlation byId, 4-byte
 * big-endian length + one JSON document per frame; at most
 * Protocol.STREAM_CHUNK_ITEMS (256) items per chunk, at most
 * Protocol.STREAM_WINDOW (16) chunks ahead of the client's acks):
 *
 * ```
 *   → {"id":1,"request":{"_tag":"Count","n":1000000}}
 *   ← {"id":1,"chunk":[1,2,…,256]}  ← {"id":1,"chunk":[257,…,512]}  …
 *   → {"id":1,"ack":8}  …            (each time the client has consumed 8 more chunks)
 *   ← {"id":1,"end":true}
 * ```
 */
import { Address, Client, Protocol, ProtocolServer } from "@wirekit/core"
import type { Transport } from "@wirekit/core"
import type { Layer } from "effect"
import { Effect, Schema, Stream } from "effect"
import { clientMain, clientRun, parseStreamFlags, timeStream } from "./stream-check.ts"
import type { StreamFlags } from "./stream-check.ts"

export const Count = Protocol.method("Count", { payload: { n: Schema.Number }, success: Schema.Number, stream: true })
export const Counting = Protocol.rpc({ name: "counting", methods: [Count] })

const handler = ProtocolServer.handlers(Counting, { Count: ({ n }) => Stream.range(1, n) })

/** Serves `Counting` until interrupted; prints `LISTENING <port>` when ready. */
export const streamServer = (flags: StreamFlags) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* ProtocolServer.serve(Counting, handler, { address: Address.tcp(flags.host, flags.port) })
    console.log(`LISTENING ${(server.address as Address.TcpAddress).port}`)
    return yield* Effect.never
  }))

/** One connection: the warmup stream, then the measured one, every item checked. */
export const streamClient = (flags: StreamFlags) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* Client.make(Counting, Address.tcp(flags.host, flags.port))
    return yield* clientRun(flags, (n) => timeStream(n, () => client.stream(Count({ n }))))
  }))

/** An entry point: server or client by `--role`, on `transport`. */
export const streamMain = (
  argv: ReadonlyArray<string>,
  transport: Layer.Layer<Transport.Transport>,
  exit: (code: number) => void
) => {
  const flags = parseStreamFlags(argv)
  if (flags.role === "server") Effect.runFork(streamServer(flags).pipe(Effect.provide(transport)))
  else clientMain(streamClient(flags).pipe(Effect.provide(transport)), exit)
}
