/**
 * The `typed` bench suite's key-value service, written once and shared by the
 * wirekit servers (bench/src/kv.ts) and the @effect/rpc servers
 * (bench/src/kv-rpc.ts): the Schema messages, the typed error, the store as a
 * `Context.Tag` service provided by a `Layer`, and the handlers as typical user
 * code writes them (`Effect.gen`, `yield* Store`, a typed failure).
 *
 * Only `effect` here: the rpc servers do not load wirekit.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { parseFlags } from "./flags.ts"

/** Longest value a `Put` may store (in UTF-16 units; the bench sends ASCII). */
export const MAX_VALUE = 128

export const Get = Schema.TaggedStruct("Get", { key: Schema.String })
export const Put = Schema.TaggedStruct("Put", { key: Schema.String, value: Schema.String })
export const Request = Schema.Union(Get, Put)
export type Request = typeof Request.Type
/** `Get`: the value or `null`; `Put`: `null`. */
export const Response = Schema.NullOr(Schema.String)

/** The typed error: a `Put` whose value is longer than `max`. */
export class TooLong extends Schema.TaggedError<TooLong>()("TooLong", { max: Schema.Number }) {}

/** The store, as a service. */
export class Store extends Context.Tag("bench/kv/Store")<Store, {
  readonly get: (key: string) => string | undefined
  readonly set: (key: string, value: string) => void
}>() {}

/** An in-memory store (a `Map`). */
export const StoreLive = Layer.sync(Store, () => {
  const data = new Map<string, string>()
  return Store.of({
    get: (key) => data.get(key),
    set: (key, value) => {
      data.set(key, value)
    }
  })
})

/** `Get`: the stored value or `null`. */
export const get = (key: string) =>
  Effect.gen(function*() {
    const store = yield* Store
    return store.get(key) ?? null
  })

/** `Put`: stores the value, or fails with `TooLong`. */
export const put = (key: string, value: string) =>
  Effect.gen(function*() {
    const store = yield* Store
    if (value.length > MAX_VALUE) return yield* new TooLong({ max: MAX_VALUE })
    store.set(key, value)
    return null
  })

/** The wirekit request handler. */
export const handler = (request: Request) => request._tag === "Get" ? get(request.key) : put(request.key, request.value)

/**
 * The variants: `gen`/`mw` serve `handler` above (one function, `Effect.gen`
 * per request); `rpc`/`rpc-mw` serve the same service as a `Protocol.rpc`
 * with a handler per method (bench/src/kv.ts). `mw`: with the middleware stack.
 */
export type Variant = "gen" | "mw" | "rpc" | "rpc-mw"
const variants: ReadonlyArray<string> = ["gen", "mw", "rpc", "rpc-mw"]

/** `--port N --host H --variant gen|mw|rpc|rpc-mw` (the runner's server contract). */
export const parseKvFlags = (argv: ReadonlyArray<string>) => {
  const flags = parseFlags(argv)
  const variant = flags.variant ?? "gen"
  const port = Number(flags.port ?? "0")
  if (!variants.includes(variant)) throw new Error(`--variant must be one of ${variants.join(", ")}`)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("bad --port")
  return { host: flags.host ?? "127.0.0.1", port, variant: variant as Variant }
}
