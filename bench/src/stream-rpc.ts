/**
 * The `stream` bench suite on @effect/rpc (0.76): the same method as
 * bench/src/stream.ts, `Count {n}` streaming the integers 1..n, as an
 * `RpcGroup` served by `RpcServer.layerProtocolSocketServer` and read by
 * @effect/rpc's own client (`RpcClient.make` over
 * `RpcClient.layerProtocolSocket` on an @effect/platform `Socket`), ndjson
 * both ways. The entry points (bench/servers/effect-rpc-{node,bun}-stream.ts)
 * pick the socket server and socket (NodeSocketServer / NodeSocket.layerNet;
 * under Bun BunSocketServer / BunSocket.layerNet, node:net both).
 *
 * Wire format (ndjson: one JSON document per line; the handler's
 * `Stream.range(1, n)` emits chunks of 4096 items, each sent as one `Chunk`
 * message; the server sends the next chunk after the client's `Ack` of the
 * previous one):
 *
 * ```
 *   → {"_tag":"Request","id":"0","tag":"Count","traceId":"aa5f…","payload":{"n":1000000},"spanId":"6da2…","sampled":true,"headers":[]}
 *   ← {"_tag":"Chunk","requestId":"0","values":[1,2,…,4096]}
 *   → {"_tag":"Ack","requestId":"0"}
 *   ← {"_tag":"Chunk","requestId":"0","values":[4097,…,8192]}   …
 *   ← {"_tag":"Exit","requestId":"0","exit":{"_tag":"Success"}}
 * ```
 */
import type * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Effect, Layer, Schema, Stream } from "effect"
import { serveOnSocket } from "./kv-rpc.ts"
import { clientMain, clientRun, parseStreamFlags, timeStream } from "./stream-check.ts"
import type { StreamFlags } from "./stream-check.ts"

export class CountRpcs extends RpcGroup.make(
  Rpc.make("Count", { payload: { n: Schema.Number }, success: Schema.Number, stream: true })
) {}

const HandlersLive = CountRpcs.toLayer({ Count: ({ n }) => Stream.range(1, n) })

/** Serves `CountRpcs` on `socketServer` until interrupted; prints `LISTENING <port>` when ready. */
export const rpcStreamServer = (socketServer: Layer.Layer<SocketServer.SocketServer, unknown>) =>
  serveOnSocket(RpcServer.layer(CountRpcs).pipe(Layer.provide(HandlersLive)), socketServer)

/** One connection: the warmup stream, then the measured one, every item checked. */
export const rpcStreamClient = (flags: StreamFlags, socket: Layer.Layer<Socket.Socket, unknown>) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* RpcClient.make(CountRpcs)
    return yield* clientRun(flags, (n) => timeStream(n, () => client.Count({ n })))
  })).pipe(Effect.provide(
    RpcClient.layerProtocolSocket().pipe(
      Layer.provide(socket),
      Layer.provide(RpcSerialization.layerNdjson)
    )
  ))

/** An entry point: server or client by `--role`; the runtime's socket server and client socket. */
export const rpcStreamMain = (
  argv: ReadonlyArray<string>,
  runtime: {
    readonly server: (options: { host: string; port: number }) => Layer.Layer<SocketServer.SocketServer, unknown>
    readonly socket: (options: { host: string; port: number }) => Layer.Layer<Socket.Socket, unknown>
  },
  exit: (code: number) => void
) => {
  const flags = parseStreamFlags(argv)
  const address = { host: flags.host, port: flags.port }
  if (flags.role === "server") Effect.runFork(rpcStreamServer(runtime.server(address)))
  else clientMain(rpcStreamClient(flags, runtime.socket(address)), exit)
}
