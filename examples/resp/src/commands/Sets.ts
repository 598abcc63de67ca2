/**
 * Set commands: SADD SREM SMEMBERS SCARD.
 *
 * @since 0.1.0
 */
import * as Reply from "../resp/Reply.ts"
import { fromKey, toKey } from "../store/Binary.ts"
import { WRONGTYPE } from "./Args.ts"
import { type CommandSpec, type Context, spec } from "./Table.ts"

const sadd = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const key = toKey(args[1])
  let value = ctx.store.lookup(key, ctx.now)
  if (value !== undefined && value.type !== "set") return WRONGTYPE
  if (value === undefined) {
    value = { type: "set", members: new Set() }
    ctx.store.set(key, value)
  }
  const members = value.members
  const before = members.size
  for (let i = 2; i < args.length; i++) members.add(toKey(args[i]))
  return Reply.integer(members.size - before)
}

const srem = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const key = toKey(args[1])
  const value = ctx.store.lookup(key, ctx.now)
  if (value === undefined) return Reply.ZERO
  if (value.type !== "set") return WRONGTYPE
  let removed = 0
  for (let i = 2; i < args.length; i++) if (value.members.delete(toKey(args[i]))) removed++
  if (value.members.size === 0) ctx.store.delete(key)
  return Reply.integer(removed)
}

const smembers = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  if (value === undefined) return Reply.set([])
  if (value.type !== "set") return WRONGTYPE
  const out: Array<Reply.Reply> = []
  for (const member of value.members) out.push(Reply.bulk(fromKey(member)))
  return Reply.set(out)
}

const scard = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  if (value === undefined) return Reply.ZERO
  if (value.type !== "set") return WRONGTYPE
  return Reply.integer(value.members.size)
}

/** The set commands. */
export const commands: ReadonlyArray<CommandSpec> = [
  spec("sadd", -3, ["write", "denyoom", "fast"], [1, 1, 1], ["@write", "@set", "@fast"], sadd),
  spec("srem", -3, ["write", "fast"], [1, 1, 1], ["@write", "@set", "@fast"], srem),
  spec("smembers", 2, ["readonly"], [1, 1, 1], ["@read", "@set", "@slow"], smembers),
  spec("scard", 2, ["readonly", "fast"], [1, 1, 1], ["@read", "@set", "@fast"], scard)
]
