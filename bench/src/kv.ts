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
import { Effect, LogLevel, pipe } from "effect"
import { handler, Request, Response, StoreLive, TooLong } from "./kv-service.ts"
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
 * Serves the kv protocol until interrupted; prints `LISTENING <port>` when
 * ready. `mw`: the handler wrapped in `Middleware.timeout`, `metrics` and
 * `logging` (at Debug level, under the default minimum level Info: every
 * outcome of the mix, typed `TooLong` failures included, is filtered, none
 * printed), metrics' connection middleware too.
 */
export const kvServer = (options: { host: string; port: number; variant: Variant }) =>
  Effect.scoped(Effect.gen(function*() {
    const address = Address.tcp(options.host, options.port)
    let server: ProtocolServer.ProtocolServer<never>
    if (options.variant === "mw") {
      const metrics = Middleware.metrics({ prefix: "kv" })
      const wrapped = pipe(
        handler,
        Middleware.timeout("5 seconds"),
        metrics.middleware,
        Middleware.logging({ level: LogLevel.Debug })
      )
      server = yield* ProtocolServer.serve(Kv, wrapped, { address, connection: [metrics.connection] })
    } else {
      server = yield* ProtocolServer.serve(Kv, handler, { address })
    }
    console.log(`LISTENING ${(server.address as Address.TcpAddress).port}`)
    return yield* Effect.never
  })).pipe(Effect.provide(StoreLive))

