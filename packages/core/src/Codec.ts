/**
 * Codecs: a byte stream in, items out; items in, bytes out. The per-connection
 * state machines every wirekit connection pipeline is made of (tokio-util's
 * `Decoder<Item>` / `Encoder<Item>` shape).
 *
 * ```
 *   socket chunks ─▶ Decoder<In>  ─▶ items (frames, commands, messages) ─▶ you
 *   you ─▶ items  ─▶ Encoder<Out> ─▶ ByteBuffer ─one write per batch─▶ socket
 * ```
 *
 * A {@link Framing.Framing} is the byte-frame case, `Codec<Uint8Array>`: the
 * framing codecs (`Lines`, `LengthField`, ...) cut the stream into frames. A
 * codec whose items are parsed messages finds the message boundaries and
 * parses in one step (a RESP command, say), and an encoder writes straight
 * into the output buffer: no intermediate array per item.
 *
 * Contract (the same as the framing codecs'):
 * - `decode(chunk, out)` appends every complete item in `chunk` (after what
 *   earlier calls held) to `out`. Bad input is a {@link Framing.FramingError}
 *   (items before the bad bytes are still pushed; the decoder is then failed
 *   and returns the same error again). Pure: no Effect, no promise.
 * - The bytes an incomplete item holds are bounded (`buffered`), by limits
 *   validated when the codec is built; an item never refers to a chunk after
 *   the call that decoded it returned, unless the codec documents it (the
 *   framing codecs return zero-copy views of the chunk).
 * - `finish(out)` at end of stream: a last item, or `Truncated` if a partial
 *   one remains.
 * - `encode(item, buf)` appends the item's bytes to `buf`, or returns the
 *   error and writes nothing.
 *
 * @example
 * ```ts
 * import { Codec, Framed, Lines } from "@wirekit/core"
 *
 * // lines in, numbers out: a codec over a framing
 * const numbers: Codec.Codec<number> = Codec.overFrames(Lines.make(), {
 *   decode: (frame) => Number(new TextDecoder().decode(frame)),
 *   encode: (n) => new TextEncoder().encode(String(n))
 * })
 * // const framed = Framed.make(connection, numbers)   // framed.read: Effect<number | EOF, ...>
 * ```
 * @since 0.1.0
 */
import type * as ByteBuffer from "./ByteBuffer.ts"
import type { Framing } from "./Framing.ts"
import { FramingError } from "./Framing.ts"

/**
 * Per-connection decoding state: feed chunks, collect items.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoder<A> {
  /**
   * Appends `chunk` and pushes every complete item onto `out`; a {@link FramingError} for bad input.
   *
   * The decoder may keep `chunk` (or views of it) for an incomplete item
   * instead of copying it, unless `lent` is true: the caller then reuses the
   * chunk's memory once `decode` returns (a `pump(..., { borrow: true })`),
   * so what the decoder keeps must be copied. Items pushed onto `out` may be
   * views of `chunk` either way.
   */
  decode(chunk: Uint8Array, out: Array<A>, lent?: boolean): FramingError | undefined
  /** End of stream: may push a last item; `Truncated` if a partial one remains. */
  finish(out: Array<A>): FramingError | undefined
  /**
   * Memory held for an incomplete item, in bytes: what an input budget
   * charges the connection. A decoder that keeps views of its input counts
   * the memory they keep alive, which can exceed the item's bytes.
   */
  readonly buffered: number
}

/**
 * Per-connection encoding state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Encoder<A> {
  /** Appends the encoded item to `buf`; on error nothing is written. */
  encode(item: A, buf: ByteBuffer.ByteBuffer): FramingError | undefined
}

/**
 * A codec: a name and factories for fresh per-connection state (one decoder
 * and one encoder per connection).
 *
 * @since 0.1.0
 * @category models
 */
export interface Codec<In, Out = In> {
  /** Codec name, as used in {@link FramingError.codec}. */
  readonly codec: string
  /** Fresh decoding state (one per connection). */
  readonly decoder: () => Decoder<In>
  /** Fresh encoding state (one per connection). */
  readonly encoder: () => Encoder<Out>
}

/**
 * A decoder of `B`s from a decoder of `A`s: every item `decoder` yields goes
 * through `f` (errors, `finish` and `buffered` are the inner decoder's).
 *
 * @since 0.1.0
 * @category combinators
 */
export const mapDecoder = <A, B>(decoder: Decoder<A>, f: (item: A) => B): Decoder<B> => new MappedDecoder(decoder, f)

/** {@link mapDecoder}'s decoder: one per connection, so its methods live on the prototype. */
class MappedDecoder<A, B> implements Decoder<B> {
  private readonly scratch: Array<A> = []

  constructor(private readonly decoder: Decoder<A>, private readonly f: (item: A) => B) {}

  private each(out: Array<B>): void {
    const scratch = this.scratch
    try {
      for (let i = 0; i < scratch.length; i++) out.push(this.f(scratch[i]!))
    } finally {
      scratch.length = 0
    }
  }

  decode(chunk: Uint8Array, out: Array<B>, lent?: boolean): FramingError | undefined {
    const error = this.decoder.decode(chunk, this.scratch, lent)
    this.each(out)
    return error
  }

  finish(out: Array<B>): FramingError | undefined {
    const error = this.decoder.finish(this.scratch)
    this.each(out)
    return error
  }

  get buffered(): number {
    return this.decoder.buffered
  }
}

/**
 * What {@link overFrames} does with one frame and one item. A `decode` or
 * `encode` that throws fails with a `Corrupted` {@link FramingError} whose
 * detail is the thrown error's message.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameCodec<In, Out> {
  readonly decode: (frame: Uint8Array) => In
  readonly encode: (item: Out) => Uint8Array
}

/**
 * A codec of items carried one per frame of `framing`: frames are decoded
 * with `codec.decode` (a throw is a `Corrupted` error of the stream), items
 * encoded with `codec.encode` then framed. For wire formats where finding the
 * boundary and parsing are one step, write a {@link Decoder} instead.
 *
 * @since 0.1.0
 * @category constructors
 */
export const overFrames = <In, Out = In>(framing: Framing, codec: FrameCodec<In, Out>): Codec<In, Out> => ({
  codec: framing.codec,
  decoder: () => {
    const frames = framing.decoder()
    const scratch: Array<Uint8Array> = []
    const each = (out: Array<In>): FramingError | undefined => {
      try {
        for (let i = 0; i < scratch.length; i++) out.push(codec.decode(scratch[i]!))
      } catch (error) {
        return corrupted(framing.codec, error)
      } finally {
        scratch.length = 0
      }
      return undefined
    }
    let failed: FramingError | undefined
    return {
      decode: (chunk, out, lent) => {
        if (failed !== undefined) return failed
        const error = frames.decode(chunk, scratch, lent)
        failed = each(out) ?? error
        return failed
      },
      finish: (out) => {
        if (failed !== undefined) return failed
        const error = frames.finish(scratch)
        failed = each(out) ?? error
        return failed
      },
      get buffered() {
        return frames.buffered
      }
    }
  },
  encoder: () => {
    const frames = framing.encoder()
    return {
      encode: (item, buf) => {
        let frame: Uint8Array
        try {
          frame = codec.encode(item)
        } catch (error) {
          return corrupted(framing.codec, error)
        }
        return frames.encode(frame, buf)
      }
    }
  }
})

const corrupted = (codec: string, error: unknown): FramingError =>
  new FramingError({
    reason: "Corrupted",
    codec,
    detail: error instanceof Error ? error.message : String(error)
  })
