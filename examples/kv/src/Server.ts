/**
 * The kv server, written once against `@wirekit/core` only: the entry points
 * (main*.ts) pick the runtime.
 *
 * - An in-memory store ({@link Store}): a `Map` of strings, bounded in key
 *   size, value size and number of keys (typed errors past each limit).
 * - One handler per method (`ProtocolServer.handlers`). Every method but
 *   `Wait` and `Scan` answers with an `Exit` (`Effect.succeed` /
 *   `Effect.fail`): the protocol server's fast path, no fiber per request.
 *   `Wait` suspends until its key is set or its timeout elapses; other
 *   requests on the same connection are answered meanwhile (multiplexing by
 *   id). `Scan` streams a snapshot, as fast as the client reads it.
 *
 * @since 0.1.0
 */
import { Address, ProtocolServer } from "@wirekit/core"
import type { Protocol, ProxyProtocol, Tls, Transport } from "@wirekit/core"
import { Duration, Effect, Layer, Stream } from "effect"
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
 * for `Wait` and a count of running scans. Every method checks the limits
 * and returns the answer or a typed error (as a value, not thrown).
 */
export class Store {
  private readonly data = new Map<string, string>()
  private readonly waiters = new Map<string, Set<(value: string) => void>>()
  private scans = 0

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
    if (this.data.size >= this.limits.maxKeys && !this.data.has(key)) {
      return new Kv.StoreFull({ max: this.limits.maxKeys })
    }
    this.data.set(key, value)
    this.wake(key, value)
    return undefined
  }

  /** Deletes `key`; true if it existed. */
  del(key: string): boolean {
    return this.data.delete(key)
  }

  /** Sorted keys with `prefix`, at most `limit`; `more` when some were left out. */
  keys(prefix: string, limit: number): Kv.KeyList {
    const found: Array<string> = []
    for (const key of this.data.keys()) if (key.startsWith(prefix)) found.push(key)
    found.sort()
    return found.length > limit ? { keys: found.slice(0, limit), more: true } : { keys: found, more: false }
  }

  /**
   * The entries with `prefix`, sorted by key: a snapshot (later writes do
   * not show in it), counted in {@link scanning} until {@link closeScan}.
   */
  openScan(prefix: string): Array<Kv.Entry> {
    const found: Array<Kv.Entry> = []
    for (const [key, value] of this.data) if (key.startsWith(prefix)) found.push({ key, value })
    // the order of `keys` (UTF-16 code units)
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    this.scans++
    return found
  }

  /** A scan ended (read to the end, failed or cancelled). */
  closeScan(): void {
    this.scans--
  }

  /** Scans running (their snapshot held). */
  scanning(): number {
    return this.scans
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
    if (set === undefined) this.waiters.set(key, set = new Set())
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

type Handler = ProtocolServer.Handler<
  Kv.Request,
  Protocol.ResponseOf<typeof Kv.Kv>,
  Protocol.ErrorOf<typeof Kv.Kv> | Protocol.ProtocolError,
  never
>

// shared answers: an Exit is immutable, so one serves every request
const NULL = Effect.succeed(null)
const TRUE = Effect.succeed(true)
const FALSE = Effect.succeed(false)

/** `Wait`: suspends until `key` is set, or `timeoutMs` elapse (then `null`); cancelled with its request. */
const waitFor = (store: Store, key: string, timeoutMs: number): Effect.Effect<string | null> =>
  Effect.async<string | null>((resume) => {
    const timer = setTimeout(() => {
      cancel()
      resume(NULL)
    }, timeoutMs)
    const cancel = store.watch(key, (value) => {
      clearTimeout(timer)
      resume(Effect.succeed(value))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      cancel()
    })
  })

/**
 * `Scan`: the snapshot of the entries with `prefix`, taken when the server
 * starts the stream and released when it ends, fails or is cancelled
 * (counted in `store.scanning()` meanwhile). The snapshot shares the stored
 * strings (no copies); entries are encoded a chunk at a time, as the client
 * acknowledges them, so a slow reader of a large store costs an array, not
 * its encoded text.
 */
const scan = (store: Store, prefix: string): Stream.Stream<Kv.Entry> =>
  Stream.acquireRelease(Effect.sync(() => store.openScan(prefix)), () => Effect.sync(() => store.closeScan())).pipe(
    Stream.flatMap(Stream.fromIterable)
  )

/**
 * The request handler over `store`: one handler per method
 * (`ProtocolServer.handlers` checks that every method has one, typed by its
 * own success and error). Every handler but a `Wait` that has to wait
 * returns an `Exit` (`Effect.succeed` / `Effect.fail`), answered without a
 * fiber; `Scan` returns a `Stream`, which the server runs on a fiber of its
 * own, paced by the client's acks.
 *
 * @example
 * ```ts
 * const server = yield* ProtocolServer.serve(Kv.Kv, handler(new Store()), { address: { host: "127.0.0.1", port: 0 } })
 * ```
 */
export const handler = (store: Store): Handler => {
  /** `KeyTooLong` as a failed Exit, if `key` is over the limit. */
  const tooLong = (key: string) => {
    const error = store.checkKey(key)
    return error === undefined ? undefined : Effect.fail(error)
  }
  return ProtocolServer.handlers(Kv.Kv, {
    Get: ({ key }) => tooLong(key) ?? Effect.succeed(store.get(key) ?? null),
    Set: ({ key, value }) => {
      const error = store.checkKey(key) ?? store.set(key, value)
      return error === undefined ? Effect.void : Effect.fail(error)
    },
    Del: ({ key }) => tooLong(key) ?? (store.del(key) ? TRUE : FALSE),
    Keys: ({ limit = 100, prefix = "" }) => Effect.succeed(store.keys(prefix, limit)),
    Incr: ({ by, key }) => {
      const result = store.checkKey(key) ?? store.incr(key, by)
      return typeof result === "number" ? Effect.succeed(result) : Effect.fail(result)
    },
    Wait: ({ key, timeoutMs }) => {
      const refused = tooLong(key)
      if (refused !== undefined) return refused
      const value = store.get(key)
      if (value !== undefined) return Effect.succeed(value)
      return timeoutMs === 0 ? NULL : waitFor(store, key, timeoutMs)
    },
    Scan: ({ prefix = "" }) => {
      const error = store.checkKey(prefix)
      return error === undefined ? scan(store, prefix) : Stream.fail(error)
    }
  })
}

/** Options of the kv server. */
export interface KvOptions extends Partial<Limits> {
  readonly host: string
  readonly port: number
  /** Requests in flight per connection before reading pauses. Default 256. */
  readonly maxInFlight?: number | undefined
  /** Serve TLS with these options (plain TCP when absent). */
  readonly tls?: Tls.TlsServerOptions | undefined
  /** Read PROXY protocol headers from these load balancers (`--proxy-protocol`); absent: clients connect directly. */
  readonly proxyProtocol?: ProxyProtocol.Options | undefined
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
      requestTimeout: Duration.seconds(30),
      tls: options.tls,
      proxyProtocol: options.proxyProtocol
    }),
    (server) => ({ server, store })
  )
}

/**
 * The kv server as a Layer (needs a Transport): listens when built, logs
 * `kv: listening on HOST:PORT` (`... with TLS` when it serves TLS), shuts
 * down gracefully when released.
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
      const tls = options.tls
      const mode = tls === undefined ? "" : tls.requestCert ? " with TLS (client certificates required)" : " with TLS"
      const tlsFlags = tls === undefined ? "" : tls.requestCert ? " --tls --tls-cert CERT --tls-key KEY" : " --tls"
      yield* Effect.logInfo(
        `kv: listening on ${
          Address.format(address)
        }${mode} (max key ${limits.maxKeyLength} B, max value ${limits.maxValueSize} B, max keys ${limits.maxKeys}); ` +
          `try: node examples/kv/dist/cli.js --port ${port}${tlsFlags} set hello world`
      )
    })
  )
