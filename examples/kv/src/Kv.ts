/**
 * The key-value protocol: one `Protocol.method` per command, each with its
 * own payload, success and typed error schemas, in wirekit's standard JSON
 * envelope, one envelope per frame (4-byte big-endian length + UTF-8 JSON),
 * multiplexed by id: many requests in flight on one connection, each
 * answered as soon as it completes (a slow `Wait` does not hold up the `Get`s
 * behind it). A success is the method's own value (`Set`'s void travels as
 * `null`); a failure is the method's typed error.
 *
 * ```
 *   → {"id":1,"request":{"_tag":"Set","key":"a","value":"1"}}
 *   → {"id":2,"request":{"_tag":"Wait","key":"b","timeoutMs":5000}}
 *   → {"id":3,"request":{"_tag":"Get","key":"a"}}
 *   ← {"id":1,"success":null}
 *   ← {"id":3,"success":"1"}                                           (before #2)
 *   ← {"id":2,"success":null}                                          (5 s later)
 *   → {"id":4,"request":{"_tag":"Get","key":"xxxx...(300 bytes)"}}
 *   ← {"id":4,"failure":{"_tag":"KeyTooLong","length":300,"max":256}}
 * ```
 *
 * `Scan` answers with a stream: chunks of entries (at most 256 a chunk),
 * then an end, or its typed error as a `failure`. Flow control: the server
 * sends at most 16 chunks ahead of what the client acknowledged (`ack`: the
 * chunks it consumed since its last ack), so a slow reader pauses the
 * server's stream instead of filling a buffer; `cancel` stops it.
 *
 * ```
 *   → {"id":5,"request":{"_tag":"Scan","prefix":"user:"}}
 *   ← {"id":5,"chunk":[{"key":"user:1","value":"ann"},{"key":"user:2","value":"bob"},...]}
 *   ← {"id":5,"chunk":[...]}                                           (up to 16 unacknowledged)
 *   → {"id":5,"ack":8}                                                 (8 chunks consumed)
 *   ← {"id":5,"chunk":[...]}
 *   ← {"id":5,"end":true}
 *   → {"id":6,"request":{"_tag":"Scan"}}
 *   ← {"id":6,"chunk":[...]}
 *   → {"id":6,"cancel":true}                                           (the reader stopped early)
 * ```
 *
 * Keys and values are strings (UTF-8 on the wire); limits are counted in
 * UTF-8 bytes. Requests that do not match their method's schema are answered
 * with a `BadRequest` fault (a `ClientError` with reason `"Remote"` on the
 * client).
 *
 * @since 0.1.0
 */
import { Protocol } from "@wirekit/core"
import { Schema } from "effect"

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/** The key (or `Scan`'s prefix) is over the server's key limit (in UTF-8 bytes). */
export class KeyTooLong
  extends Schema.TaggedError<KeyTooLong>()("KeyTooLong", { length: Schema.Int, max: Schema.Int })
{
  override get message(): string {
    return `key is ${this.length} bytes, the limit is ${this.max}`
  }
}

/** The value is over the server's value limit (in UTF-8 bytes). */
export class ValueTooLarge
  extends Schema.TaggedError<ValueTooLarge>()("ValueTooLarge", { size: Schema.Int, max: Schema.Int })
{
  override get message(): string {
    return `value is ${this.size} bytes, the limit is ${this.max}`
  }
}

/** `Incr` on a value that is not an integer, or a result past ±2^53. */
export class NotAnInteger extends Schema.TaggedError<NotAnInteger>()("NotAnInteger", { key: Schema.String }) {
  override get message(): string {
    return `the value of ${JSON.stringify(this.key)} is not an integer (or the result would not be a safe integer)`
  }
}

/** A new key, but the store holds its maximum number of keys. */
export class StoreFull extends Schema.TaggedError<StoreFull>()("StoreFull", { max: Schema.Int }) {
  override get message(): string {
    return `the store is full (${this.max} keys)`
  }
}

/** Every typed error (each method fails with its own subset). */
export type KvError = KeyTooLong | ValueTooLarge | NotAnInteger | StoreFull

// ---------------------------------------------------------------------------
// methods
// ---------------------------------------------------------------------------

/** The value of `key`, `null` if absent. */
export const Get = Protocol.method("Get", {
  payload: { key: Schema.String },
  success: Schema.NullOr(Schema.String),
  error: KeyTooLong,
  // reads and plain writes may be sent again after a lost connection (the client retries them)
  idempotent: true
})

/** Sets `key` to `value` (replacing any value); nothing is stored on an error. */
export const Set = Protocol.method("Set", {
  payload: { key: Schema.String, value: Schema.String },
  error: Schema.Union(KeyTooLong, ValueTooLarge, StoreFull),
  idempotent: true
})

/** Deletes `key`; `true` if it existed. */
export const Del = Protocol.method("Del", {
  payload: { key: Schema.String },
  success: Schema.Boolean,
  error: KeyTooLong
})

/** `Keys`' answer: `more` when keys were left out by the limit (so a caller knows the list is partial). */
export const KeyList = Schema.Struct({ keys: Schema.Array(Schema.String), more: Schema.Boolean })
/** `Keys`' answer, as a type. */
export type KeyList = typeof KeyList.Type

/** The keys starting with `prefix` (default: all), sorted, at most `limit` (default 100, max 10 000). */
export const Keys = Protocol.method("Keys", {
  payload: {
    prefix: Schema.optional(Schema.String),
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 10_000)))
  },
  success: KeyList,
  idempotent: true
})

/**
 * Adds `by` to the integer stored at `key` (absent: 0) and returns the
 * result. `ValueTooLarge` only when the value limit is below the result's
 * length (a server started with a tiny `--max-value`).
 */
export const Incr = Protocol.method("Incr", {
  payload: { key: Schema.String, by: Schema.Int },
  success: Schema.Int,
  error: Schema.Union(KeyTooLong, NotAnInteger, StoreFull, ValueTooLarge)
})

/**
 * The value of `key` as soon as it has one: at once if it exists, else when it
 * is set, or `null` after `timeoutMs` (at most 20 s). The slow command that
 * shows multiplexing: it never blocks the requests sent after it.
 */
export const Wait = Protocol.method("Wait", {
  payload: { key: Schema.String, timeoutMs: Schema.Int.pipe(Schema.between(0, 20_000)) },
  success: Schema.NullOr(Schema.String),
  error: KeyTooLong,
  idempotent: true
})

/** One item of `Scan`. */
export const Entry = Schema.Struct({ key: Schema.String, value: Schema.String })
/** One item of `Scan`, as a type. */
export type Entry = typeof Entry.Type

/**
 * The entries whose key starts with `prefix` (default: all), in key order,
 * as a stream: a snapshot taken when the scan starts. Unlike `Keys` it has
 * no limit: the reader takes as many as it wants and stops (which cancels
 * the server's stream), and flow control keeps the server from running
 * ahead of it. `KeyTooLong` for a prefix over the key limit (no key could
 * match it, so it is the caller's mistake, as for the other methods).
 */
export const Scan = Protocol.method("Scan", {
  payload: { prefix: Schema.optional(Schema.String) },
  success: Entry,
  error: KeyTooLong,
  stream: true
})

// ---------------------------------------------------------------------------
// the protocol
// ---------------------------------------------------------------------------

/**
 * The kv protocol: its methods multiplexed by id (the default of
 * `Protocol.rpc`, and what streaming needs) over length-field framing
 * (4-byte big-endian length, 8 MiB max frame).
 *
 * @example
 * ```ts
 * const kv = yield* Client.make(Kv, { host: "127.0.0.1", port: 7002 })
 * yield* kv.request(Set({ key: "greeting", value: "hello" }))      // void
 * const value = yield* kv.request(Get({ key: "greeting" }))         // "hello" (string | null)
 * const users = yield* Stream.runCollect(kv.stream(Scan({ prefix: "user:" })))
 * ```
 */
export const Kv = Protocol.rpc({
  name: "kv",
  methods: [Get, Set, Del, Keys, Incr, Wait, Scan]
})

/** Every request, as a type. */
export type Request = Protocol.RequestOf<typeof Kv>

/** The default port of the kv example. */
export const DEFAULT_PORT = 7002
