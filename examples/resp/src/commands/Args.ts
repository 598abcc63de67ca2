/**
 * Shared pieces of command handlers: Redis's exact error replies and strict argument parsing.
 *
 * @since 0.1.0
 */
import { parseLength } from "../resp/Integer.ts"
import * as Reply from "../resp/Reply.ts"
import { toKey } from "../store/Binary.ts"

/** `-WRONGTYPE Operation against a key holding the wrong kind of value` */
export const WRONGTYPE = Reply.error("WRONGTYPE Operation against a key holding the wrong kind of value")
/** `-ERR syntax error` */
export const SYNTAX = Reply.err("syntax error")
/** `-ERR value is not an integer or out of range` */
export const NOT_INTEGER = Reply.err("value is not an integer or out of range")
/** `-ERR value is out of range, must be positive` */
export const NOT_POSITIVE = Reply.err("value is out of range, must be positive")
/** `-ERR increment or decrement would overflow` */
export const OVERFLOW = Reply.err("increment or decrement would overflow")
/** `-ERR DB index is out of range` */
export const DB_OUT_OF_RANGE = Reply.err("DB index is out of range")

/** `-ERR wrong number of arguments for '<name>' command` (`name` lower case, `a|b` for subcommands). */
export const wrongArity = (name: string): Reply.ErrorReply =>
  Reply.err(`wrong number of arguments for '${name}' command`)

/** `-ERR invalid expire time in '<name>' command` */
export const invalidExpire = (name: string): Reply.ErrorReply => Reply.err(`invalid expire time in '${name}' command`)

/** Largest string value: 512 MiB, as Redis's `proto-max-bulk-len`. */
export const MAX_STRING_LENGTH = 512 * 1024 * 1024

/** Range of 64-bit signed integers. */
export const INT64_MAX = 9223372036854775807n
export const INT64_MIN = -9223372036854775808n

/**
 * A strict 64-bit integer (Redis's `string2ll`: optional `-`, digits, no leading zeros, no
 * spaces) as a number (approximate beyond 2^53), or `undefined`.
 */
export const parseInteger = (bytes: Uint8Array): number | undefined => parseLength(bytes, 0, bytes.length)

/** The same, exact, as a bigint. */
export const parseBigInt = (bytes: Uint8Array): bigint | undefined =>
  parseLength(bytes, 0, bytes.length) === undefined ? undefined : BigInt(toKey(bytes))

/** The first `max` bytes of `bytes`, as Redis's `%.*s` prints them (stopping at a NUL byte). */
export const quoted = (bytes: Uint8Array, max: number): string => {
  let s = ""
  const n = Math.min(bytes.length, max)
  for (let i = 0; i < n; i++) {
    const c = bytes[i]
    if (c === 0) break
    s += String.fromCharCode(c)
  }
  return s
}

/** `-ERR unknown command 'foo', with args beginning with: 'a' 'b' ` (Redis 7 format). */
export const unknownCommand = (args: ReadonlyArray<Uint8Array>): Reply.ErrorReply => {
  let list = ""
  for (let i = 1; i < args.length && list.length < 128; i++) list += `'${quoted(args[i], 128 - list.length)}' `
  return Reply.err(`unknown command '${quoted(args[0], 128)}', with args beginning with: ${list}`)
}

/** `-ERR unknown subcommand 'foo'. Try CLIENT HELP.` */
export const unknownSubcommand = (container: string, sub: Uint8Array): Reply.ErrorReply =>
  Reply.err(`unknown subcommand '${quoted(sub, 128)}'. Try ${container.toUpperCase()} HELP.`)

/** Does `bytes` spell `word` (lower-case ASCII), ignoring ASCII case? No allocation. */
export const is = (bytes: Uint8Array, word: string): boolean => {
  if (bytes.length !== word.length) return false
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]
    if ((c >= 65 && c <= 90 ? c | 0x20 : c) !== word.charCodeAt(i)) return false
  }
  return true
}
