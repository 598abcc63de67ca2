/**
 * Framed connections: a {@link Connection.Connection} seen as frames instead of
 * bytes, through a {@link Framing.Framing} codec.
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
import * as ByteBuffer from "./ByteBuffer.ts"
import type { Connection, ConnectionError, PumpOptions } from "./Connection.ts"
import { EOF } from "./Connection.ts"
import type { Framing, FramingError } from "./Framing.ts"

/** Options of a framed connection. */
export interface FramedOptions {
  /** Encoded bytes past which `send` writes at once (and waits for drain) instead of at the end of the turn. Default 64 KiB. */
  readonly flushThreshold?: number | undefined
}

/** A connection that reads and writes frames. */
export interface Framed {
  readonly connection: Connection
  readonly framing: Framing
  /** The next frame, or `EOF`. */
  readonly read: Effect.Effect<Uint8Array | EOF, FramingError | ConnectionError>
  /** Every frame decoded from the next read (at least one), or `EOF`. */
  readonly readMany: Effect.Effect<ReadonlyArray<Uint8Array> | EOF, FramingError | ConnectionError>
  /**
   * Encodes `frame` into this turn's output; the turn's frames go out as one
   * write. Waits for drain when the socket is past its high-water mark.
   */
  readonly send: (frame: Uint8Array) => Effect.Effect<void, FramingError | ConnectionError>
  /** Sends several frames (one write). */
  readonly sendAll: (frames: Iterable<Uint8Array>) => Effect.Effect<void, FramingError | ConnectionError>
  /** Writes whatever is encoded and not yet written, now. */
  readonly flush: Effect.Effect<void, ConnectionError>
  /**
   * Synchronous send for {@link Framed.pump} callbacks: encodes into the
   * batch's output, written once the callback returns. Returns the encoding
   * error, if any (nothing is written for that frame).
   */
  readonly unsafeSend: (frame: Uint8Array) => FramingError | undefined
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
    onFrames: (frames: ReadonlyArray<Uint8Array>) => Effect.Effect<void, E, R> | undefined | void,
    options?: PumpOptions
  ) => Effect.Effect<void, E | FramingError | ConnectionError, R>
  /** The decoded frames as a Stream (pull-based), ending at EOF. */
  readonly frames: Stream.Stream<Uint8Array, FramingError | ConnectionError>
}

/** Frames a connection with `framing`. One `Framed` per connection (it holds the decoder state). */
export const make = (connection: Connection, framing: Framing, options?: FramedOptions): Framed => {
  const decoder = framing.decoder()
  const encoder = framing.encoder()
  // the output store is reused while the transport takes each batch at once (a batch of
  // replies to one read may pass 64 KiB: keep up to 128 KiB)
  const out = ByteBuffer.make(0, 128 * 1024)
  const flushThreshold = options?.flushThreshold ?? 64 * 1024
  let blocked = false
  let flushScheduled = false
  // read side (pull)
  let batch: Array<Uint8Array> = []
  let batchIndex = 0
  let pendingEnd: Effect.Effect<EOF, FramingError | ConnectionError> | undefined

  /** The last output store handed to a transport that had not sent it yet (Deno always). */
  let sentStore: Uint8Array | undefined

  const flushNow = (): void => {
    flushScheduled = false
    if (out.length === 0) return
    blocked = !connection.unsafeWrite(out.peek())
    // taken by the OS at once (the usual case on Node and Bun): the store is reused, no
    // allocation per batch and memory that stays in cache; else it stays with the transport
    if (connection.unsafeWriteBuffered() === 0) out.clear()
    else sentStore = out.release()
  }
  /** Before encoding: once the transport holds nothing, that store is ours again. */
  const reclaim = (): void => {
    if (sentStore !== undefined && out.length === 0 && connection.unsafeWriteBuffered() === 0) {
      out.reuse(sentStore)
      sentStore = undefined
    }
  }
  const scheduleFlush = (): void => {
    if (flushScheduled) return
    flushScheduled = true
    queueMicrotask(flushNow)
  }
  const flush: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
    flushScheduled = false
    blocked = false
    return out.length > 0 ? connection.write(out.take()) : Effect.void
  })
  const afterEncode: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
    if (blocked || out.length >= flushThreshold) return flush
    scheduleFlush()
    return Effect.void
  })

  const unsafeSend = (frame: Uint8Array): FramingError | undefined => encoder.encode(frame, out)

  const send = (frame: Uint8Array): Effect.Effect<void, FramingError | ConnectionError> =>
    Effect.suspend((): Effect.Effect<void, FramingError | ConnectionError> => {
      reclaim()
      const error = encoder.encode(frame, out)
      return error !== undefined ? Effect.fail(error) : afterEncode
    })

  const sendAll = (frames: Iterable<Uint8Array>): Effect.Effect<void, FramingError | ConnectionError> =>
    Effect.suspend((): Effect.Effect<void, FramingError | ConnectionError> => {
      reclaim()
      for (const frame of frames) {
        const error = encoder.encode(frame, out)
        if (error !== undefined) return Effect.zipRight(afterEncode, Effect.fail(error))
      }
      return afterEncode
    })

  const readMany: Effect.Effect<ReadonlyArray<Uint8Array> | EOF, FramingError | ConnectionError> = Effect.suspend(() => {
    if (batchIndex < batch.length) {
      const rest = batchIndex === 0 ? batch : batch.slice(batchIndex)
      batch = []
      batchIndex = 0
      return Effect.succeed(rest)
    }
    if (pendingEnd !== undefined) return pendingEnd
    return Effect.flatMap(connection.readMany, (chunks) => {
      const frames: Array<Uint8Array> = []
      let error: FramingError | undefined
      if (chunks === EOF) {
        error = decoder.finish(frames)
        pendingEnd = error !== undefined ? Effect.fail(error) : Effect.succeed(EOF)
      } else {
        for (const chunk of chunks) {
          error = decoder.decode(chunk, frames)
          if (error !== undefined) {
            pendingEnd = Effect.fail(error)
            break
          }
        }
      }
      if (frames.length > 0) return Effect.succeed(frames)
      return readMany
    })
  })

  const read: Effect.Effect<Uint8Array | EOF, FramingError | ConnectionError> = Effect.suspend(() => {
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
      batch = frames as Array<Uint8Array>
      batchIndex = 0
      return read
    })
  })

  const pump = <E, R>(
    onFrames: (frames: ReadonlyArray<Uint8Array>) => Effect.Effect<void, E, R> | undefined | void,
    options?: PumpOptions
  ): Effect.Effect<void, E | FramingError | ConnectionError, R> => {
    const frames: Array<Uint8Array> = []
    const deliver = (error: FramingError | undefined): Effect.Effect<void, E | FramingError | ConnectionError, R> | undefined => {
      let next: Effect.Effect<void, E, R> | undefined | void
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
    const body = connection.pump((chunks) => {
      reclaim()
      let error: FramingError | undefined
      for (let i = 0; i < chunks.length && error === undefined; i++) error = decoder.decode(chunks[i]!, frames)
      return deliver(error)
    }, options)
    const run = Effect.zipRight(body, Effect.suspend(() => deliver(decoder.finish(frames)) ?? Effect.void))
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

  const frames: Stream.Stream<Uint8Array, FramingError | ConnectionError> = Stream.repeatEffectChunkOption(
    Effect.matchEffect(readMany, {
      onFailure: (e) => Effect.fail(Option.some(e)),
      onSuccess: (fs) =>
        fs === EOF
          ? Effect.fail(Option.none())
          : Effect.succeed(Chunk.unsafeFromArray(fs as Array<Uint8Array>))
    })
  )

  return { connection, framing, read, readMany, send, sendAll, flush, unsafeSend, pump, frames }
}


