/**
 * String commands: GET SET GETSET INCR DECR INCRBY DECRBY APPEND STRLEN MGET MSET.
 *
 * @since 0.1.0
 */
import { parseLength } from "../resp/Integer.ts"
import * as Reply from "../resp/Reply.ts"
import { makeString, stringBytes } from "../Store.ts"
import { integerBytes, own, toKey } from "../store/Binary.ts"
import {
  INT64_MAX,
  INT64_MIN,
  invalidExpire,
  is,
  MAX_STRING_LENGTH,
  NOT_INTEGER,
  OVERFLOW,
  parseBigInt,
  SYNTAX,
  wrongArity,
  WRONGTYPE
} from "./Args.ts"
import { type CommandSpec, type Context, spec } from "./Table.ts"

const get = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  if (value === undefined) return Reply.nullBulk
  if (value.type !== "string") return WRONGTYPE
  return Reply.bulk(stringBytes(value))
}

type Unit = "ex" | "px" | "exat" | "pxat"

/**
 * The absolute expiry time (ms) for `SET ... EX|PX|EXAT|PXAT value`, or `undefined` when invalid
 * (not positive, or overflowing 64 bits once converted and added to now).
 */
const setExpireAt = (value: bigint, unit: Unit, now: number): number | undefined => {
  if (value <= 0n) return undefined
  let ms = value
  if (unit === "ex" || unit === "exat") {
    if (value > INT64_MAX / 1000n) return undefined
    ms = value * 1000n
  }
  if (unit === "ex" || unit === "px") {
    ms += BigInt(now)
    if (ms > INT64_MAX) return undefined
  }
  return Number(ms)
}

/** SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL] */
const set = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  let nx = false
  let xx = false
  let withGet = false
  let keepTtl = false
  let unit: Unit | undefined
  let expireArg: Uint8Array | undefined
  for (let i = 3; i < args.length; i++) {
    const opt = args[i]
    const hasNext = i + 1 < args.length
    if (is(opt, "nx") && !xx) nx = true
    else if (is(opt, "xx") && !nx) xx = true
    else if (is(opt, "get")) withGet = true
    else if (is(opt, "keepttl") && unit === undefined) keepTtl = true
    else {
      const u: Unit | undefined = is(opt, "ex")
        ? "ex"
        : is(opt, "px")
        ? "px"
        : is(opt, "exat")
        ? "exat"
        : is(opt, "pxat")
        ? "pxat"
        : undefined
      if (u === undefined || keepTtl || (unit !== undefined && unit !== u) || !hasNext) return SYNTAX
      unit = u
      expireArg = args[++i]
    }
  }
  let expiresAt: number | undefined
  if (unit !== undefined && expireArg !== undefined) {
    const value = parseBigInt(expireArg)
    if (value === undefined) return NOT_INTEGER
    expiresAt = setExpireAt(value, unit, ctx.now)
    if (expiresAt === undefined) return invalidExpire("set")
  }
  const key = toKey(args[1])
  // the old value matters for NX, XX and GET, and its lookup reclaims it when expired: without
  // any TTL in the keyspace, a plain SET has nothing to look up
  const store = ctx.store
  const old = nx || xx || withGet || store.volatileSize > 0 ? store.lookup(key, ctx.now) : undefined
  let previous: Reply.Reply = Reply.nullBulk
  if (withGet && old !== undefined) {
    if (old.type !== "string") return WRONGTYPE
    previous = Reply.bulk(stringBytes(old))
  }
  if ((nx && old !== undefined) || (xx && old === undefined)) return withGet ? previous : Reply.nullBulk
  store.set(key, makeString(own(args[2])), keepTtl ? "keep" : expiresAt)
  return withGet ? previous : Reply.OK
}

const getset = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const key = toKey(args[1])
  const old = ctx.store.lookup(key, ctx.now)
  if (old !== undefined && old.type !== "string") return WRONGTYPE
  ctx.store.set(key, makeString(own(args[2])))
  return old === undefined ? Reply.nullBulk : Reply.bulk(stringBytes(old))
}

/** Strings of at most this many bytes hold integers of magnitude < 1e15: exact as numbers. */
const SMALL = 15

/** Add `delta` to the integer at `args[1]` (missing: 0), keeping its TTL. */
const incrBy = (args: ReadonlyArray<Uint8Array>, ctx: Context, delta: number | bigint): Reply.Reply => {
  const key = toKey(args[1])
  const value = ctx.store.lookup(key, ctx.now)
  let current: number | bigint = 0
  if (value !== undefined) {
    if (value.type !== "string") return WRONGTYPE
    const bytes = stringBytes(value)
    const n = parseLength(bytes, 0, bytes.length)
    if (n === undefined) return NOT_INTEGER
    current = bytes.length <= SMALL ? n : BigInt(toKey(bytes))
  }
  let result: number | bigint
  if (typeof current === "number" && typeof delta === "number") {
    result = current + delta
  } else {
    const sum = BigInt(current) + BigInt(delta)
    if (sum > INT64_MAX || sum < INT64_MIN) return OVERFLOW
    result = Number.isSafeInteger(Number(sum)) ? Number(sum) : sum
  }
  const bytes = integerBytes(result)
  if (value !== undefined) {
    // the same key, value object and TTL: only its bytes change (never in place: replies not
    // written yet may hold the old ones)
    value.buf = bytes
    value.length = bytes.length
  } else {
    ctx.store.set(key, makeString(bytes), "keep")
  }
  return Reply.integer(result)
}

/** The increment argument: a number when small (exact), else a bigint; `undefined` if invalid. */
const parseDelta = (bytes: Uint8Array): number | bigint | undefined => {
  const n = parseLength(bytes, 0, bytes.length)
  if (n === undefined) return undefined
  return bytes.length <= SMALL ? n : BigInt(toKey(bytes))
}

const incrby = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const delta = parseDelta(args[2])
  return delta === undefined ? NOT_INTEGER : incrBy(args, ctx, delta)
}

const decrby = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const delta = parseDelta(args[2])
  if (delta === undefined) return NOT_INTEGER
  if (delta === INT64_MIN) return Reply.err("decrement would overflow")
  return incrBy(args, ctx, typeof delta === "number" ? -delta : -delta) // (narrowed per branch)
}

const append = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const key = toKey(args[1])
  const tail = args[2]
  const value = ctx.store.lookup(key, ctx.now)
  if (value === undefined) {
    ctx.store.set(key, makeString(own(tail)), "keep")
    return Reply.integer(tail.length)
  }
  if (value.type !== "string") return WRONGTYPE
  const total = value.length + tail.length
  if (total > MAX_STRING_LENGTH) return Reply.err("string exceeds maximum allowed size (proto-max-bulk-len)")
  if (value.buf.length < total) {
    // grow with spare room (doubling up to 1 MiB, then 1 MiB more) so repeated APPENDs are linear;
    // bytes below `length` are never rewritten, so replies holding views of them stay valid
    const next = new Uint8Array(total < 1048576 ? total * 2 : total + 1048576)
    next.set(value.buf.subarray(0, value.length))
    value.buf = next
  }
  value.buf.set(tail, value.length)
  value.length = total
  return Reply.integer(total)
}

const strlen = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  if (value === undefined) return Reply.ZERO
  if (value.type !== "string") return WRONGTYPE
  return Reply.integer(value.length)
}

const mget = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const out: Array<Reply.Reply> = []
  for (let i = 1; i < args.length; i++) {
    const value = ctx.store.lookup(toKey(args[i]), ctx.now)
    out.push(value === undefined || value.type !== "string" ? Reply.nullBulk : Reply.bulk(stringBytes(value)))
  }
  return Reply.array(out)
}

const mset = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  if (args.length % 2 === 0) return wrongArity("mset")
  for (let i = 1; i < args.length; i += 2) ctx.store.set(toKey(args[i]), makeString(own(args[i + 1])))
  return Reply.OK
}

const R = ["readonly", "fast"]
const W = ["write", "denyoom"]
const WF = ["write", "denyoom", "fast"]

/** The string commands. */
export const commands: ReadonlyArray<CommandSpec> = [
  spec("get", 2, R, [1, 1, 1], ["@read", "@string", "@fast"], get),
  spec("set", -3, W, [1, 1, 1], ["@write", "@string", "@slow"], set),
  spec("getset", 3, WF, [1, 1, 1], ["@write", "@string", "@fast"], getset),
  spec("incr", 2, WF, [1, 1, 1], ["@write", "@string", "@fast"], (args, ctx) => incrBy(args, ctx, 1)),
  spec("decr", 2, WF, [1, 1, 1], ["@write", "@string", "@fast"], (args, ctx) => incrBy(args, ctx, -1)),
  spec("incrby", 3, WF, [1, 1, 1], ["@write", "@string", "@fast"], incrby),
  spec("decrby", 3, WF, [1, 1, 1], ["@write", "@string", "@fast"], decrby),
  spec("append", 3, WF, [1, 1, 1], ["@write", "@string", "@fast"], append),
  spec("strlen", 2, R, [1, 1, 1], ["@read", "@string", "@fast"], strlen),
  spec("mget", -2, R, [1, -1, 1], ["@read", "@string", "@fast"], mget),
  spec("mset", -3, W, [1, -1, 2], ["@write", "@string", "@slow"], mset)
]
