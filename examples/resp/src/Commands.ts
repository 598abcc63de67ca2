/**
 * The command engine: one request in, one reply out, pure and synchronous.
 *
 * ```
 *   execute(store, ["SET", "k", "v"], session)   → +OK
 *   execute(store, ["GET", "k"], session)        → $1 v
 *   execute(store, ["FOO", "a"], session)        → -ERR unknown command 'FOO', with args beginning with: 'a'
 *   execute(store, ["GET"], session)             → -ERR wrong number of arguments for 'get' command
 * ```
 *
 * The server must encode each reply with `session.protocol` as it is AFTER `execute` (`HELLO 3`
 * answers in RESP3), and close the connection once the replies are written when
 * `session.closeRequested` (`QUIT`). Argument bytes may be views of socket chunks: values kept in
 * the keyspace are copied unless they are large whole arrays of their own (see `own`).
 *
 * @since 0.1.0
 */
import * as Args from "./commands/Args.ts"
import * as Connection from "./commands/Connection.ts"
import * as Hashes from "./commands/Hashes.ts"
import * as Introspection from "./commands/Introspection.ts"
import * as Keys from "./commands/Keys.ts"
import * as Lists from "./commands/Lists.ts"
import * as Sets from "./commands/Sets.ts"
import * as Strings from "./commands/Strings.ts"
import { arityOk, type CommandSpec } from "./commands/Table.ts"
import * as Reply from "./resp/Reply.ts"
import type { Session } from "./Session.ts"
import type { Store } from "./Store.ts"
import { lowerAscii, toKey } from "./store/Binary.ts"

export type { CommandSpec, Context, Handler } from "./commands/Table.ts"

/** Every command by lower-case name. */
export const table: ReadonlyMap<string, CommandSpec> = new Map(
  [
    ...Connection.commands,
    ...Strings.commands,
    ...Keys.commands,
    ...Lists.commands,
    ...Hashes.commands,
    ...Sets.commands,
    ...Introspection.makeCommands(() => table)
  ].map((cmd) => [cmd.name, cmd])
)

/** The table again under upper-case names too: most clients send `GET`, some `get`. */
const lookup = new Map<string, CommandSpec>()
for (const [name, cmd] of table) {
  lookup.set(name, cmd)
  lookup.set(name.toUpperCase(), cmd)
}

/** The longest command name: longer names are unknown without a lookup. */
const LONGEST = Math.max(...[...table.keys()].map((name) => name.length))

/**
 * A name of 1..6 ASCII letters, any case, packed 5 bits per letter into a small integer (`0` for
 * any other name): the hot commands are found without building a string.
 */
const packName = (name: Uint8Array): number => {
  const n = name.length
  if (n > 6) return 0
  let v = 0
  for (let i = 0; i < n; i++) {
    const c = name[i] | 0x20 // ASCII lower case (and garbage for non-letters, rejected below)
    if (c < 97 || c > 122) return 0
    v = (v << 5) | (c - 96)
  }
  return v
}

const byPackedName = new Map<number, CommandSpec>()
for (const [name, cmd] of table) {
  const packed = packName(new TextEncoder().encode(name))
  if (packed !== 0) byPackedName.set(packed, cmd)
}

const EMPTY_COMMAND = Reply.err("empty command")

/** The command named by `head` (any case), or `undefined`. */
const find = (head: Uint8Array): CommandSpec | undefined => {
  const packed = packName(head)
  if (packed !== 0) return byPackedName.get(packed)
  if (head.length > LONGEST) return undefined
  return lookup.get(toKey(head)) ?? lookup.get(lowerAscii(head))
}

/**
 * Run one command (`args[0]` is its name, any case) against `store` for the connection `session`.
 * Never throws on any input; errors are error replies.
 *
 * `now` (ms since the epoch) is the command's time; default `store.clock()`. A server executing
 * the commands of one read may pass one reading for all of them, as Redis caches its clock.
 */
export const execute = (
  store: Store,
  args: ReadonlyArray<Uint8Array>,
  session: Session,
  now: number = store.clock()
): Reply.Reply => {
  if (args.length === 0) return EMPTY_COMMAND
  let cmd = find(args[0])
  if (cmd === undefined) return Args.unknownCommand(args)
  if (!arityOk(cmd.arity, args.length)) return Args.wrongArity(cmd.name)
  if (cmd.subcommands !== undefined && args.length >= 2) {
    const sub = args[1].length > LONGEST ? undefined : cmd.subcommands.get(lowerAscii(args[1]))
    if (sub === undefined) return Args.unknownSubcommand(cmd.name, args[1])
    if (!arityOk(sub.arity, args.length)) return Args.wrongArity(sub.name)
    cmd = sub
  }
  const reply = cmd.run(args, { store, session, now })
  store.stats.commandsProcessed++ // after the command, as Redis (INFO does not count itself)
  return reply
}
