/**
 * Hash commands: HSET (several pairs) HGET HDEL HGETALL.
 *
 * @since 0.1.0
 */
import * as Reply from "../resp/Reply.ts"
import { fromKey, own, toKey } from "../store/Binary.ts"
import { wrongArity, WRONGTYPE } from "./Args.ts"
import { type CommandSpec, type Context, spec } from "./Table.ts"

const hset = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  if (args.length % 2 === 1) return wrongArity("hset")
  const key = toKey(args[1])
  let value = ctx.store.lookup(key, ctx.now)
  if (value !== undefined && value.type !== "hash") return WRONGTYPE
  if (value === undefined) {
    value = { type: "hash", fields: new Map() }
    ctx.store.set(key, value)
  }
  const fields = value.fields
  let added = 0
  for (let i = 2; i < args.length; i += 2) {
    const field = toKey(args[i])
    if (!fields.has(field)) added++
    fields.set(field, own(args[i + 1]))
  }
  return Reply.integer(added)
}

const hget = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  if (value === undefined) return Reply.nullBulk
  if (value.type !== "hash") return WRONGTYPE
  const field = value.fields.get(toKey(args[2]))
  return field === undefined ? Reply.nullBulk : Reply.bulk(field)
}

const hdel = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const key = toKey(args[1])
  const value = ctx.store.lookup(key, ctx.now)
  if (value === undefined) return Reply.ZERO
  if (value.type !== "hash") return WRONGTYPE
  let removed = 0
  for (let i = 2; i < args.length; i++) if (value.fields.delete(toKey(args[i]))) removed++
  if (value.fields.size === 0) ctx.store.delete(key)
  return Reply.integer(removed)
}

const hgetall = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  if (value === undefined) return Reply.map([])
  if (value.type !== "hash") return WRONGTYPE
  const entries: Array<readonly [Reply.Reply, Reply.Reply]> = []
  for (const [field, v] of value.fields) entries.push([Reply.bulk(fromKey(field)), Reply.bulk(v)])
  return Reply.map(entries)
}

/** The hash commands. */
export const commands: ReadonlyArray<CommandSpec> = [
  spec("hset", -4, ["write", "denyoom", "fast"], [1, 1, 1], ["@write", "@hash", "@fast"], hset),
  spec("hget", 3, ["readonly", "fast"], [1, 1, 1], ["@read", "@hash", "@fast"], hget),
  spec("hdel", -3, ["write", "fast"], [1, 1, 1], ["@write", "@hash", "@fast"], hdel),
  spec("hgetall", 2, ["readonly"], [1, 1, 1], ["@read", "@hash", "@slow"], hgetall)
]
