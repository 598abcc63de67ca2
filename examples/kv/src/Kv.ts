/**
 * The key-value protocol: Schema-typed requests, responses and errors in
 * wirekit's standard JSON envelope, one envelope per frame (4-byte big-endian
 * length + UTF-8 JSON), multiplexed by id: many requests in flight on one
 * connection, each answered as soon as it completes (a slow `Wait` does not
 * hold up the `Get`s behind it).
 *
 * ```
 *   → {"id":1,"request":{"_tag":"Set","key":"a","value":"1"}}
 *   → {"id":2,"request":{"_tag":"Wait","key":"b","timeoutMs":5000}}
 *   → {"id":3,"request":{"_tag":"Get","key":"a"}}
 *   ← {"id":1,"success":{"_tag":"Stored"}}
 *   ← {"id":3,"success":{"_tag":"Value","value":"1"}}                  (before #2)
 *   ← {"id":2,"success":{"_tag":"Value","value":null}}                 (5 s later)
 *   → {"id":4,"request":{"_tag":"Get","key":"xxxx...(300 bytes)"}}
 *   ← {"id":4,"failure":{"_tag":"KeyTooLong","length":300,"max":256}}
 * ```
 *
 * Keys and values are strings (UTF-8 on the wire); limits are counted in
 * UTF-8 bytes. Requests that do not match the schema are answered with a
 * `BadRequest` fault (a `ClientError` with reason `"Remote"` on the client).
 *
 * @since 0.1.0
 */
import { Protocol } from "@wirekit/core"
import { Schema } from "effect"

// ---------------------------------------------------------------------------
// requests
// ---------------------------------------------------------------------------

/** The value of `key` (`null` if absent). */
export const Get = Schema.TaggedStruct("Get", { key: Schema.String })
/** Sets `key` to `value` (replacing any value). */
export const Set = Schema.TaggedStruct("Set", { key: Schema.String, value: Schema.String })
/** Deletes `key`; says whether it existed. */
export const Del = Schema.TaggedStruct("Del", { key: Schema.String })
/** The keys starting with `prefix` (default: all), sorted, at most `limit` (default 100, max 10 000). */
export const Keys = Schema.TaggedStruct("Keys", {
  prefix: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 10_000)))
})
/** Adds `by` to the integer stored at `key` (absent: 0) and returns the result. */
export const Incr = Schema.TaggedStruct("Incr", { key: Schema.String, by: Schema.Int })
/**
 * The value of `key` as soon as it has one: at once if it exists, else when it
 * is set, or `null` after `timeoutMs` (at most 20 s). The slow command that
 * shows multiplexing: it never blocks the requests sent after it.
 */
export const Wait = Schema.TaggedStruct("Wait", { key: Schema.String, timeoutMs: Schema.Int.pipe(Schema.between(0, 20_000)) })

/** Every request. */
export const Request = Schema.Union(Get, Set, Del, Keys, Incr, Wait)
/** Every request, as a type. */
export type Request = typeof Request.Type

// ---------------------------------------------------------------------------
// responses
// ---------------------------------------------------------------------------

/** The answer to `Get` and `Wait`. */
export const Value = Schema.TaggedStruct("Value", { value: Schema.NullOr(Schema.String) })
/** The answer to `Set`. */
export const Stored = Schema.TaggedStruct("Stored", {})
/** The answer to `Del`. */
export const Deleted = Schema.TaggedStruct("Deleted", { existed: Schema.Boolean })
/** The answer to `Keys`: `more` when keys were left out by the limit. */
export const KeyList = Schema.TaggedStruct("KeyList", { keys: Schema.Array(Schema.String), more: Schema.Boolean })
/** The answer to `Incr`. */
export const Counter = Schema.TaggedStruct("Counter", { value: Schema.Int })

/** Every success response. */
export const Response = Schema.Union(Value, Stored, Deleted, KeyList, Counter)
/** Every success response, as a type. */
export type Response = typeof Response.Type

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/** The key is over the server's key limit (in UTF-8 bytes). */
export class KeyTooLong extends Schema.TaggedError<KeyTooLong>()("KeyTooLong", { length: Schema.Int, max: Schema.Int }) {
  override get message(): string {
    return `key is ${this.length} bytes, the limit is ${this.max}`
  }
}

/** The value is over the server's value limit (in UTF-8 bytes). */
export class ValueTooLarge extends Schema.TaggedError<ValueTooLarge>()("ValueTooLarge", { size: Schema.Int, max: Schema.Int }) {
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

/** Every typed error. */
export const KvError = Schema.Union(KeyTooLong, ValueTooLarge, NotAnInteger, StoreFull)
/** Every typed error, as a type. */
export type KvError = typeof KvError.Type

// ---------------------------------------------------------------------------
// the protocol
// ---------------------------------------------------------------------------

/**
 * The kv protocol: requests multiplexed by id over length-field framing
 * (the default of `Protocol.schema`: 4-byte big-endian length, 8 MiB max frame).
 *
 * @example
 * ```ts
 * const kv = yield* Client.make(Kv, { host: "127.0.0.1", port: 7002 })
 * yield* kv.request({ _tag: "Set", key: "greeting", value: "hello" })  // { _tag: "Stored" }
 * yield* kv.request({ _tag: "Get", key: "greeting" })                 // { _tag: "Value", value: "hello" }
 * ```
 */
export const Kv = Protocol.schema({
  name: "kv",
  request: Request,
  response: Response,
  error: KvError,
  correlation: "byId"
})

/** The default port of the kv example. */
export const DEFAULT_PORT = 7002
