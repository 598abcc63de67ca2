/**
 * Test helpers: bytes ⇄ text (latin1, one char per byte), running the decoder over chunkings,
 * encoding replies to text, and a command harness with an injected clock.
 */
import { ByteBuffer, type Framing } from "@wirekit/core"
import { execute } from "../src/Commands.ts"
import * as Resp from "../src/Resp.ts"
import { makeSession, type Session } from "../src/Session.ts"
import * as Store from "../src/Store.ts"

/** Bytes of a latin1 string (each char code one byte). */
export const bytes = (text: string): Uint8Array => {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i)
  return out
}

/** Latin1 string of bytes. */
export const str = (data: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < data.length; i++) s += String.fromCharCode(data[i])
  return s
}

export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Is `view` a window on the memory of `of` (no copy)? */
export const isViewOf = (view: Uint8Array, of: Uint8Array): boolean =>
  view.buffer === of.buffer && view.byteOffset >= of.byteOffset &&
  view.byteOffset + view.byteLength <= of.byteOffset + of.byteLength

/** The multi-bulk encoding of a command. */
export const multibulk = (...args: ReadonlyArray<string | Uint8Array>): Uint8Array => {
  const parts: Array<Uint8Array> = [bytes(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === "string" ? bytes(a) : a
    parts.push(bytes(`$${b.length}\r\n`), b, bytes("\r\n"))
  }
  return concat(...parts)
}

export interface DecodeResult {
  readonly commands: Array<Array<string>>
  readonly error: Framing.FramingError | undefined
  readonly finish: Framing.FramingError | undefined
}

/** Decode chunks with a fresh decoder (limits and options); commands as latin1 strings. */
export const decode = (chunks: ReadonlyArray<Uint8Array>, limits?: Resp.DecoderOptions): DecodeResult => {
  const decoder = Resp.makeRequestDecoder(limits)
  const out: Array<Resp.Command> = []
  let error: Framing.FramingError | undefined
  for (const chunk of chunks) {
    error = decoder.decode(chunk, out)
    if (error !== undefined) break
  }
  const finish = error === undefined ? decoder.finish(out) : undefined
  return { commands: out.map((c) => c.map(str)), error, finish }
}

/** Every way of cutting `wire` in two, plus every way of cutting it into single bytes. */
export function* everySplit(wire: Uint8Array): Generator<Array<Uint8Array>> {
  for (let i = 0; i <= wire.length; i++) yield [wire.slice(0, i), wire.slice(i)]
  const single: Array<Uint8Array> = []
  for (let i = 0; i < wire.length; i++) single.push(wire.slice(i, i + 1))
  yield single
}

/** Cut `wire` at the given sorted offsets (each chunk a copy). */
export const cutAt = (wire: Uint8Array, offsets: ReadonlyArray<number>): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  let prev = 0
  for (const o of [...offsets].sort((a, b) => a - b)) {
    chunks.push(wire.slice(prev, o))
    prev = o
  }
  chunks.push(wire.slice(prev))
  return chunks
}

/** RESP text of a reply. */
export const encode = (reply: Resp.Reply, protocol: Resp.Protocol = 2): string => {
  const buf = ByteBuffer.make()
  Resp.encodeReply(reply, buf, protocol)
  return str(buf.take())
}

/** A keyspace with a settable clock and one session; `run` gives the encoded reply. */
export const harness = (start = 1_700_000_000_000) => {
  let now = start
  const store = Store.make({ clock: () => now })
  const session: Session = makeSession({ id: 7, addr: "127.0.0.1:5000", laddr: "127.0.0.1:6379" })
  const args = (command: string | ReadonlyArray<string>): Array<Uint8Array> =>
    (typeof command === "string" ? command.split(" ") : command).map(bytes)
  return {
    store,
    session,
    /** Execute and return the reply value. */
    reply: (command: string | ReadonlyArray<string>): Resp.Reply => execute(store, args(command), session),
    /** Execute and return the reply as RESP text for the session's protocol after the command. */
    run: (command: string | ReadonlyArray<string>): string => {
      const reply = execute(store, args(command), session)
      return encode(reply, session.protocol)
    },
    get now() {
      return now
    },
    /** Move the clock forward by `ms`. */
    advance: (ms: number) => {
      now += ms
    }
  }
}

/** Run `[command, expected]` rows in order against one harness, collecting mismatches. */
export const table = (
  h: ReturnType<typeof harness>,
  rows: ReadonlyArray<readonly [string | ReadonlyArray<string>, string]>
): Array<string> => {
  const bad: Array<string> = []
  for (const [command, expected] of rows) {
    const actual = h.run(command)
    if (actual !== expected) {
      bad.push(`${JSON.stringify(command)}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
    }
  }
  return bad
}
