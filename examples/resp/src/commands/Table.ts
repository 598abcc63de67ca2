/**
 * The shape of command handlers and of the command table (also what `COMMAND` reports).
 *
 * ```
 *   spec("get", 2, ["readonly", "fast"], [1, 1, 1], handler)
 *        name   arity (n: exactly n args incl. the name; -n: at least n)   first/last/step key
 * ```
 *
 * @since 0.1.0
 */
import type * as Reply from "../resp/Reply.ts"
import type { Session } from "../Session.ts"
import type { Store } from "../Store.ts"

/** What a handler works with: the keyspace, the connection's session and the command's time. */
export interface Context {
  readonly store: Store
  readonly session: Session
  /** Milliseconds since the epoch, read once per command (`store.clock()`). */
  readonly now: number
}

/** A command implementation: arity already checked. Pure and synchronous. */
export type Handler = (args: ReadonlyArray<Uint8Array>, ctx: Context) => Reply.Reply

/** One command (or subcommand) of the table. */
export interface CommandSpec {
  /** Lower case; `container|sub` for subcommands, as Redis's `fullname`. */
  readonly name: string
  /** Redis convention: `n` exactly n arguments (with the name), `-n` at least n. */
  readonly arity: number
  /** e.g. `write`, `readonly`, `fast`, `denyoom`, `admin`, `noscript`, `loading`, `stale`. */
  readonly flags: ReadonlyArray<string>
  /** First key position, last key position (-1: the last argument), step; `0, 0, 0`: no keys. */
  readonly keys: readonly [number, number, number]
  /** ACL categories, e.g. `@string`, `@fast`. */
  readonly categories: ReadonlyArray<string>
  /** The implementation (for a container: used when no subcommand is given, if arity allows). */
  readonly run: Handler
  /** Subcommands by lower-case name (`CLIENT SETNAME` → `setname`). */
  readonly subcommands?: ReadonlyMap<string, CommandSpec>
}

/** A command spec. */
export const spec = (
  name: string,
  arity: number,
  flags: ReadonlyArray<string>,
  keys: readonly [number, number, number],
  categories: ReadonlyArray<string>,
  run: Handler
): CommandSpec => ({ name, arity, flags, keys, categories, run })

/** A container command (`CLIENT`, `CONFIG`, `COMMAND`) with its subcommands. */
export const container = (
  name: string,
  arity: number,
  categories: ReadonlyArray<string>,
  subcommands: ReadonlyArray<CommandSpec>,
  run: Handler
): CommandSpec => ({
  name,
  arity,
  flags: [],
  keys: [0, 0, 0],
  categories,
  run,
  subcommands: new Map(subcommands.map((sub) => [sub.name.slice(name.length + 1), sub]))
})

/** Does `argc` (arguments including the name) satisfy `arity`? */
export const arityOk = (arity: number, argc: number): boolean => (arity >= 0 ? argc === arity : argc >= -arity)
