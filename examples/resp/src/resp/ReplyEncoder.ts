/**
 * Writing replies as RESP2 or RESP3 bytes into a wirekit `ByteBuffer`.
 *
 * ```
 *   encodeReply(bulk("abc"), buf, 2)            buf += "$3\r\nabc\r\n"
 *   encodeReply(map([[k, v]]), buf, 3)          buf += "%1\r\n" k v
 *   encodeReply(map([[k, v]]), buf, 2)          buf += "*2\r\n" k v
 *   encodeReply(nullBulk, buf, 3)               buf += "_\r\n"
 * ```
 *
 * Many replies go into one buffer (the server coalesces all the replies of one read into one
 * write): no intermediate arrays, headers of small lengths come from a table.
 *
 * @since 0.1.0
 */
import type { ByteBuffer } from "@wirekit/core"
import type { Protocol, Reply } from "./Reply.ts"

const CR = 13
const LF = 10

/**
 * Replies are first written into this scratch area with plain byte stores (much cheaper than a
 * `ByteBuffer` call per header), then appended to the caller's buffer in one `writeBytes`; bulk
 * strings above `DIRECT` bytes go straight to the buffer. (Single-threaded and synchronous: one
 * module-level scratch is enough.)
 */
let out = new Uint8Array(16384)
let pos = 0
let target: ByteBuffer.ByteBuffer | undefined
const DIRECT = 1024

let flushes = 0 // how many times the scratch area was emptied into `target`

const flush = (): void => {
  if (pos > 0) {
    flushes++
    ;(target as ByteBuffer.ByteBuffer).writeBytes(out, 0, pos)
    pos = 0
  }
}

/** Room for `n` more bytes in the scratch area (flushing, or growing it for a long line). */
const room = (n: number): void => {
  if (pos + n <= out.length) return
  flush()
  if (n > out.length) out = new Uint8Array(Math.max(n, out.length * 2))
}

const writeByte = (c: number): void => {
  room(1)
  out[pos++] = c
}

const writeCRLF = (): void => {
  room(2)
  out[pos++] = CR
  out[pos++] = LF
}

const writeBytes = (bytes: Uint8Array): void => {
  const n = bytes.length
  if (n > DIRECT) {
    flush()
    ;(target as ByteBuffer.ByteBuffer).writeBytes(bytes)
    return
  }
  room(n)
  if (n <= 32) {
    for (let i = 0; i < n; i++) out[pos + i] = bytes[i]
  } else {
    out.set(bytes, pos)
  }
  pos += n
}

/** Write `text` as one byte per char (code & 0xff); CR and LF become spaces when `oneLine`. */
const writeText = (text: string, oneLine: boolean): void => {
  const n = text.length
  room(n)
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i) & 0xff
    out[pos + i] = oneLine && (c === CR || c === LF) ? 32 : c
  }
  pos += n
}

/** `<prefix><n>\r\n` for an integer `n` (exact for safe integers and bigints). */
const writeHeader = (prefix: number, n: number | bigint): void => {
  if (typeof n === "number" && Number.isSafeInteger(n)) {
    room(20)
    out[pos++] = prefix
    let v = n
    if (v < 0) {
      out[pos++] = 45 // -
      v = -v
    }
    if (v < 10) {
      out[pos++] = 48 + v
    } else if (v < 0x80000000) {
      // 32-bit integer arithmetic: no floating-point division or remainder
      let digits = 1
      for (let t = (v / 10) | 0; t > 0; t = (t / 10) | 0) digits++
      let at = pos + digits
      pos = at
      while (v > 0) {
        const q = (v / 10) | 0
        out[--at] = 48 + v - q * 10
        v = q
      }
    } else {
      let digits = 0
      for (let t = v; t >= 1; t = Math.floor(t / 10)) digits++
      let at = pos + digits
      pos = at
      while (v > 0) {
        out[--at] = 48 + (v % 10)
        v = Math.floor(v / 10)
      }
    }
    out[pos++] = CR
    out[pos++] = LF
    return
  }
  writeByte(prefix)
  writeText(String(n), false)
  writeCRLF()
}

/** Text of a double as Redis writes it: shortest round-trip digits, `inf`, `-inf`, `nan`. */
export const formatDouble = (value: number): string =>
  Number.isNaN(value) ? "nan" : value === Infinity ? "inf" : value === -Infinity ? "-inf" : String(value)

const writeBulk = (value: Uint8Array): void => {
  writeHeader(36, value.length) // $
  writeBytes(value)
  writeCRLF()
}

const writeNull = (protocol: Protocol, resp2: number): void => {
  room(5)
  if (protocol === 3) {
    out[pos++] = 95 // _
  } else {
    out[pos++] = resp2
    out[pos++] = 45 // -
    out[pos++] = 49 // 1
  }
  out[pos++] = CR
  out[pos++] = LF
}

const write = (reply: Reply, protocol: Protocol): void => {
  switch (reply._tag) {
    case "Simple":
      writeByte(43) // +
      writeText(reply.value, true)
      writeCRLF()
      return
    case "Error":
      writeByte(45) // -
      writeText(reply.message, true)
      writeCRLF()
      return
    case "Integer":
      writeHeader(58, reply.value) // :
      return
    case "Bulk":
      if (reply.value === null) writeNull(protocol, 36)
      else writeBulk(reply.value)
      return
    case "Array": {
      const items = reply.value
      if (items === null) {
        writeNull(protocol, 42)
        return
      }
      writeHeader(42, items.length) // *
      for (let i = 0; i < items.length; i++) write(items[i], protocol)
      return
    }
    case "Map": {
      const entries = reply.entries
      if (protocol === 3) writeHeader(37, entries.length) // %
      else writeHeader(42, entries.length * 2)
      for (let i = 0; i < entries.length; i++) {
        write(entries[i][0], protocol)
        write(entries[i][1], protocol)
      }
      return
    }
    case "Set":
    case "Push": {
      const items = reply.value
      writeHeader(protocol === 2 ? 42 : reply._tag === "Set" ? 126 : 62, items.length) // * ~ >
      for (let i = 0; i < items.length; i++) write(items[i], protocol)
      return
    }
    case "Null":
      writeNull(protocol, 36)
      return
    case "Double": {
      const text = formatDouble(reply.value)
      if (protocol === 3) {
        writeByte(44) // ,
        writeText(text, false)
        writeCRLF()
      } else {
        writeHeader(36, text.length)
        writeText(text, false)
        writeCRLF()
      }
      return
    }
    case "Boolean":
      room(4)
      if (protocol === 3) {
        out[pos++] = 35 // #
        out[pos++] = reply.value ? 116 : 102 // t f
      } else {
        out[pos++] = 58 // :
        out[pos++] = reply.value ? 49 : 48
      }
      out[pos++] = CR
      out[pos++] = LF
      return
    case "Verbatim":
      if (protocol === 2) {
        writeBulk(reply.value)
        return
      }
      writeHeader(61, reply.value.length + 4) // =
      writeText(reply.format, true)
      writeByte(58) // :
      writeBytes(reply.value)
      writeCRLF()
      return
  }
}

/**
 * Writes many replies into one `ByteBuffer`, flushing the shared scratch area once at `end()`
 * instead of after every reply: what a server does for all the replies of one read.
 *
 * ```ts
 * const writer = replyWriter(out)
 * for (const command of commands) writer.write(execute(store, command, session), session.protocol)
 * writer.end()            // out now holds every reply
 * ```
 *
 * Bytes may stay in the scratch area until `end()` (or until another writer or `encodeReply`
 * uses it, which flushes them first): read `buf` only after `end()`.
 */
export interface ReplyWriter {
  /** Append the RESP encoding of `reply` for `protocol`. */
  write(reply: Reply, protocol: Protocol): void
  /** Move every pending byte into the buffer. */
  end(): void
}

/** Hand the scratch area to `buf`, flushing what another buffer left in it. */
const claim = (buf: ByteBuffer.ByteBuffer): void => {
  if (target === buf) return
  if (target !== undefined) flush()
  target = buf
}

const release = (buf: ByteBuffer.ByteBuffer): void => {
  if (target !== buf) return
  flush()
  target = undefined
}

/** A {@link ReplyWriter} appending to `buf`. */
export const replyWriter = (buf: ByteBuffer.ByteBuffer): ReplyWriter => ({
  write(reply, protocol) {
    claim(buf)
    write(reply, protocol)
  },
  end() {
    release(buf)
  }
})

/**
 * Append the RESP encoding of `reply` for protocol `protocol` to `buf`.
 *
 * RESP2 downgrades: Map → flat Array, Set/Push → Array, Null → `$-1`, Double → Bulk text,
 * Boolean → Integer 1/0, Verbatim → Bulk (without the format). RESP3 writes the null bulk and
 * the null array as `_`.
 */
export const encodeReply = (reply: Reply, buf: ByteBuffer.ByteBuffer, protocol: Protocol): void => {
  claim(buf)
  const mark = pos
  const flushed = flushes
  try {
    write(reply, protocol)
  } catch (e) {
    pos = flushes === flushed ? mark : 0 // drop the partial reply still in the scratch area
    throw e
  } finally {
    release(buf)
  }
}

/** Encode replies one after another into `buf` (what one coalesced socket write carries). */
export const encodeReplies = (replies: Iterable<Reply>, buf: ByteBuffer.ByteBuffer, protocol: Protocol): void => {
  const writer = replyWriter(buf)
  for (const reply of replies) writer.write(reply, protocol)
  writer.end()
}
