/**
 * The `typed` bench suite's kv service on @effect/rpc (0.76): the same
 * schemas, store and `Effect.gen` handlers as bench/src/kv.ts, as an
 * `RpcGroup` served by `RpcServer.layerProtocolSocketServer` with ndjson
 * serialization over an `@effect/platform` `SocketServer` (the entry point
 * picks it: NodeSocketServer, or BunSocketServer, which is node:net under Bun).
 *
 * Wire format (ndjson: one JSON document per line; RpcMessage's encoding):
 *
 * ```
 *   → {"_tag":"Request","id":"1","tag":"Put","payload":{"key":"key:7","value":"val:7:..."},"headers":[]}
 *   ← {"_tag":"Exit","requestId":"1","exit":{"_tag":"Success","value":null}}
 *   → {"_tag":"Request","id":"2","tag":"Get","payload":{"key":"key:7"},"headers":[]}
 *   ← {"_tag":"Exit","requestId":"2","exit":{"_tag":"Success","value":"val:7:..."}}
 *   → {"_tag":"Request","id":"4","tag":"Put","payload":{"key":"key:7","value":"<more than 128 chars>"},"headers":[]}
 *   ← {"_tag":"Exit","requestId":"4","exit":{"_tag":"Failure","cause":{"_tag":"Fail","error":{"max":128,"_tag":"TooLong"}}}}
 * ```
 *
 * `mw`: the handlers wrapped in one @effect/rpc wrap-middleware doing what
 * wirekit's `Middleware.timeout` + `metrics` + `logging` (Debug) do: a 5 s
 * timeout (a defect when it fires: the rpc has no fault channel), a request
 * counter, an error counter by outcome and a duration histogram (Effect
 * `Metric`s), one log line per request with method, duration and outcome (at
 * Debug, non-successes at Warning, like `Middleware.logging`); the minimum log
 * level is Error, as in the wirekit `mw` server: built and filtered, never printed.
 */
import * as SocketServer from "@effect/platform/SocketServer"
import { Rpc, RpcGroup, RpcMiddleware, RpcSerialization, RpcServer } from "@effect/rpc"
import { Cause, Context, Effect, Exit, Layer, Metric, MetricBoundaries, MetricLabel, Option, Schema } from "effect"
import { get, put, Response, StoreLive, TooLong } from "./kv-service.ts"

/** The rpc middleware of the `mw` variant. */
export class Observe extends RpcMiddleware.Tag<Observe>()("bench/kv/Observe", { wrap: true }) {}

const GetRpc = Rpc.make("Get", { payload: { key: Schema.String }, success: Response })
const PutRpc = Rpc.make("Put", {
  payload: { key: Schema.String, value: Schema.String },
  success: Schema.Null,
  error: TooLong
})

export class KvRpcs extends RpcGroup.make(GetRpc, PutRpc) {}
export class KvRpcsObserved extends RpcGroup.make(GetRpc, PutRpc).middleware(Observe) {}

const handlers = {
  Get: ({ key }: { readonly key: string }) => get(key),
  Put: ({ key, value }: { readonly key: string; readonly value: string }) => put(key, value)
}

const ObserveLive = Layer.sync(Observe, () => {
  const requests = Metric.counter("kv_requests_total")
  const errors = Metric.counter("kv_errors_total")
  const duration = Metric.histogram(
    "kv_request_duration_ms",
    MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 20 })
  )
  const kind = [MetricLabel.make("kind", "request")]
  const outcome = (exit: Exit.Exit<unknown, unknown>): string =>
    Exit.isSuccess(exit)
      ? "success"
      : Option.isSome(Cause.failureOption(exit.cause))
      ? "failure"
      : Cause.isInterruptedOnly(exit.cause)
      ? "interrupted"
      : "defect"
  return Observe.of(({ next, rpc }) =>
    Effect.suspend(() => {
      const start = performance.now()
      return next.pipe(
        Effect.timeoutFailCause({
          duration: "5 seconds",
          onTimeout: () => Cause.die(new Error("no response within 5000ms"))
        }),
        Effect.onExit((exit) => {
          const ms = performance.now() - start
          const result = outcome(exit)
          requests.unsafeUpdate(1, kind)
          duration.unsafeUpdate(ms, kind)
          if (exit._tag === "Failure") errors.unsafeUpdate(1, [...kind, MetricLabel.make("outcome", result)])
          const message = `request ${rpc._tag}`
          const typed = result === "success" || result === "failure"
          return Effect.annotateLogs(typed ? Effect.logDebug(message) : Effect.logWarning(message), {
            method: rpc._tag,
            kind: "request",
            durationMs: Math.round(ms * 1000) / 1000,
            outcome: result
          })
        })
      )
    })
  )
})

/**
 * Serves the kv rpc group on `socketServer` until interrupted; prints
 * `LISTENING <port>` when ready.
 */
export const rpcKvServer = (
  socketServer: Layer.Layer<SocketServer.SocketServer, unknown>,
  variant: "gen" | "mw" | "rpc" | "rpc-mw"
) => {
  // (its handlers are per method already: `rpc` variants are the same servers)
  const rpcLayer = variant === "mw" || variant === "rpc-mw"
    ? RpcServer.layer(KvRpcsObserved).pipe(Layer.provide(KvRpcsObserved.toLayer(handlers)), Layer.provide(ObserveLive))
    : RpcServer.layer(KvRpcs).pipe(Layer.provide(KvRpcs.toLayer(handlers)))
  return serveOnSocket(rpcLayer, socketServer).pipe(Effect.provide(StoreLive))
}

/**
 * Serves an `RpcServer.layer(...)` (its handlers provided) over
 * `socketServer` with ndjson until interrupted; prints `LISTENING <port>`
 * when ready (shared with the stream suite's server, bench/src/stream-rpc.ts).
 */
export const serveOnSocket = <E, R>(
  rpcLayer: Layer.Layer<never, E, R>,
  socketServer: Layer.Layer<SocketServer.SocketServer, unknown>
) =>
  Effect.scoped(Effect.gen(function*() {
    const ctx = yield* Layer.build(socketServer)
    yield* Layer.build(rpcLayer.pipe(
      Layer.provide(RpcServer.layerProtocolSocketServer),
      Layer.provide(RpcSerialization.layerNdjson),
      Layer.provide(Layer.succeedContext(ctx))
    ) as Layer.Layer<
      never,
      E,
      Exclude<R, RpcServer.Protocol | RpcSerialization.RpcSerialization | SocketServer.SocketServer>
    >)
    const address = Context.get(ctx, SocketServer.SocketServer).address
    console.log(`LISTENING ${address._tag === "TcpAddress" ? address.port : 0}`)
    return yield* Effect.never
  }))
