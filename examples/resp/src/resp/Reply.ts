/**
 * RESP reply values: what a command answers, before it is written for one protocol version.
 *
 * ```
 *   RESP2 and RESP3:  Simple "+OK"   Error "-ERR ..."   Integer ":1"   Bulk "$3 abc" | "$-1"
 *                     Array "*2 ..." | "*-1"
 *   RESP3 only:       Map "%"  Set "~"  Null "_"  Double ","  Boolean "#"  Push ">"  Verbatim "="
 *                     (each downgraded for RESP2 by the encoder: Map → flat Array, Null → "$-1", ...)
 * ```
 *
 * Text in `Simple`, `Error` and `Verbatim` replies is a "binary string": every char code is one
 * byte (0..255), so messages can quote arbitrary client bytes losslessly.
 *
 * @since 0.1.0
 */

/** `+text` (no CR/LF inside: the encoder turns them into spaces). */
export interface SimpleString {
  readonly _tag: "Simple"
  readonly value: string
}

/** `-CODE message`, e.g. `ERR syntax error`, `WRONGTYPE Operation ...` (code included). */
export interface ErrorReply {
  readonly _tag: "Error"
  readonly message: string
}

/** `:n`, a 64-bit signed integer (`bigint` when beyond 2^53). */
export interface IntegerReply {
  readonly _tag: "Integer"
  readonly value: number | bigint
}

/** `$len bytes`, or the RESP2 null bulk `$-1` (RESP3: `_`). */
export interface BulkString {
  readonly _tag: "Bulk"
  readonly value: Uint8Array | null
}

/** `*n items`, or the RESP2 null array `*-1` (RESP3: `_`). */
export interface ArrayReply {
  readonly _tag: "Array"
  readonly value: ReadonlyArray<Reply> | null
}

/** RESP3 `%n k v ...`; RESP2: a flat array `k v k v ...`. */
export interface MapReply {
  readonly _tag: "Map"
  readonly entries: ReadonlyArray<readonly [Reply, Reply]>
}

/** RESP3 `~n items`; RESP2: an array. */
export interface SetReply {
  readonly _tag: "Set"
  readonly value: ReadonlyArray<Reply>
}

/** RESP3 `_`; RESP2: the null bulk `$-1`. */
export interface NullReply {
  readonly _tag: "Null"
}

/** RESP3 `,1.5` (`inf`, `-inf`, `nan`); RESP2: a bulk string with the same text. */
export interface DoubleReply {
  readonly _tag: "Double"
  readonly value: number
}

/** RESP3 `#t` / `#f`; RESP2: the integer 1 / 0. */
export interface BooleanReply {
  readonly _tag: "Boolean"
  readonly value: boolean
}

/** RESP3 `>n items` (out-of-band data); RESP2: an array. */
export interface PushReply {
  readonly _tag: "Push"
  readonly value: ReadonlyArray<Reply>
}

/** RESP3 `=len fmt:text` (`fmt` is 3 bytes, e.g. `txt`); RESP2: a bulk string of `text`. */
export interface VerbatimString {
  readonly _tag: "Verbatim"
  readonly format: string
  readonly value: Uint8Array
}

/** Any reply. */
export type Reply =
  | SimpleString
  | ErrorReply
  | IntegerReply
  | BulkString
  | ArrayReply
  | MapReply
  | SetReply
  | NullReply
  | DoubleReply
  | BooleanReply
  | PushReply
  | VerbatimString

/** Protocol version of a connection: 2 until `HELLO 3`. */
export type Protocol = 2 | 3

const textEncoder = new TextEncoder()

/** `+value` */
export const simple = (value: string): SimpleString => ({ _tag: "Simple", value })
/** `-message` (the message starts with its code: `"ERR ..."`, `"WRONGTYPE ..."`). */
export const error = (message: string): ErrorReply => ({ _tag: "Error", message })
/** `-ERR text` */
export const err = (text: string): ErrorReply => error(`ERR ${text}`)
/** `:value` */
export const integer = (value: number | bigint): IntegerReply =>
  value === 0 ? ZERO : value === 1 ? ONE : { _tag: "Integer", value }
/** `$len bytes` (the bytes are referenced, not copied: they must not change before encoding). */
export const bulk = (value: Uint8Array): BulkString => ({ _tag: "Bulk", value })
/** A bulk string with the UTF-8 bytes of `text`. */
export const bulkText = (text: string): BulkString => ({ _tag: "Bulk", value: textEncoder.encode(text) })
/** `*n items` */
export const array = (value: ReadonlyArray<Reply>): ArrayReply => ({ _tag: "Array", value })
/** RESP3 map (RESP2: flat array). */
export const map = (entries: ReadonlyArray<readonly [Reply, Reply]>): MapReply => ({ _tag: "Map", entries })
/** RESP3 set (RESP2: array). */
export const set = (value: ReadonlyArray<Reply>): SetReply => ({ _tag: "Set", value })
/** RESP3 double (RESP2: bulk string). */
export const double = (value: number): DoubleReply => ({ _tag: "Double", value })
/** RESP3 boolean (RESP2: integer 1/0). */
export const boolean = (value: boolean): BooleanReply => (value ? TRUE : FALSE)
/** RESP3 push (RESP2: array). */
export const push = (value: ReadonlyArray<Reply>): PushReply => ({ _tag: "Push", value })
/** RESP3 verbatim string with a 3-character format, e.g. `"txt"` (RESP2: bulk string). */
export const verbatim = (format: string, text: string): VerbatimString => {
  if (format.length !== 3) throw new RangeError(`Reply.verbatim: format must be 3 characters, got "${format}"`)
  return { _tag: "Verbatim", format, value: textEncoder.encode(text) }
}

/** `+OK` */
export const OK: SimpleString = simple("OK")
/** `+PONG` */
export const PONG: SimpleString = simple("PONG")
/** `:0` */
export const ZERO: IntegerReply = { _tag: "Integer", value: 0 }
/** `:1` */
export const ONE: IntegerReply = { _tag: "Integer", value: 1 }
/** RESP2 `$-1`, RESP3 `_` */
export const nullBulk: BulkString = { _tag: "Bulk", value: null }
/** RESP2 `*-1`, RESP3 `_` */
export const nullArray: ArrayReply = { _tag: "Array", value: null }
/** RESP3 `_`, RESP2 `$-1` */
export const nil: NullReply = { _tag: "Null" }
/** `*0` */
export const emptyArray: ArrayReply = { _tag: "Array", value: [] }
const TRUE: BooleanReply = { _tag: "Boolean", value: true }
const FALSE: BooleanReply = { _tag: "Boolean", value: false }
