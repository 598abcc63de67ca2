/**
 * List commands: LPUSH RPUSH LPOP RPOP (with count) LLEN LRANGE.
 *
 * @since 0.1.0
 */
import * as Reply from "../resp/Reply.ts"
import { own, toKey } from "../store/Binary.ts"
import { Deque } from "../store/Deque.ts"
import { NOT_INTEGER, NOT_POSITIVE, parseInteger, wrongArity, WRONGTYPE } from "./Args.ts"
import { type CommandSpec, type Context, spec } from "./Table.ts"

const push = (front: boolean) => (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const key = toKey(args[1])
  let value = ctx.store.lookup(key, ctx.now)
  if (value !== undefined && value.type !== "list") return WRONGTYPE
  if (value === undefined) {
    value = { type: "list", items: new Deque<Uint8Array>(args.length - 2) }
    ctx.store.set(key, value)
  }
  const items = value.items
  for (let i = 2; i < args.length; i++) {
    if (front) items.pushFront(own(args[i]))
    else items.pushBack(own(args[i]))
  }
  return Reply.integer(items.length)
}

/** LPOP / RPOP key [count] */
const pop = (name: string, front: boolean) => (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  if (args.length > 3) return wrongArity(name)
  let count = -1 // no count given
  if (args.length === 3) {
    const n = parseInteger(args[2])
    if (n === undefined || n < 0) return NOT_POSITIVE
    count = n
  }
  const key = toKey(args[1])
  const value = ctx.store.lookup(key, ctx.now)
  if (value === undefined) return count === -1 ? Reply.nullBulk : Reply.nullArray
  if (value.type !== "list") return WRONGTYPE
  const items = value.items
  let reply: Reply.Reply
  if (count === -1) {
    const item = front ? items.popFront() : items.popBack()
    reply = item === undefined ? Reply.nullBulk : Reply.bulk(item)
  } else {
    const out: Array<Reply.Reply> = []
    const n = Math.min(count, items.length)
    for (let i = 0; i < n; i++) out.push(Reply.bulk((front ? items.popFront() : items.popBack()) as Uint8Array))
    reply = Reply.array(out)
  }
  if (items.length === 0) ctx.store.delete(key)
  return reply
}

const llen = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  if (value === undefined) return Reply.ZERO
  if (value.type !== "list") return WRONGTYPE
  return Reply.integer(value.items.length)
}

const lrange = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  let start = parseInteger(args[2])
  let stop = parseInteger(args[3])
  if (start === undefined || stop === undefined) return NOT_INTEGER
  const value = ctx.store.lookup(toKey(args[1]), ctx.now)
  if (value === undefined) return Reply.emptyArray
  if (value.type !== "list") return WRONGTYPE
  const items = value.items
  const length = items.length
  if (start < 0) start += length
  if (stop < 0) stop += length
  if (start < 0) start = 0
  if (start > stop || start >= length) return Reply.emptyArray
  if (stop >= length) stop = length - 1
  const out: Array<Reply.Reply> = []
  for (let i = start; i <= stop; i++) out.push(Reply.bulk(items.at(i)))
  return Reply.array(out)
}

const LW = ["@write", "@list", "@fast"]

/** The list commands. */
export const commands: ReadonlyArray<CommandSpec> = [
  spec("lpush", -3, ["write", "denyoom", "fast"], [1, 1, 1], LW, push(true)),
  spec("rpush", -3, ["write", "denyoom", "fast"], [1, 1, 1], LW, push(false)),
  spec("lpop", -2, ["write", "fast"], [1, 1, 1], LW, pop("lpop", true)),
  spec("rpop", -2, ["write", "fast"], [1, 1, 1], LW, pop("rpop", false)),
  spec("llen", 2, ["readonly", "fast"], [1, 1, 1], ["@read", "@list", "@fast"], llen),
  spec("lrange", 4, ["readonly"], [1, 1, 1], ["@read", "@list", "@slow"], lrange)
]
