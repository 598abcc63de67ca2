/**
 * Streaming decoder of RESP requests: socket chunks in, commands (arrays of byte strings) out.
 *
 * ```
 *   chunks:   [ *2\r\n$3\r\nGET\r | \n$1\r\nk\r\nPING\r\n ]      (any boundaries)
 *   commands: ["GET", "k"], ["PING"]
 * ```
 *
 * Two request forms, chosen by the first byte of each command, as Redis does:
 * - multi-bulk (`*`): `*<n>\r\n` then n times `$<len>\r\n<len bytes>\r\n`; the bytes may be
 *   anything, CR and LF included. `*0` and negative counts are skipped (no command).
 * - inline (anything else): one line up to `\n` (a `\r` before it is dropped), split on spaces
 *   and tabs; `"..."` (with `\n \r \t \b \a \\ \" \xHH` escapes) and `'...'` (with `\'`) quote.
 *   An empty line is no command.
 *
 * Same shape as wirekit's `FrameDecoder`, commands instead of frames: bytes of a bulk string that
 * lies inside one chunk are a zero-copy view of it (the caller must not mutate chunks), unless it
 * is at most `copyUpTo` bytes long (see {@link DecoderOptions}); the others are copied. Nothing
 * held between calls refers to a chunk, so chunks may be lent (`pump(..., { borrow: true })`):
 * the arguments of a command left incomplete by a chunk are copied when that chunk ends. Copies
 * of short arguments share an arena (one array, views into it) rather than taking an array
 * buffer each, which on V8 costs hundreds of bytes per argument; an arena is only ever appended
 * to, never reused (a full one is replaced by a new one), so a returned argument stays valid for
 * as long as the caller keeps it (and keeps its arena alive). Bad input
 * returns a `FramingError` (codec `"RESP"`) whose `detail` is the text of Redis's error, e.g.
 * `invalid bulk length`; {@link protocolErrorReply} turns it into the reply
 * `-ERR Protocol error: invalid bulk length` that the server writes before closing. The decoder
 * is then failed (it returns the same error again); commands before the bad bytes are pushed.
 *
 * Limits (checked so that the outcome is the same at every chunk boundary):
 * - a bulk length above `maxBulkLength` is refused as soon as its header is read, before any of
 *   its bytes is buffered, and memory for a bulk spanning chunks is committed as bytes arrive;
 * - a count above `maxArrayLength` is refused at its header (no array is preallocated);
 * - an inline line, or a `*`/`$` header line, longer than `maxInlineLength` is refused as soon
 *   as that many bytes are held without its end.
 * - a multi-bulk command is refused at the header of the argument that takes its cost above
 *   `maxCommandBytes`, before any byte of that argument is buffered: each argument costs its
 *   length plus {@link ARGUMENT_OVERHEAD} (what holding it costs besides its bytes). What an
 *   incomplete command holds is thus within the limit at every chunk boundary, however tiny its
 *   arguments (Redis counts bytes only: `client-query-buffer-limit`). An inline command is
 *   bounded by `maxInlineLength` instead.
 *
 * A multi-bulk command lying whole inside one chunk, with plain headers (counts and lengths of at
 * most 9 digits, within the limits), is read by a fast path in one tight loop; anything else in
 * it (an incomplete command, a bad or unusual byte, a limit) sends the general state machine back
 * to the command's first byte, so outcomes and errors never depend on the path.
 *
 * Deliberate differences from Redis 7 (which answers every other case the same way):
 * - the CRLF after a bulk string and after a `*`/`$` header must be CRLF (Redis skips any two
 *   bytes): otherwise `Protocol error: expected CRLF after bulk data, got 'x'` / `invalid ... length`;
 * - the inline limit applies to the line whatever the chunking (Redis only checks it while more
 *   than 64 KiB are buffered without a newline, so a longer line arriving at once passes there);
 * - a NUL byte in an inline command is an ordinary byte.
 *
 * @since 0.1.0
 */
import { Framing } from "@wirekit/core"
import { splitInline } from "./Inline.ts"
import { parseLength } from "./Integer.ts"
import * as Reply from "./Reply.ts"

/** One request: the command name then its arguments, as bytes. */
export type Command = ReadonlyArray<Uint8Array>

/** Default largest bulk string: 64 MiB (Redis's `proto-max-bulk-len` is 512 MiB). */
export const DEFAULT_MAX_BULK_LENGTH = 64 * 1024 * 1024
/** Default largest multi-bulk count: 1,048,576 arguments. */
export const DEFAULT_MAX_ARRAY_LENGTH = 1024 * 1024
/** Default largest inline line (and `*`/`$` header line): 64 KiB, as Redis. */
export const DEFAULT_MAX_INLINE_LENGTH = 64 * 1024
/**
 * Default largest cost of one multi-bulk command: 128 MiB, or twice `maxBulkLength` when that is
 * larger, so that a command carrying a value of the largest size (or two) passes. That lets about
 * 520,000 one-byte arguments through: a command of more tiny arguments than that would cost the
 * server far more than its size on the wire, and is refused.
 */
export const DEFAULT_MAX_COMMAND_BYTES = 128 * 1024 * 1024
/**
 * What one argument is counted to cost besides its bytes, for `maxCommandBytes`: about what
 * holding it in a command costs (its `Uint8Array` view of a shared array and its slot in the
 * command's array), rounded up over the runtimes, the costliest being Deno's V8.
 */
export const ARGUMENT_OVERHEAD = 256

/** The limits of {@link makeRequestDecoder}; every field is optional. */
export interface Limits {
  /** Largest bulk string in bytes. Default {@link DEFAULT_MAX_BULK_LENGTH}. */
  readonly maxBulkLength?: number
  /** Largest number of arguments of a multi-bulk command. Default {@link DEFAULT_MAX_ARRAY_LENGTH}. */
  readonly maxArrayLength?: number
  /** Longest inline command line (bytes, without `\r\n`). Default {@link DEFAULT_MAX_INLINE_LENGTH}. */
  readonly maxInlineLength?: number
  /**
   * Largest cost of one multi-bulk command: the sum over its arguments of their length plus
   * {@link ARGUMENT_OVERHEAD}. Default {@link DEFAULT_MAX_COMMAND_BYTES}, or twice
   * `maxBulkLength` when that is larger.
   */
  readonly maxCommandBytes?: number
}

/**
 * Largest bulk string copied rather than viewed by default: 0 (every argument inside one chunk is
 * a view). On JavaScriptCore (Bun) a small array of its own costs a fraction of a view, so the
 * Bun entry point passes 32; on V8 a view costs about as much as a small array, and Deno
 * allocates every array buffer outside the heap, which is far slower.
 */
export const DEFAULT_COPY_UP_TO = 0

/** Options of {@link makeRequestDecoder}: the {@link Limits} and how arguments are handed out. */
export interface DecoderOptions extends Limits {
  /**
   * A bulk string of at most this many bytes that lies inside one chunk is copied into an array
   * of its own instead of being a view of the chunk. Default {@link DEFAULT_COPY_UP_TO}.
   */
  readonly copyUpTo?: number
}

/** Per-connection decoding state. Same contract as `Framing.FrameDecoder`, with commands. */
export interface RequestDecoder {
  /** Append `chunk`, push every complete command onto `out`; a `FramingError` on bad input. */
  decode(chunk: Uint8Array, out: Array<Command>): Framing.FramingError | undefined
  /** End of stream: `Truncated` when a command was left incomplete. */
  finish(out: Array<Command>): Framing.FramingError | undefined
  /** Bytes held for the incomplete command. */
  readonly buffered: number
}

/** The codec name in errors. */
export const CODEC = "RESP"

/**
 * The reply Redis writes for a protocol error before it closes the connection:
 * `-ERR Protocol error: <detail>`.
 */
export const protocolErrorReply = (error: Framing.FramingError): Reply.ErrorReply =>
  Reply.err(`Protocol error: ${error.detail ?? error.message}`)

const CR = 13
const LF = 10
const STAR = 42
const DOLLAR = 36
const EMPTY = new Uint8Array(0)

// decoder states
const START = 0 // before the first byte of a command
const COUNT = 1 // in the "*<n>" line
const HEADER = 2 // in a "$<len>" line
const BODY = 3 // in the bytes of a bulk string (and its CRLF)
const INLINE = 4 // in an inline line

/** Headers of the fast path: at most this many digits (values below 10^9, small integers). */
const FAST_DIGITS = 9

/** The detail of the error for a command above `maxCommandBytes`. */
const TOO_BIG_COMMAND = "too big multibulk request"

/** `src[start, start + length)` as an array of its own (a loop: the lengths are small). */
const copyOf = (src: Uint8Array, start: number, length: number): Uint8Array => {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = src[start + i]
  return out
}

/** The value read by the last successful {@link readFastNumber}. */
let fastValue = 0

/**
 * Read a plain decimal and its CRLF at `src[start]`: `0`, or 1..{@link FAST_DIGITS} digits without
 * a leading zero. Returns the position after the CRLF (the value is then in `fastValue`), or -1
 * for anything else (other bytes, more digits, or the end of `src` first).
 */
const readFastNumber = (src: Uint8Array, start: number): number => {
  const n = src.length
  let value = 0
  let i = start
  for (; i < n; i++) {
    const c = src[i]
    if (c < 48 || c > 57) break
    if (i > start && value === 0) return -1 // a leading zero
    if (i - start === FAST_DIGITS) return -1
    value = value * 10 + (c - 48)
  }
  if (i === start || i + 1 >= n || src[i] !== CR || src[i + 1] !== LF) return -1
  fastValue = value
  return i + 2
}

const checkLimit = (name: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new Framing.FramingConfigError({ codec: CODEC, option: name, detail: `${value} is not an integer >= 0` })
  }
  return value
}

/** A growable store for the bytes of a bulk string or a line spanning chunks. */
class Held {
  buf: Uint8Array = EMPTY
  length = 0

  /** Append `src[start, end)`; storage doubles but never beyond `cap`. */
  append(src: Uint8Array, start: number, end: number, cap: number): void {
    const n = end - start
    if (n <= 0) return
    const need = this.length + n
    if (need > this.buf.length) {
      let size = Math.max(256, this.buf.length * 2, need)
      if (size > cap) size = Math.max(cap, need)
      const next = new Uint8Array(size)
      if (this.length > 0) next.set(this.buf.subarray(0, this.length))
      this.buf = next
    }
    this.buf.set(src.subarray(start, end), this.length)
    this.length = need
  }

  /** The held bytes as an array of their own; forget them. */
  take(): Uint8Array {
    const out = this.length === this.buf.length ? this.buf : this.buf.slice(0, this.length)
    if (out === this.buf) this.buf = EMPTY
    this.reset()
    return out
  }

  /** Forget the held bytes (large storage is released). */
  reset(): void {
    this.length = 0
    if (this.buf.length > 65536) this.buf = EMPTY
  }
}

/** Arguments copied into an arena are at most this long; longer ones get an array of their own. */
const ARENA_ARG_MAX = 1024
/** Size of the first arena of a command; each next one doubles, up to {@link ARENA_MAX}. */
const ARENA_MIN = 1024
const ARENA_MAX = 64 * 1024

/**
 * Copies of short arguments, as views of a shared array. Bytes handed out are never written
 * again: when the array is full a new one is allocated (the views keep the old one alive).
 */
class Arena {
  buf: Uint8Array = EMPTY
  used = 0

  /** A copy of `src[start, start + length)` (`length <= ARENA_ARG_MAX`), as a view of the arena. */
  copy(src: Uint8Array, start: number, length: number): Uint8Array {
    let at = this.used
    if (at + length > this.buf.length) {
      this.buf = new Uint8Array(Math.min(ARENA_MAX, Math.max(ARENA_MIN, this.buf.length * 2)))
      at = 0
    }
    const buf = this.buf
    for (let i = 0; i < length; i++) buf[at + i] = src[start + i]
    this.used = at + length
    return buf.subarray(at, at + length)
  }

  /** A command is done: a large arena is let go (its views keep it alive while they are used). */
  release(): void {
    if (this.buf.length > ARENA_MIN) {
      this.buf = EMPTY
      this.used = 0
    }
  }
}

/**
 * A fresh request decoder (one per connection).
 *
 * @throws FramingConfigError when a limit is not an integer >= 0.
 */
export const makeRequestDecoder = (options: DecoderOptions = {}): RequestDecoder => {
  const maxBulk = checkLimit("maxBulkLength", options.maxBulkLength, DEFAULT_MAX_BULK_LENGTH)
  const maxArray = checkLimit("maxArrayLength", options.maxArrayLength, DEFAULT_MAX_ARRAY_LENGTH)
  const maxInline = checkLimit("maxInlineLength", options.maxInlineLength, DEFAULT_MAX_INLINE_LENGTH)
  const maxCommand = checkLimit(
    "maxCommandBytes",
    options.maxCommandBytes,
    Math.max(DEFAULT_MAX_COMMAND_BYTES, 2 * maxBulk)
  )
  const copyUpTo = checkLimit("copyUpTo", options.copyUpTo, DEFAULT_COPY_UP_TO)
  // the fast path reads header lines of up to 1 + FAST_DIGITS bytes without checking maxInline
  const fast = maxInline >= 1 + FAST_DIGITS

  let state = START
  let failed: Framing.FramingError | undefined
  // the line being read (COUNT, HEADER, INLINE) when it spans chunks
  const line = new Held()
  let lineCR = false // COUNT/HEADER: the held line ended with its '\r', the '\n' is next
  // the line just completed: src[lineStart, lineEnd)
  let lineSrc: Uint8Array = EMPTY
  let lineStart = 0
  let lineEnd = 0
  // the command being read
  let args: Array<Uint8Array> = []
  // the arguments read from the current chunk are not in `args` yet but here, as (start, length)
  // pairs: views of the chunk once the command is complete, copies if the chunk ends first (one
  // array per argument either way)
  const pending: Array<number> = []
  let chunkNow: Uint8Array = EMPTY
  let argsLeft = 0
  let argsBytes = 0
  let cost = 0 // the command's cost so far: its arguments' lengths + ARGUMENT_OVERHEAD each
  const arena = new Arena()
  // the bulk string being read
  let bulkLength = 0
  const body = new Held()
  let bodyStarted = false // some of it is held in `body` (or its CRLF is being read)
  let trailer = 0 // bytes of its CRLF seen

  const fail = (
    detail: string
  ): Framing.FramingError => (failed = new Framing.FramingError({ reason: "Corrupted", codec: CODEC, detail }))
  const tooLarge = (
    detail: string,
    limit: number,
    actual: number
  ): Framing.FramingError => (failed = new Framing.FramingError({
    reason: "FrameTooLarge",
    codec: CODEC,
    detail,
    limit,
    actual
  }))

  /**
   * Read a "*<n>\r\n" or "$<len>\r\n" line from `chunk[pos]`. Returns the position after it (the
   * line is then `lineSrc[lineStart, lineEnd)`), `-1` after an error, `-2` when more is needed.
   */
  const readHeaderLine = (chunk: Uint8Array, pos: number, tooBig: string, bad: string): number => {
    const n = chunk.length
    if (lineCR) {
      lineCR = false
      if (chunk[pos] !== LF) {
        fail(bad)
        return -1
      }
      lineSrc = line.buf
      lineStart = 0
      lineEnd = line.length
      line.length = 0
      return pos + 1
    }
    const cr = chunk.indexOf(CR, pos)
    const end = cr === -1 ? n : cr
    if (line.length + end - pos > maxInline) {
      fail(tooBig)
      return -1
    }
    if (cr === -1 || cr + 1 === n) {
      line.append(chunk, pos, end, maxInline)
      lineCR = cr !== -1
      return -2
    }
    if (chunk[cr + 1] !== LF) {
      fail(bad)
      return -1
    }
    if (line.length === 0) {
      lineSrc = chunk
      lineStart = pos
      lineEnd = cr
    } else {
      line.append(chunk, pos, cr, maxInline)
      lineSrc = line.buf
      lineStart = 0
      lineEnd = line.length
      line.length = 0
    }
    return cr + 2
  }

  /** The bulk string `chunk[start, start + length)`, all inside `chunk`: a view or a small copy. */
  const bulkOf = (chunk: Uint8Array, start: number, length: number): Uint8Array =>
    length <= copyUpTo ? copyOf(chunk, start, length) : chunk.subarray(start, start + length)

  /** A copy of `src[start, start + length)` to hold past the end of its chunk. */
  const keep = (src: Uint8Array, start: number, length: number): Uint8Array =>
    length <= copyUpTo
      ? copyOf(src, start, length)
      : length <= ARENA_ARG_MAX
      ? arena.copy(src, start, length)
      : src.slice(start, start + length)

  /**
   * The fast path: the multi-bulk command at `chunk[start]` (a `*`) when it lies whole in `chunk`
   * with plain headers (see {@link readFastNumber}) within the limits: pushes it and returns the
   * position after it. Anything else returns -1 having changed nothing, and the general path
   * reads the command from `start`.
   */
  const decodeWhole = (chunk: Uint8Array, start: number, out: Array<Command>): number => {
    const n = chunk.length
    let pos = readFastNumber(chunk, start + 1)
    const count = fastValue
    // a count of 0 is "0" (left to the general path); each argument takes at least 6 bytes
    if (pos === -1 || count === 0 || count > maxArray || count * 6 > n - pos) return -1
    let least = 0
    const command: Array<Uint8Array> = []
    for (let k = 0; k < count; k++) {
      if (pos >= n || chunk[pos] !== DOLLAR) return -1
      pos = readFastNumber(chunk, pos + 1)
      const length = fastValue
      if (pos === -1 || length > maxBulk) return -1
      least += length + ARGUMENT_OVERHEAD
      if (least > maxCommand) return -1
      const end = pos + length
      if (end + 2 > n || chunk[end] !== CR || chunk[end + 1] !== LF) return -1
      command.push(bulkOf(chunk, pos, length))
      pos = end + 2
    }
    out.push(command)
    return pos
  }

  /** The arguments read from the current chunk, into `args`: views (or small copies) of it. */
  const flushPending = (): void => {
    for (let i = 0; i < pending.length; i += 2) args.push(bulkOf(chunkNow, pending[i]!, pending[i + 1]!))
    pending.length = 0
  }

  /** One argument done (`arg`, or `chunk[start, start + length)` when undefined): the command is complete when it was the last. */
  const pushArg = (arg: Uint8Array | undefined, start: number, length: number, out: Array<Command>): void => {
    if (arg === undefined) pending.push(start, length)
    else args.push(arg) // pending is empty: an argument held across chunks comes first in a chunk
    argsBytes += length
    if (--argsLeft === 0) {
      if (pending.length > 0) flushPending()
      out.push(args)
      args = []
      argsBytes = 0
      cost = 0
      arena.release()
      state = START
    } else {
      state = HEADER
    }
  }

  /**
   * Decode `chunk`; then copy the arguments of a command it leaves incomplete, so that nothing
   * held refers to `chunk` once `decode` returns (chunks may be lent: `pump(..., { borrow: true })`).
   */
  const decode = (chunk: Uint8Array, out: Array<Command>): Framing.FramingError | undefined => {
    chunkNow = chunk
    const result = decodeChunk(chunk, out)
    chunkNow = EMPTY
    if (result !== undefined) {
      // failed for good: let the incomplete command go
      args = []
      pending.length = 0
      argsBytes = 0
      return result
    }
    for (let i = 0; i < pending.length; i += 2) args.push(keep(chunk, pending[i]!, pending[i + 1]!))
    pending.length = 0
    return result
  }

  const decodeChunk = (chunk: Uint8Array, out: Array<Command>): Framing.FramingError | undefined => {
    if (failed !== undefined) return failed
    const n = chunk.length
    let pos = 0
    while (pos < n) {
      switch (state) {
        case START:
          if (chunk[pos] !== STAR) {
            state = INLINE
            break
          }
          if (fast) {
            const next = decodeWhole(chunk, pos, out)
            if (next !== -1) {
              pos = next
              break
            }
          }
          state = COUNT
          break
        case COUNT: {
          const next = readHeaderLine(chunk, pos, "too big mbulk count string", "invalid multibulk length")
          if (next === -1) return failed
          if (next === -2) return undefined
          pos = next
          const count = parseLength(lineSrc, lineStart + 1, lineEnd)
          if (count === undefined) return fail("invalid multibulk length")
          if (count > maxArray) {
            return tooLarge("invalid multibulk length", maxArray, count)
          }
          if (count <= 0) {
            state = START
          } else {
            argsLeft = count
            state = HEADER
          }
          break
        }
        case HEADER: {
          const next = readHeaderLine(chunk, pos, "too big bulk count string", "invalid bulk length")
          if (next === -1) return failed
          if (next === -2) return undefined
          pos = next
          if (lineEnd === lineStart || lineSrc[lineStart] !== DOLLAR) {
            const got = lineEnd === lineStart ? CR : lineSrc[lineStart]
            return fail(`expected '$', got '${String.fromCharCode(got)}'`)
          }
          const length = parseLength(lineSrc, lineStart + 1, lineEnd)
          if (length === undefined || length < 0) return fail("invalid bulk length")
          if (length > maxBulk) return tooLarge("invalid bulk length", maxBulk, length)
          const total = cost + length + ARGUMENT_OVERHEAD
          if (total > maxCommand) return tooLarge(TOO_BIG_COMMAND, maxCommand, total)
          cost = total
          bulkLength = length
          state = BODY
          break
        }
        case BODY: {
          if (!bodyStarted && n - pos >= bulkLength + 2) {
            // the whole bulk string and its CRLF are in this chunk: a view
            const end = pos + bulkLength
            if (chunk[end] !== CR || chunk[end + 1] !== LF) {
              const got = chunk[end] !== CR ? chunk[end] : chunk[end + 1]
              return fail(`expected CRLF after bulk data, got '${String.fromCharCode(got)}'`)
            }
            pos = end + 2
            pushArg(undefined, end - bulkLength, bulkLength, out)
            break
          }
          bodyStarted = true
          const want = bulkLength - body.length
          if (want > 0) {
            const take = Math.min(want, n - pos)
            body.append(chunk, pos, pos + take, bulkLength)
            pos += take
            if (body.length < bulkLength) return undefined
          }
          while (trailer < 2 && pos < n) {
            const c = chunk[pos]
            if (c !== (trailer === 0 ? CR : LF)) {
              return fail(`expected CRLF after bulk data, got '${String.fromCharCode(c)}'`)
            }
            trailer++
            pos++
          }
          if (trailer < 2) return undefined
          trailer = 0
          bodyStarted = false
          pushArg(body.take(), 0, bulkLength, out)
          break
        }
        case INLINE: {
          const lf = chunk.indexOf(LF, pos)
          if (lf === -1) {
            // the line so far: its length without a possible final '\r' is a lower bound
            const held = line.length + n - pos
            if (held - (chunk[n - 1] === CR ? 1 : 0) > maxInline) return fail("too big inline request")
            line.append(chunk, pos, n, maxInline + 1)
            return undefined
          }
          // the line is held ++ chunk[pos, lf), without a final '\r': check its length before copying
          const total = line.length + lf - pos
          const lastCR = lf > pos ? chunk[lf - 1] === CR : line.length > 0 && line.buf[line.length - 1] === CR
          if (total - (lastCR ? 1 : 0) > maxInline) return fail("too big inline request")
          let src: Uint8Array
          let start = 0
          let end: number
          if (line.length === 0) {
            src = chunk
            start = pos
            end = lf
          } else {
            line.append(chunk, pos, lf, total)
            src = line.take() // arguments may be views of it: it must be an array of its own
            end = src.length
          }
          if (lastCR) end--
          pos = lf + 1
          state = START
          const inline = splitInline(src, start, end)
          if (inline === undefined) return fail("unbalanced quotes in request")
          if (inline.length > 0) out.push(inline)
          break
        }
      }
    }
    return undefined
  }

  const buffered = (): number => {
    switch (state) {
      case START:
        return 0
      case BODY:
        return argsBytes + body.length + trailer
      default:
        return argsBytes + line.length + (lineCR ? 1 : 0)
    }
  }

  return {
    decode,
    finish() {
      if (failed !== undefined) return failed
      if (state === START || (state === INLINE && line.length === 0)) return undefined
      const held = buffered()
      return (failed = new Framing.FramingError({
        reason: "Truncated",
        codec: CODEC,
        buffered: held,
        detail: state === INLINE ? "inline command without its newline" : "incomplete multi-bulk command"
      }))
    },
    get buffered() {
      return buffered()
    }
  }
}
