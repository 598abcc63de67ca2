/**
 * Syslog over TCP (RFC 6587): each connection uses one of two framings,
 * told apart by its first byte.
 *
 * ```
 *   first byte a digit  → octet counting:   "11 <13>1 - - -" "11 <13>1 - - -"
 *   anything else ('<') → non-transparent:  "<13>1 - - -\n<13>1 - - -\n"
 * ```
 *
 * Non-transparent framing ends a message at LF (a CR before it is dropped)
 * and keeps an unterminated last message at end of stream (many senders do
 * not end their last line); empty lines are skipped. A connection that opens
 * with garbage is read as lines: each line then fails to parse as a message
 * (counted, logged) and a line over `maxLength` closes the connection.
 *
 * Both framings bound what one connection holds by `maxLength`; a longer
 * message is a `FrameTooLarge` {@link Framing.FramingError} that closes that
 * connection only.
 */
import type { Codec, Framing } from "@wirekit/core"
import { Lines } from "@wirekit/core"
import * as OctetCounting from "./OctetCounting.ts"

/** The codec name in {@link Framing.FramingError.codec} before the framing is known. */
export const CODEC = "SyslogTcp"

/** Options of {@link make}. */
export interface Options {
  /** Largest message in bytes (MSG-LEN, or a line without its end). */
  readonly maxLength: number
}

/** Which framing a connection turned out to use. */
export type Mode = "octet-counting" | "non-transparent"

/** A decoder that picks its framing from the first byte, and tells which. */
export interface TcpDecoder extends Framing.FrameDecoder {
  /** The framing in use, once the first byte is known. */
  readonly mode: Mode | undefined
}

class AutoDecoder implements TcpDecoder {
  private inner: Codec.Decoder<Uint8Array> | undefined
  mode: Mode | undefined = undefined
  private readonly scratch: Array<Uint8Array> = []

  constructor(private readonly octets: Framing.Framing, private readonly lines: Framing.Framing) {}

  get buffered(): number {
    return this.inner === undefined ? 0 : this.inner.buffered
  }

  private pick(first: number): Codec.Decoder<Uint8Array> {
    const digit = first >= 0x30 && first <= 0x39
    this.mode = digit ? "octet-counting" : "non-transparent"
    this.inner = digit ? this.octets.decoder() : this.lines.decoder()
    return this.inner
  }

  /** Lines yields an empty frame per empty line: not a message. */
  private move(out: Array<Uint8Array>): void {
    const scratch = this.scratch
    for (let i = 0; i < scratch.length; i++) {
      const frame = scratch[i]!
      if (frame.length > 0 || this.mode === "octet-counting") out.push(frame)
    }
    scratch.length = 0
  }

  decode(chunk: Uint8Array, out: Array<Uint8Array>, lent?: boolean): Framing.FramingError | undefined {
    if (chunk.length === 0 && this.inner === undefined) return undefined
    const inner = this.inner ?? this.pick(chunk[0]!)
    const error = inner.decode(chunk, this.scratch, lent)
    this.move(out)
    return error
  }

  finish(out: Array<Uint8Array>): Framing.FramingError | undefined {
    if (this.inner === undefined) return undefined
    const error = this.inner.finish(this.scratch)
    this.move(out)
    return error
  }
}

/** A {@link Framing.Framing} whose decoders say which framing they found. */
export interface TcpFraming extends Framing.Framing {
  readonly decoder: () => TcpDecoder
}

/**
 * The TCP framing: decoders detect the framing per connection (see the
 * module docs); the encoder writes octet counting (what `logger
 * --octet-count` sends), for clients and tests.
 */
export const make = (options: Options): TcpFraming => {
  const octets = OctetCounting.make({ maxLength: options.maxLength })
  const lines = Lines.make({
    delimiter: "crlf-or-lf",
    maxLength: options.maxLength,
    emitLastLineAtEof: true,
    encodeDelimiter: "lf"
  })
  return {
    codec: CODEC,
    maxFrameLength: options.maxLength,
    decoder: () => new AutoDecoder(octets, lines),
    encoder: octets.encoder
  }
}
