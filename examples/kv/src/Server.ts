/**
 * The kv server, written once against `@wirekit/core` only: the entry points
 * (main*.ts) pick the runtime.
 *
 * - An in-memory store ({@link Store}): a `Map` of strings, bounded in key
 *   size, value size and number of keys (typed errors past each limit).
 * - The handler answers every command but `Wait` with an `Exit`
 *   (`Effect.succeed` / `Effect.fail`): the protocol server's fast path, no
 *   fiber per request. `Wait` suspends until its key is set or its timeout
 *   elapses; other requests on the same connection are answered meanwhile
 *   (multiplexing by id).
 *
 * @since 0.1.0
 */
import { Address, ProtocolServer } from "@wirekit/core"
import type { Protocol, Transport } from "@wirekit/core"
import { Duration, Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as Kv from "./Kv.ts"

/** The store's limits. */
export interface Limits {
  /** Longest key, in UTF-8 bytes. Default 256. */
  readonly maxKeyLength: number
  /** Largest value, in UTF-8 bytes. Default 1 MiB. */
  readonly maxValueSize: number
  /** Most keys held at once. Default 1 000 000. */
  readonly maxKeys: number
}

/** Default {@link Limits}. */
export const defaultLimits: Limits = { maxKeyLength: 256, maxValueSize: 1024 * 1024, maxKeys: 1_000_000 }

/** UTF-8 length of `s`, without encoding it. */
export const utf8Length = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3 // BMP, or a lone surrogate (encoded as U+FFFD)
  }
  return n
}

/** True if `s` is at most `max` UTF-8 bytes (cheap when obviously so: a UTF-16 unit is at most 3 bytes). */
const fits = (s: string, max: number): boolean => s.length * 3 <= max || utf8Length(s) <= max

const INTEGER = /^-?(0|[1-9]\d*)$/

/**
 * The key-value store: plain synchronous methods over a `Map`, plus waiters
 * for `Wait`. Every method checks the limits and returns the response or a
 * typed error (as a value, not thrown).
 */
export class Store {
  private readonly data = new Map<string, string>()
  private readonly waiters = new Map<string, Set<(value: string) => void>>()

  constructor(readonly limits: Limits = defaultLimits) {}

  /** Keys held. */
  get size(): number {
    return this.data.size
  }

  /** Requests waiting in `Wait`. */
  waiting(): number {
    let n = 0
    for (const set of this.waiters.values()) n += set.size
    return n
  }

  /** `KeyTooLong` if `key` is over the key limit. */
  checkKey(key: string): Kv.KeyTooLong | undefined {
    const max = this.limits.maxKeyLength
    return fits(key, max) ? undefined : new Kv.KeyTooLong({ length: utf8Length(key), max })
  }

  /** The value of `key`, if any. */
  get(key: string): string | undefined {
    return this.data.get(key)
  }

  /** Stores `value` at `key` and wakes its waiters; a typed error past a limit (nothing stored). */
  set(key: string, value: string): Kv.ValueTooLarge | Kv.StoreFull | undefined {
    const max = this.limits.maxValueSize
    if (!fits(value, max)) return new Kv.ValueTooLarge({ size: utf8Length(value), max })
    if (this.data.size >= this.limits.maxKeys && !this.data.has(key)) return new Kv.StoreFull({ max: this.limits.maxKeys })
    this.data.set(key, value)
    this.wake(key, value)
    return undefined
  }

  /** Deletes `key`; true if it existed. */
  del(key: string): boolean {
    return this.data.delete(key)
  }

  /** Sorted keys with `prefix`, at most `limit`; `more` when some were left out. */
  keys(prefix: string, limit: number): { readonly keys: Array<string>; readonly more: boolean } {
    const found: Array<string> = []
    for (const key of this.data.keys()) if (key.startsWith(prefix)) found.push(key)
    found.sort()
    return found.length > limit ? { keys: found.slice(0, limit), more: true } : { keys: found, more: false }
  }

  /** Adds `by` to the integer at `key` (absent: 0); the new value, or a typed error (nothing stored). */
  incr(key: string, by: number): number | Kv.NotAnInteger | Kv.StoreFull | Kv.ValueTooLarge {
    const old = this.data.get(key)
    if (old !== undefined && !INTEGER.test(old)) return new Kv.NotAnInteger({ key })
    const next = (old === undefined ? 0 : Number(old)) + by
    if (!Number.isSafeInteger(next)) return new Kv.NotAnInteger({ key })
    const error = this.set(key, String(next))
    return error === undefined ? next : error
  }

  /** Calls `waiter` once, with the key's next value. Returns the function that cancels it. */
  watch(key: string, waiter: (value: string) => void): () => void {
    let set = this.waiters.get(key)
    if (set === undefined) this.waiters.set(key, (set = new Set()))
    set.add(waiter)
    return () => {
      const s = this.waiters.get(key)
      if (s !== undefined && s.delete(waiter) && s.size === 0) this.waiters.delete(key)
    }
  }

  private wake(key: string, value: string): void {
    const set = this.waiters.get(key)
    if (set === undefined) return
    this.waiters.delete(key)
    for (const waiter of set) waiter(value)
  }
}

type Handler = ProtocolServer.Handler<Kv.Request, Kv.Response, Kv.KvError | Protocol.ProtocolError, never>

const STORED: Kv.Response = { _tag: "Stored" }
const DELETED: Kv.Response = { _tag: "Deleted", existed: true }
const ABSENT: Kv.Response = { _tag: "Deleted", existed: false }
const NULL: Kv.Response = { _tag: "Value", value: null }

/** `Wait`: suspends until `key` is set, or `timeoutMs` elapse (then `null`); cancelled with its request. */
const waitFor = (store: Store, key: string, timeoutMs: number): Effect.Effect<Kv.Response> =>
  Effect.async<Kv.Response>((resume) => {
    const timer = setTimeout(() => {
      cancel()
      resume(Effect.succeed(NULL))
    }, timeoutMs)
    const cancel = store.watch(key, (value) => {
      clearTimeout(timer)
      resume(Effect.succeed({ _tag: "Value", value }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      cancel()
    })
  })

/**
 * The request handler over `store`. Every branch but a `Wait` that has to
 * wait returns an `Exit`, answered without a fiber.
 *
 * @example
 * ```ts
 * const server = yield* ProtocolServer.serve(Kv.Kv, handler(new Store()), { address: { host: "127.0.0.1", port: 0 } })
 * ```
 */
export const handler = (store: Store): Handler => (request) => {
  if (request._tag !== "Keys") {
    const tooLong = store.checkKey(request.key)
    if (tooLong !== undefined) return Effect.fail(tooLong)
  }
  switch (request._tag) {
    case "Get": {
      const value = store.get(request.key)
      return Effect.succeed(value === undefined ? NULL : { _tag: "Value", value })
    }
    case "Set": {
      const error = store.set(request.key, request.value)
      return error === undefined ? Effect.succeed(STORED) : Effect.fail(error)
    }
    case "Del":
      return Effect.succeed(store.del(request.key) ? DELETED : ABSENT)
    case "Keys": {
      const { keys, more } = store.keys(request.prefix ?? "", request.limit ?? 100)
      return Effect.succeed({ _tag: "KeyList", keys, more })
    }
    case "Incr": {
      const result = store.incr(request.key, request.by)
      return typeof result === "number" ? Effect.succeed({ _tag: "Counter", value: result }) : Effect.fail(result)
    }
    case "Wait": {
      const value = store.get(request.key)
      if (value !== undefined) return Effect.succeed({ _tag: "Value", value })
      if (request.timeoutMs === 0) return Effect.succeed(NULL)
      return waitFor(store, request.key, request.timeoutMs)
    }
  }
}

/** Options of the kv server. */
export interface KvOptions extends Partial<Limits> {
  readonly host: string
  readonly port: number
  /** Requests in flight per connection before reading pauses. Default 256. */
  readonly maxInFlight?: number | undefined
}

/**
 * Serves kv on `host:port` with a fresh store until the scope closes
 * (graceful shutdown: requests in flight are answered, for up to 10 s).
 *
 * @example
 * ```ts
 * const { server, store } = yield* KvServer.serve({ host: "127.0.0.1", port: 0 })
 * ```
 */
export const serve = (
  options: KvOptions
): Effect.Effect<
  { readonly server: ProtocolServer.ProtocolServer<never>; readonly store: Store },
  Transport.ListenError,
  Transport.Transport | Scope.Scope
> => {
  const store = new Store({
    maxKeyLength: options.maxKeyLength ?? defaultLimits.maxKeyLength,
    maxValueSize: options.maxValueSize ?? defaultLimits.maxValueSize,
    maxKeys: options.maxKeys ?? defaultLimits.maxKeys
  })
  return Effect.map(
    ProtocolServer.serve(Kv.Kv, handler(store), {
      address: Address.tcp(options.host, options.port),
      maxInFlight: options.maxInFlight,
      // above the longest Wait (20 s)
      requestTimeout: Duration.seconds(30)
    }),
    (server) => ({ server, store })
  )
}

/**
 * The kv server as a Layer (needs a Transport): listens when built, logs
 * `kv: listening on HOST:PORT`, shuts down gracefully when released.
 *
 * @example
 * ```ts
 * Layer.launch(KvServer.layer({ host: "127.0.0.1", port: 7002 })).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
 * ```
 */
export const layer = (options: KvOptions): Layer.Layer<never, Transport.ListenError, Transport.Transport> =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const { server, store } = yield* serve(options)
      const address = server.address
      const limits = store.limits
      const port = Address.isTcp(address) ? address.port : Kv.DEFAULT_PORT
      yield* Effect.logInfo(
        `kv: listening on ${Address.format(address)} (max key ${limits.maxKeyLength} B, max value ${limits.maxValueSize} B, max keys ${limits.maxKeys}); ` +
          `try: node --import tsx examples/kv/src/cli.ts --port ${port} set hello world`
      )
    })
  )
