/**
 * Cuts the bytes of one syslog message into fields (RFC 5424 section 6, RFC
 * 3164 section 4.1). It only finds boundaries; what each field may contain is
 * checked afterwards by the SyslogMessage Schema. Header fields are US-ASCII
 * and read byte for byte (a byte above 126 survives as a character the Schema
 * then refuses); PARAM-VALUEs and MSG are UTF-8.
 */
import type { SyslogFields } from "../SyslogMessage.ts"

/** What the lexer cannot cut (the reasons are a subset of the parse error's). */
export class LexError {
  constructor(
    readonly reason: "Empty" | "BadPriority" | "TruncatedHeader" | "BadVersion" | "UnknownFormat" | "BadStructuredData",
    readonly detail: string
  ) {}
}

const SP = 0x20
const LT = 0x3c
const GT = 0x3e
const DASH = 0x2d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c
const EQUALS = 0x3d
const COLON = 0x3a

const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })

/** US-ASCII header bytes as a string, one character per byte. */
const ascii = (bytes: Uint8Array, start: number, end: number): string => {
  let s = ""
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!)
  return s
}

/** MSG: UTF-8, without the BOM RFC 5424 allows in front of it. */
const message = (bytes: Uint8Array, start: number): string => {
  if (bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) start += 3
  return start >= bytes.length ? "" : utf8.decode(bytes.subarray(start))
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/** `<PRIVAL>` at the start: PRIVAL and the index after `>`, or why not. */
const priority = (b: Uint8Array): { readonly pri: number; readonly next: number } | LexError => {
  if (b[0] !== LT) {
    return new LexError("BadPriority", `the message starts with ${describe(b[0])}, not '<'`)
  }
  let i = 1
  let pri = 0
  while (i < b.length && isDigit(b[i])) {
    if (i > 3) return new LexError("BadPriority", "PRIVAL has more than 3 digits")
    pri = pri * 10 + b[i]! - 0x30
    i++
  }
  if (i === b.length) return new LexError("TruncatedHeader", "the message ends inside PRI")
  if (i === 1) return new LexError("BadPriority", `${describe(b[1])} where PRIVAL's digits were expected`)
  if (b[i] !== GT) return new LexError("BadPriority", `${describe(b[i])} where PRI's '>' was expected`)
  if (b[1] === 0x30 && i > 2) return new LexError("BadPriority", "PRIVAL has a leading zero")
  return { pri, next: i + 1 }
}

const describe = (b: number | undefined): string =>
  b === undefined
    ? "nothing"
    : b >= 0x21 && b <= 0x7e
    ? `'${String.fromCharCode(b)}'`
    : `byte 0x${b.toString(16).padStart(2, "0")}`

/** Reads fields; `i` is the index of the next byte. */
class Cursor {
  i: number
  constructor(readonly b: Uint8Array, start: number) {
    this.i = start
  }

  /** A header field up to the next SP (consumed); `undefined` when the message ends first. */
  field(): string | undefined {
    const b = this.b
    const start = this.i
    let end = start
    while (end < b.length && b[end] !== SP) end++
    if (end === b.length) return undefined
    this.i = end + 1
    return ascii(b, start, end)
  }
}

/** `-` → null. */
const nil = (s: string): string | null => (s === "-" ? null : s)

/** RFC 5424 from VERSION on (`c.i` at VERSION's first digit). */
const rfc5424 = (b: Uint8Array, pri: number, c: Cursor): SyslogFields | LexError => {
  const version = c.field()
  if (version === undefined) return new LexError("TruncatedHeader", "the message ends after VERSION")
  if (!/^[1-9]\d{0,2}$/.test(version)) return new LexError("BadVersion", `VERSION ${JSON.stringify(version)}`)
  const names = ["TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"] as const
  const values: Array<string> = []
  for (const name of names) {
    const value = c.field()
    if (value === undefined) return new LexError("TruncatedHeader", `the message ends inside ${name}`)
    if (value === "") return new LexError("TruncatedHeader", `${name} is empty (two spaces in a row)`)
    values.push(value)
  }
  if (c.i >= b.length) return new LexError("TruncatedHeader", "the message ends before STRUCTURED-DATA")
  const sd = structuredData(b, c)
  if (sd instanceof LexError) return sd
  let msg = ""
  if (c.i < b.length) {
    if (b[c.i] !== SP) return new LexError("BadStructuredData", `${describe(b[c.i])} after STRUCTURED-DATA`)
    msg = message(b, c.i + 1)
  }
  return {
    format: "rfc5424",
    priority: pri,
    version: Number(version),
    timestamp: nil(values[0]!),
    hostname: nil(values[1]!),
    appName: nil(values[2]!),
    procId: nil(values[3]!),
    msgId: nil(values[4]!),
    structuredData: sd,
    message: msg
  }
}

type Elements = SyslogFields["structuredData"]

/** STRUCTURED-DATA: `-` or SD-ELEMENTs; leaves `c.i` after them. */
const structuredData = (b: Uint8Array, c: Cursor): Elements | LexError => {
  if (b[c.i] === DASH) {
    c.i++
    return []
  }
  if (b[c.i] !== LBRACKET) {
    return new LexError("BadStructuredData", `${describe(b[c.i])} where STRUCTURED-DATA ('-' or '[') was expected`)
  }
  const elements: Array<Elements[number]> = []
  while (b[c.i] === LBRACKET) {
    c.i++
    const id = name(b, c)
    const params: Array<{ name: string; value: string }> = []
    while (b[c.i] === SP) {
      c.i++
      const param = name(b, c)
      if (b[c.i] !== EQUALS) return unterminated(b, c, "'=' after PARAM-NAME")
      if (b[c.i + 1] !== QUOTE) {
        c.i++
        return unterminated(b, c, "'\"' opening PARAM-VALUE")
      }
      c.i += 2
      const value = paramValue(b, c)
      if (value === undefined) return new LexError("BadStructuredData", "the message ends inside a PARAM-VALUE")
      params.push({ name: param, value })
    }
    if (b[c.i] !== RBRACKET) return unterminated(b, c, "']' closing the SD-ELEMENT")
    c.i++
    elements.push({ id, params })
  }
  return elements
}

const unterminated = (b: Uint8Array, c: Cursor, expected: string) =>
  new LexError(
    "BadStructuredData",
    c.i >= b.length
      ? `the message ends where ${expected} was expected`
      : `${describe(b[c.i])} where ${expected} was expected`
  )

/** SD-ID or PARAM-NAME: up to `=`, SP, `]` or `"` (its syntax checked by the Schema). */
const name = (b: Uint8Array, c: Cursor): string => {
  const start = c.i
  while (c.i < b.length && b[c.i] !== EQUALS && b[c.i] !== SP && b[c.i] !== RBRACKET && b[c.i] !== QUOTE) c.i++
  return ascii(b, start, c.i)
}

/**
 * PARAM-VALUE up to its closing `"` (consumed). `\"`, `\\` and `\]` are the
 * escaped characters; a backslash before anything else is kept (RFC 5424
 * section 6.3.3).
 */
const paramValue = (b: Uint8Array, c: Cursor): string | undefined => {
  const parts: Array<number> = []
  while (c.i < b.length) {
    const x = b[c.i]!
    if (x === QUOTE) {
      c.i++
      return utf8.decode(Uint8Array.from(parts))
    }
    if (x === BACKSLASH && c.i + 1 < b.length) {
      const next = b[c.i + 1]!
      if (next === QUOTE || next === BACKSLASH || next === RBRACKET) {
        parts.push(next)
        c.i += 2
        continue
      }
    }
    parts.push(x)
    c.i++
  }
  return undefined
}

/** TAG characters: what `logger -t` and the usual daemons put there. */
const isTagByte = (x: number) =>
  (x >= 0x30 && x <= 0x39) || (x >= 0x41 && x <= 0x5a) || (x >= 0x61 && x <= 0x7a) || x === 0x2d || x === 0x2e ||
  x === 0x5f || x === 0x2f

/** RFC 3164 from TIMESTAMP on: `Mmm dd hh:mm:ss HOSTNAME [TAG[[pid]]:] content`. */
const rfc3164 = (b: Uint8Array, pri: number, c: Cursor): SyslogFields | LexError => {
  const start = c.i
  if (b.length - start < 16) return new LexError("TruncatedHeader", "the message ends inside the RFC 3164 header")
  if (b[start + 15] !== SP) {
    return new LexError(
      "TruncatedHeader",
      `${describe(b[start + 15])} where the space after the timestamp was expected`
    )
  }
  const timestamp = ascii(b, start, start + 15)
  c.i = start + 16
  const hostname = c.field()
  if (hostname === undefined || hostname === "") {
    return new LexError("TruncatedHeader", "the message ends inside HOSTNAME (RFC 3164)")
  }
  // TAG: up to 48 tag characters, then `[pid]` and/or `:`; without them it is the content's first word
  let appName: string | null = null
  let procId: string | null = null
  let i = c.i
  while (i < b.length && i - c.i < 48 && isTagByte(b[i]!)) i++
  if (i > c.i && (b[i] === COLON || b[i] === LBRACKET)) {
    let j = i
    let pid: string | null = null
    if (b[j] === LBRACKET) {
      const close = b.indexOf(RBRACKET, j)
      if (close > j + 1) {
        pid = ascii(b, j + 1, close)
        j = close + 1
      }
    }
    if (j > i || b[j] === COLON) {
      appName = ascii(b, c.i, i)
      procId = pid
      if (b[j] === COLON) j++
      if (b[j] === SP) j++
      c.i = j
    }
  }
  return {
    format: "rfc3164",
    priority: pri,
    version: null,
    timestamp,
    hostname,
    appName,
    procId,
    msgId: null,
    structuredData: [],
    message: message(b, c.i)
  }
}

/** The fields of one message, or why it cannot be cut into them. */
export const lex = (bytes: Uint8Array): SyslogFields | LexError => {
  if (bytes.length === 0) return new LexError("Empty", "no bytes")
  const p = priority(bytes)
  if (p instanceof LexError) return p
  if (p.next === bytes.length) return new LexError("TruncatedHeader", "the message ends after PRI")
  const c = new Cursor(bytes, p.next)
  if (isDigit(bytes[p.next])) return rfc5424(bytes, p.pri, c)
  const month = ascii(bytes, p.next, Math.min(p.next + 3, bytes.length))
  if (MONTHS.includes(month)) return rfc3164(bytes, p.pri, c)
  return new LexError(
    "UnknownFormat",
    `after PRI, ${describe(bytes[p.next])} starts neither an RFC 5424 VERSION nor an RFC 3164 timestamp`
  )
}
