/**
 * Framed connections: a {@link Connection.Connection} seen as items instead of
 * bytes, through a {@link Codec.Codec}: byte frames with a
 * {@link Framing.Framing} codec, or parsed messages with a codec that yields
 * them (e.g. `Codec.overFrames`, or a decoder of its own).
 *
 * ```
 *   socket ─bytes─▶ decoder ─frames (views into the read chunk)─▶ you
 *   you ─frames─▶ encoder ─▶ one ByteBuffer per turn ─one write─▶ socket
 * ```
 *
 * - Every complete frame in the bytes read is decoded at once; frames lying
 *   inside one chunk are views into it (no copy), only frames spanning chunks
 *   are copied.
 * - Frames sent in the same turn are encoded into one buffer and written to
 *   the socket as one write (worth ~10× on Node against a write per frame).
 * - Backpressure flows end to end: frames are pulled, so a consumer that does
 *   not pull stops the socket reads; a sender waits for drain once the socket
 *   is past its write high-water mark.
 * - Bad input is a typed {@link Framing.FramingError}; frames decoded before
 *   the bad bytes are delivered first. End of stream in the middle of a frame
 *   is a `Truncated` error.
 *
 * @example
 * ```ts
 * import { Connection, Framed, LengthField } from "@wirekit/core"
 * import { Effect } from "effect"
 *
 * const framing = LengthField.make({ fieldLength: 4 })
 * // echo every frame, synchronously per read batch, one write per batch
 * const handler = Effect.gen(function* () {
 *   const framed = Framed.make(yield* Connection.Connection, framing)
 *   yield* framed.pump((frames) => {
 *     for (const frame of frames) framed.unsafeSend(frame)
 *   })
 * })
 * ```
 * @since 0.1.0
 */
import { Chunk, Effect, Option, Stream } from "effect"
import type { Connection, ConnectionError, PumpOptions } from "./Connection.ts"
import { EOF } from "./Connection.ts"
import type { Codec } from "./Codec.ts"
import type { FramingError } from "./Framing.ts"
import type { Budget } from "./internal/inputBudget.ts"
import { Holder } from "./internal/inputBudget.ts"
import { Output } from "./internal/output.ts"
import type { InputBudget } from "./InputBudget.ts"

/** Options of a framed connection. */
export interface FramedOptions {
  /** Encoded bytes past which `send` writes at once (and waits for drain) instead of at the end of the turn. Default 64 KiB. */
  readonly flushThreshold?: number | undefined
  /**
   * A bound shared with other connections on the bytes held for incomplete
   * messages (see {@link InputBudget}): after every read this connection
   * reports what its decoder holds, and is closed if it holds the most when
   * the total is past the bound.
   */
  readonly budget?: InputBudget | undefined
  /**
   * Items handed to one `pump` callback at most. A larger read batch is handed
   * over in slices; between slices, once the output is past `flushThreshold`,
   * it is written and, while the peer is not taking it, the next slice waits.
   * That bounds the replies a peer can make pile up by pipelining many small
   * requests without reading. Default 64; `Infinity` hands over whole batches.
   */
  readonly maxDeliver?: number | undefined
}

/**
 * A connection that reads items of type `In` and writes items of type `Out`
 * through a {@link Codec.Codec}; byte frames (`Uint8Array`) with a
 * {@link Framing.Framing}.
 */
export interface Framed<In = Uint8Array, Out = In> {
  readonly connection: Connection
  /** The codec (a framing, for byte frames). */
  readonly codec: Codec<In, Out>
  /** The next item, or `EOF`. */
  readonly read: Effect.Effect<In | EOF, FramingError | ConnectionError>
  /** Every item decoded from the next read (at least one), or `EOF`. */
  readonly readMany: Effect.Effect<ReadonlyArray<In> | EOF, FramingError | ConnectionError>
  /**
   * Encodes `frame` into this turn's output; the turn's frames go out as one
   * write. Waits for drain when the socket is past its high-water mark.
   */
  readonly send: (frame: Out) => Effect.Effect<void, FramingError | ConnectionError>
  /** Sends several frames (one write). */
  readonly sendAll: (frames: Iterable<Out>) => Effect.Effect<void, FramingError | ConnectionError>
  /** Writes whatever is encoded and not yet written, now. */
  readonly flush: Effect.Effect<void, ConnectionError>
  /**
   * Synchronous send for {@link Framed.pump} callbacks: encodes into the
   * batch's output, written once the callback returns. Returns the encoding
   * error, if any (nothing is written for that frame).
   */
  readonly unsafeSend: (frame: Out) => FramingError | undefined
  /**
   * Push-mode framing (see {@link Connection.Connection.pump}): calls
   * `onFrames` with every frame decoded from each read, synchronously in the
   * runtime's read callback; frames sent with `unsafeSend` during the call are
   * written as one write when it returns. `onFrames` may return an Effect:
   * reading pauses until it completes. The frames array is only valid during
   * the call (copy what you keep). Completes at end of stream.
   *
   * With `{ borrow: true }` (see `Connection.PumpOptions`) the frames
   * themselves are valid only during the call too: `unsafeSend` copies them
   * into the output, anything else you keep must be copied.
   */
  readonly pump: <E = never, R = never>(
    onFrames: (frames: ReadonlyArray<In>) => Effect.Effect<void, E, R> | undefined | void,
    options?: PumpOptions
  ) => Effect.Effect<void, E | FramingError | ConnectionError, R>
  /** The decoded items as a Stream (pull-based), ending at EOF. */
  readonly frames: Stream.Stream<In, FramingError | ConnectionError>
}

/**
 * Frames a connection with `codec` (a {@link Framing.Framing} for byte
 * frames). One `Framed` per connection (it holds the decoder and encoder
 * state).
 */
export const make = <In = Uint8Array, Out = In>(
  connection: Connection,
  codec: Codec<In, Out>,
  options?: FramedOptions
): Framed<In, Out> => {
  const decoder = codec.decoder()
  const encoder = codec.encoder()
  const output = new Output(connection)
  const out = output.out
  const flushThreshold = options?.flushThreshold ?? 64 * 1024
  const maxDeliver = options?.maxDeliver ?? 64
  const budget = options?.budget as Budget | undefined
  const holder = budget === undefined ? undefined : new Holder(connection, codec.codec)
  /** After decoding: what the decoder holds now, charged to the budget (an error when this connection must give way). */
  const charge = (error: FramingError | undefined): FramingError | undefined =>
    holder === undefined || error !== undefined ? error : budget!.charge(holder, decoder.buffered)
  let flushScheduled = false
  // read side (pull)
  let batch: Array<In> = []
  let batchIndex = 0
  let pendingEnd: Effect.Effect<EOF, FramingError | ConnectionError> | undefined

  const flushNow = (): void => {
    flushScheduled = false
    output.write()
  }
  const reclaim = (): void => output.reclaim()
  const scheduleFlush = (): void => {
    if (flushScheduled) return
    flushScheduled = true
    queueMicrotask(flushNow)
  }
  const flush: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
    flushScheduled = false
    output.blocked = false
    return out.length > 0 ? connection.write(out.take()) : Effect.void
  })
  const afterEncode: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
    if (output.blocked || out.length >= flushThreshold) return flush
    scheduleFlush()
    return Effect.void
  })

  const unsafeSend = (frame: Out): FramingError | undefined => encoder.encode(frame, out)

  const send = (frame: Out): Effect.Effect<void, FramingError | ConnectionError> =>
    Effect.suspend((): Effect.Effect<void, FramingError | ConnectionError> => {
      reclaim()
      const error = encoder.encode(frame, out)
      return error !== undefined ? Effect.fail(error) : afterEncode
    })

  const sendAll = (frames: Iterable<Out>): Effect.Effect<void, FramingError | ConnectionError> =>
    Effect.suspend((): Effect.Effect<void, FramingError | ConnectionError> => {
      reclaim()
      for (const frame of frames) {
        const error = encoder.encode(frame, out)
        if (error !== undefined) return Effect.zipRight(afterEncode, Effect.fail(error))
      }
      return afterEncode
    })

  const readMany: Effect.Effect<ReadonlyArray<In> | EOF, FramingError | ConnectionError> = Effect.suspend(() => {
    if (batchIndex < batch.length) {
      const rest = batchIndex === 0 ? batch : batch.slice(batchIndex)
      batch = []
      batchIndex = 0
      return Effect.succeed(rest)
    }
    if (pendingEnd !== undefined) return pendingEnd
    return Effect.flatMap(connection.readMany, (chunks) => {
      const frames: Array<In> = []
      let error: FramingError | undefined
      if (chunks === EOF) {
        error = decoder.finish(frames)
        pendingEnd = error !== undefined ? Effect.fail(error) : Effect.succeed(EOF)
        if (holder !== undefined) budget!.release(holder)
      } else {
        for (const chunk of chunks) {
          error = decoder.decode(chunk, frames)
          if (error !== undefined) break
        }
        error = charge(error)
        if (error !== undefined) {
          pendingEnd = Effect.fail(error)
          if (holder !== undefined) budget!.release(holder)
        }
      }
      if (frames.length > 0) return Effect.succeed(frames)
      return readMany
    })
  })

  const read: Effect.Effect<In | EOF, FramingError | ConnectionError> = Effect.suspend(() => {
    if (batchIndex < batch.length) {
      const frame = batch[batchIndex++]!
      if (batchIndex === batch.length) {
        batch = []
        batchIndex = 0
      }
      return Effect.succeed(frame)
    }
    return Effect.flatMap(readMany, (frames) => {
      if (frames === EOF) return Effect.succeed(EOF)
      batch = frames as Array<In>
      batchIndex = 0
      return read
    })
  })

  const pump = <E, R>(
    onFrames: (frames: ReadonlyArray<In>) => Effect.Effect<void, E, R> | undefined | void,
    options?: PumpOptions
  ): Effect.Effect<void, E | FramingError | ConnectionError, R> => {
    const frames: Array<In> = []
    const deliver = (error: FramingError | undefined): Effect.Effect<void, E | FramingError | ConnectionError, R> | undefined => {
      let next: Effect.Effect<void, E, R> | undefined | void
      if (frames.length > maxDeliver) {
        // a large batch goes over in slices, so that the replies of a peer that is not reading
        // stop piling up once the output is past the high-water mark (the rest waits for it)
        const all = frames.slice()
        frames.length = 0
        return deliverSlices(all, 0, error)
      }
      if (frames.length > 0) {
        try {
          next = onFrames(frames)
        } finally {
          frames.length = 0
        }
      }
      if (next !== undefined) {
        const after = Effect.zipRight(next, flush)
        return error !== undefined ? Effect.zipRight(after, Effect.fail(error)) : after
      }
      flushNow()
      return error !== undefined ? Effect.fail(error) : undefined
    }
    const deliverSlices = (
      all: ReadonlyArray<In>,
      from: number,
      error: FramingError | undefined
    ): Effect.Effect<void, E | FramingError | ConnectionError, R> | undefined => {
      while (from < all.length) {
        const end = Math.min(all.length, from + maxDeliver)
        const next = onFrames(all.slice(from, end))
        from = end
        const at = from
        if (next !== undefined) {
          return Effect.zipRight(Effect.zipRight(next, flush), Effect.suspend(() => deliverSlices(all, at, error) ?? Effect.void))
        }
        if (at < all.length && out.length >= flushThreshold) {
          output.write()
          if (output.blocked) {
            output.blocked = false
            return Effect.zipRight(
              Effect.ignore(connection.awaitWritable),
              Effect.suspend(() => deliverSlices(all, at, error) ?? Effect.void)
            )
          }
        }
      }
      flushNow()
      return error !== undefined ? Effect.fail(error) : undefined
    }
    const body = connection.pump((chunks) => {
      reclaim()
      let error: FramingError | undefined
      for (let i = 0; i < chunks.length && error === undefined; i++) error = decoder.decode(chunks[i]!, frames)
      return deliver(charge(error))
    }, options)
    const ran = Effect.zipRight(body, Effect.suspend(() => deliver(decoder.finish(frames)) ?? Effect.void))
    // the connection's share goes back to the budget however the pump ends
    const run = holder === undefined ? ran : Effect.ensuring(ran, Effect.sync(() => budget!.release(holder)))
    return Effect.suspend(() => {
      // frames a pull-mode `read` decoded but has not returned yet come first, then the
      // end (or error) that `readMany` already met, else the live stream
      const held = batchIndex < batch.length ? batch.slice(batchIndex) : []
      batch = []
      batchIndex = 0
      const end = pendingEnd
      if (held.length === 0) return end === undefined ? run : Effect.asVoid(end)
      for (const f of held) frames.push(f)
      const first = deliver(undefined) ?? Effect.void
      return Effect.zipRight(first, end === undefined ? run : Effect.asVoid(end))
    })
  }

  const frames: Stream.Stream<In, FramingError | ConnectionError> = Stream.repeatEffectChunkOption(
    Effect.matchEffect(readMany, {
      onFailure: (e) => Effect.fail(Option.some(e)),
      onSuccess: (fs) =>
        fs === EOF
          ? Effect.fail(Option.none())
          : Effect.succeed(Chunk.unsafeFromArray(fs as Array<In>))
    })
  )

  return { connection, codec, read, readMany, send, sendAll, flush, unsafeSend, pump, frames }
}


