/**
 * Keyspace commands: DEL EXISTS EXPIRE PEXPIRE TTL PTTL PERSIST KEYS DBSIZE FLUSHDB FLUSHALL TYPE.
 *
 * @since 0.1.0
 */
import * as Reply from "../resp/Reply.ts"
import { fromKey, toKey } from "../store/Binary.ts"
import { globMatch } from "../store/Glob.ts"
import { INT64_MAX, INT64_MIN, invalidExpire, is, NOT_INTEGER, parseBigInt, quoted, SYNTAX } from "./Args.ts"
import { type CommandSpec, type Context, spec } from "./Table.ts"

const del = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  let n = 0
  for (let i = 1; i < args.length; i++) {
    const key = toKey(args[i])
    if (ctx.store.lookup(key, ctx.now) !== undefined && ctx.store.delete(key)) n++
  }
  return Reply.integer(n)
}

const exists = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  let n = 0
  for (let i = 1; i < args.length; i++) if (ctx.store.lookup(toKey(args[i]), ctx.now) !== undefined) n++
  return Reply.integer(n)
}

/** EXPIRE / PEXPIRE key time [NX|XX|GT|LT] */
const expire = (name: string, seconds: boolean) => (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  let nx = false
  let xx = false
  let gt = false
  let lt = false
  for (let i = 3; i < args.length; i++) {
    const opt = args[i]
    if (is(opt, "nx")) nx = true
    else if (is(opt, "xx")) xx = true
    else if (is(opt, "gt")) gt = true
    else if (is(opt, "lt")) lt = true
    else return Reply.err(`Unsupported option ${quoted(opt, opt.length)}`)
  }
  if (nx && (xx || gt || lt)) return Reply.err("NX and XX, GT or LT options at the same time are not compatible")
  if (gt && lt) return Reply.err("GT and LT options at the same time are not compatible")
  let when = parseBigInt(args[2])
  if (when === undefined) return NOT_INTEGER
  if (seconds) {
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalidExpire(name)
    when *= 1000n
  }
  const now = BigInt(ctx.now)
  if (when > INT64_MAX - now) return invalidExpire(name)
  when += now
  const key = toKey(args[1])
  if (ctx.store.lookup(key, ctx.now) === undefined) return Reply.ZERO
  const current = ctx.store.expireAt(key)
  if (nx && current !== undefined) return Reply.ZERO
  if (xx && current === undefined) return Reply.ZERO
  if (gt && (current === undefined || when <= BigInt(current))) return Reply.ZERO // no TTL: infinite
  if (lt && current !== undefined && when >= BigInt(current)) return Reply.ZERO
  if (when <= now) {
    ctx.store.delete(key)
    return Reply.ONE
  }
  ctx.store.setExpire(key, Number(when))
  return Reply.ONE
}

/** TTL / PTTL: -2 no key, -1 no TTL, else the time left (seconds rounded to nearest). */
const ttl = (millis: boolean) => (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const key = toKey(args[1])
  if (ctx.store.lookup(key, ctx.now) === undefined) return Reply.integer(-2)
  const at = ctx.store.expireAt(key)
  if (at === undefined) return Reply.integer(-1)
  const left = Math.max(0, at - ctx.now)
  return Reply.integer(millis ? left : Math.floor((left + 500) / 1000))
}

const persist = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const key = toKey(args[1])
  if (ctx.store.lookup(key, ctx.now) === undefined) return Reply.ZERO
  return ctx.store.persist(key) ? Reply.ONE : Reply.ZERO
}

const keys = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const pattern = toKey(args[1])
  const all = pattern === "*"
  const out: Array<Reply.Reply> = []
  for (const key of ctx.store.keys()) {
    if (ctx.store.isExpired(key, ctx.now)) continue
    if (all || globMatch(pattern, key)) out.push(Reply.bulk(fromKey(key)))
  }
  return Reply.array(out)
}

const flush = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  if (args.length > 2 || (args.length === 2 && !is(args[1], "async") && !is(args[1], "sync"))) return SYNTAX
  ctx.store.flush()
  return Reply.OK
}

const TYPES = {
  string: Reply.simple("string"),
  list: Reply.simple("list"),
  hash: Reply.simple("hash"),
  set: Reply.simple("set")
} as const
const NONE = Reply.simple("none")

const type = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  return value === undefined ? NONE : TYPES[value.type]
}

const KR = ["@keyspace", "@read", "@fast"]
const KW = ["@keyspace", "@write", "@fast"]

/** The keyspace commands. */
export const commands: ReadonlyArray<CommandSpec> = [
  spec("del", -2, ["write"], [1, -1, 1], ["@keyspace", "@write", "@slow"], del),
  spec("exists", -2, ["readonly", "fast"], [1, -1, 1], KR, exists),
  spec("expire", -3, ["write", "fast"], [1, 1, 1], KW, expire("expire", true)),
  spec("pexpire", -3, ["write", "fast"], [1, 1, 1], KW, expire("pexpire", false)),
  spec("ttl", 2, ["readonly", "fast"], [1, 1, 1], KR, ttl(false)),
  spec("pttl", 2, ["readonly", "fast"], [1, 1, 1], KR, ttl(true)),
  spec("persist", 2, ["write", "fast"], [1, 1, 1], KW, persist),
  spec("keys", 2, ["readonly"], [0, 0, 0], ["@keyspace", "@read", "@slow", "@dangerous"], keys),
  spec("dbsize", 1, ["readonly", "fast"], [0, 0, 0], KR, (_, ctx) => Reply.integer(ctx.store.size)),
  spec("flushdb", -1, ["write"], [0, 0, 0], ["@keyspace", "@write", "@slow", "@dangerous"], flush),
  spec("flushall", -1, ["write"], [0, 0, 0], ["@keyspace", "@write", "@slow", "@dangerous"], flush),
  spec("type", 2, ["readonly", "fast"], [1, 1, 1], KR, type)
]
