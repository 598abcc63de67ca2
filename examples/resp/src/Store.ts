/**
 * The keyspace: binary-safe keys to strings, lists, hashes and sets, with expiry.
 *
 * ```
 *   data:    Map<key, Value>       key = binary string of the key bytes (see store/Binary.ts)
 *   expires: Map<key, ms>          only keys with a TTL; absolute unix time in milliseconds
 * ```
 *
 * Expiry works as in Redis:
 * - lazily: every lookup of a key whose time has passed (`now > expiresAt`) deletes it first;
 * - actively: {@link Store.sweep} examines a bounded number of keys that have a TTL, resuming
 *   where the previous call stopped, and deletes the expired ones. The server calls it on a timer
 *   (Redis: 10 times a second) and may call again at once while a large share was expired.
 *
 * Time is injected: commands pass `now` (from `store.clock()` once per command), tests pass any.
 *
 * @since 0.1.0
 */
import type { Deque } from "./store/Deque.ts"

/** A string: bytes `buf[0, length)`; `buf` may have spare room for `APPEND`. */
export interface StringValue {
  readonly type: "string"
  buf: Uint8Array
  length: number
}

/** A list of byte strings. */
export interface ListValue {
  readonly type: "list"
  readonly items: Deque<Uint8Array>
}

/** A hash: field (binary string) to value. */
export interface HashValue {
  readonly type: "hash"
  readonly fields: Map<string, Uint8Array>
}

/** A set of members (binary strings). */
export interface SetValue {
  readonly type: "set"
  readonly members: Set<string>
}

/** Any stored value. */
export type Value = StringValue | ListValue | HashValue | SetValue

/** The bytes of a string value (no copy when it has no spare room). */
export const stringBytes = (value: StringValue): Uint8Array =>
  value.length === value.buf.length ? value.buf : value.buf.subarray(0, value.length)

/** A string value holding `bytes` (kept, not copied). */
export const makeString = (bytes: Uint8Array): StringValue => ({ type: "string", buf: bytes, length: bytes.length })

/** Counters shown by `INFO`. */
export interface Stats {
  /** Set by the server as connections come and go. */
  connectedClients: number
  /** Commands executed (incremented by `execute`). */
  commandsProcessed: number
  /** Keys deleted because their time had passed (lazily or by `sweep`). */
  expiredKeys: number
  /** Connections accepted (set by the server; also the source of client ids if it wishes). */
  connectionsReceived: number
}

/** Options of {@link make}. */
export interface StoreOptions {
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: () => number
}

/** What one {@link Store.sweep} call did. */
export interface SweepResult {
  /** Keys with a TTL that were examined. */
  readonly sampled: number
  /** Of those, the ones deleted because their time had passed. */
  readonly expired: number
}

/** Default number of keys {@link Store.sweep} examines per call (Redis samples 20 per loop). */
export const DEFAULT_SWEEP_BUDGET = 20

/** The keyspace of database 0. */
export class Store {
  private readonly data = new Map<string, Value>()
  private readonly expires = new Map<string, number>()
  private cursor: Iterator<[string, number]> | undefined
  /** Milliseconds since the epoch (injected for tests). */
  readonly clock: () => number
  /** When the store was made (`clock()`), for `INFO`'s uptime. */
  readonly startedAt: number
  /** Counters for `INFO`. */
  readonly stats: Stats = { connectedClients: 0, commandsProcessed: 0, expiredKeys: 0, connectionsReceived: 0 }

  constructor(options: StoreOptions = {}) {
    this.clock = options.clock ?? Date.now
    this.startedAt = this.clock()
  }

  /** Number of keys, including expired ones not reclaimed yet (as Redis's `DBSIZE`). */
  get size(): number {
    return this.data.size
  }

  /** Number of keys with a TTL (reclaimed or not). */
  get volatileSize(): number {
    return this.expires.size
  }

  /** The live value at `key`, deleting it first when its time has passed. */
  lookup(key: string, now: number): Value | undefined {
    const value = this.data.get(key)
    if (value === undefined || this.expires.size === 0) return value
    const at = this.expires.get(key)
    if (at !== undefined && now > at) {
      this.data.delete(key)
      this.expires.delete(key)
      this.stats.expiredKeys++
      return undefined
    }
    return value
  }

  /**
   * Store `value` at `key`. `expiresAt`: an absolute time in ms to set a TTL, `undefined` to
   * remove any TTL, `"keep"` to keep the current one.
   */
  set(key: string, value: Value, expiresAt: number | "keep" | undefined = undefined): void {
    this.data.set(key, value)
    if (expiresAt === "keep") return
    if (expiresAt === undefined) {
      if (this.expires.size > 0) this.expires.delete(key)
    } else {
      this.expires.set(key, expiresAt)
    }
  }

  /** Delete `key` (expired or not); was it there? */
  delete(key: string): boolean {
    if (!this.data.delete(key)) return false
    if (this.expires.size > 0) this.expires.delete(key)
    return true
  }

  /** The absolute expiry time of `key`, `undefined` when it has none. */
  expireAt(key: string): number | undefined {
    return this.expires.size === 0 ? undefined : this.expires.get(key)
  }

  /** Set the TTL of an existing key (absolute ms). */
  setExpire(key: string, at: number): void {
    if (this.data.has(key)) this.expires.set(key, at)
  }

  /** Remove the TTL of `key`; did it have one? */
  persist(key: string): boolean {
    return this.expires.delete(key)
  }

  /** Every key (expired or not), in insertion order. Callers check expiry with `isExpired`. */
  keys(): IterableIterator<string> {
    return this.data.keys()
  }

  /** Has `key` a TTL that has passed at `now` (without deleting it)? */
  isExpired(key: string, now: number): boolean {
    const at = this.expires.size === 0 ? undefined : this.expires.get(key)
    return at !== undefined && now > at
  }

  /** Delete every key. */
  flush(): void {
    this.data.clear()
    this.expires.clear()
    this.cursor = undefined
  }

  /**
   * Active expiry: examine up to `budget` keys that have a TTL, resuming after the last key the
   * previous call examined (wrapping around, at most one full pass per call), and delete those
   * whose time has passed at `now`. Bounded work per call; repeat while `expired / sampled` is
   * high to reclaim faster.
   */
  sweep(now: number, budget: number = DEFAULT_SWEEP_BUDGET): SweepResult {
    let sampled = 0
    let expired = 0
    const limit = Math.min(budget, this.expires.size) // at most one full pass
    let restarts = 0
    while (sampled < limit && restarts < 2) {
      if (this.cursor === undefined) this.cursor = this.expires.entries()
      const next = this.cursor.next()
      if (next.done === true) {
        this.cursor = undefined
        restarts++
        continue
      }
      sampled++
      const [key, at] = next.value
      if (now > at) {
        this.data.delete(key)
        this.expires.delete(key)
        this.stats.expiredKeys++
        expired++
      }
    }
    return { sampled, expired }
  }
}

/** A fresh empty keyspace. */
export const make = (options: StoreOptions = {}): Store => new Store(options)
