/**
 * The `typed` bench suite's wirekit kv server: the service of
 * bench/src/kv-service.ts (schemas, store, `Effect.gen` handlers) as a
 * `Protocol.schema` served by `ProtocolServer.serve`. The entry points
 * (bench/servers/wirekit-{node,bun,deno}-kv.ts) only pick the transport.
 *
 * Wire format (Protocol.schema's JSON envelope, correlation "byId", default
 * framing: 4-byte big-endian length + one UTF-8 JSON document per frame):
 *
 * ```
 *   → {"id":1,"request":{"_tag":"Put","key":"key:7","value":"val:7:..."}}
 *   ← {"id":1,"success":null}
 *   → {"id":2,"request":{"_tag":"Get","key":"key:7"}}
 *   ← {"id":2,"success":"val:7:..."}
 *   → {"id":3,"request":{"_tag":"Get","key":"nokey:7"}}
 *   ← {"id":3,"success":null}
 *   → {"id":4,"request":{"_tag":"Put","key":"key:7","value":"<more than 128 chars>"}}
 *   ← {"id":4,"failure":{"max":128,"_tag":"TooLong"}}
 * ```
 *
 * (The error's fields come in the order Schema's TaggedError encodes them:
 * `max` first, then `_tag`.)
 *
 * The load generator (bench/loadgen/loadgen.c, `--mode kv`) checks every reply
 * byte for byte against that format.
 */
import { Address, Middleware, Protocol, ProtocolServer } from "@wirekit/core"
import { Effect, LogLevel, pipe, Schema } from "effect"
import { handler, MAX_VALUE, Request, Response, Store, StoreLive, TooLong } from "./kv-service.ts"
import type { Variant } from "./kv-service.ts"

export { parseKvFlags } from "./kv-service.ts"

export const Kv = Protocol.schema({
  name: "kv",
  request: Request,
  response: Response,
  error: TooLong,
  correlation: "byId"
})

/**
 * The same service as methods (variants `rpc`, `rpc-mw`): the same wire
 * format (a `Put`'s success is `null`, as above), each response typed by its
 * method, and a handler per method written as generator methods.
 */
export const Get = Protocol.method("Get", { payload: { key: Schema.String }, success: Schema.NullOr(Schema.String) })
export const Put = Protocol.method("Put", {
  payload: { key: Schema.String, value: Schema.String },
  success: Schema.Null,
  error: TooLong
})
export const KvRpc = Protocol.rpc({ name: "kv", methods: [Get, Put], correlation: "byId" })

export const rpcHandler = ProtocolServer.handlers(KvRpc, {
  *Get({ key }) {
    const store = yield* Store
    return store.get(key) ?? null
  },
  *Put({ key, value }) {
    const store = yield* Store
    if (value.length > MAX_VALUE) return yield* new TooLong({ max: MAX_VALUE })
    store.set(key, value)
    return null
  }
})

/**
 * Serves the kv protocol until interrupted; prints `LISTENING <port>` when
 * ready. `mw`, `rpc-mw`: the handler wrapped in `Middleware.timeout`, `metrics` and
 * `logging` (at Debug level, under the default minimum level Info: every
 * outcome of the mix, typed `TooLong` failures included, is filtered, none
 * printed), metrics' connection middleware too.
 */
export const kvServer = (options: { host: string; port: number; variant: Variant }) =>
  Effect.scoped(Effect.gen(function*() {
    const address = Address.tcp(options.host, options.port)
    let server: ProtocolServer.ProtocolServer<never>
    const metrics = Middleware.metrics({ prefix: "kv" })
    const stack = <A, E, R>(h: ProtocolServer.Handler<any, A, E, R>) =>
      pipe(h, Middleware.timeout("5 seconds"), metrics.middleware, Middleware.logging({ level: LogLevel.Debug }))
    switch (options.variant) {
      case "gen":
        server = yield* ProtocolServer.serve(Kv, handler, { address })
        break
      case "mw":
        server = yield* ProtocolServer.serve(Kv, stack(handler), { address, connection: [metrics.connection] })
        break
      case "rpc":
        server = yield* ProtocolServer.serve(KvRpc, rpcHandler, { address })
        break
      case "rpc-mw":
        server = yield* ProtocolServer.serve(KvRpc, stack(rpcHandler), { address, connection: [metrics.connection] })
        break
    }
    console.log(`LISTENING ${(server.address as Address.TcpAddress).port}`)
    return yield* Effect.never
  })).pipe(Effect.provide(StoreLive))
