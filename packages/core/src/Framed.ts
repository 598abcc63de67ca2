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
import type { ByteBuffer } from "./ByteBuffer.ts"
import type { Codec, Decoder, Encoder } from "./Codec.ts"
import type { Connection, ConnectionError, PumpOptions } from "./Connection.ts"
import { EOF } from "./Connection.ts"
import type { FramingError } from "./Framing.ts"
import type { InputBudget } from "./InputBudget.ts"
import type { Budget } from "./internal/inputBudget.ts"
import { Holder } from "./internal/inputBudget.ts"
import { Output } from "./internal/output.ts"
import type { StartTlsOptions, TlsError, TlsInfo } from "./Tls.ts"

/**
 * Options of a framed connection.
 *
 * @since 0.1.0
 * @category options
 */
export interface FramedOptions {
  /** Encoded bytes past which `send` writes at once (and waits for drain) instead of at the end of the turn. Default 64 KiB. */
  readonly flushThreshold?: number | undefined
  /**
   * A bound shared with other connections on the bytes held for incomplete
   * messages (see {@link InputBudget}): after every read this connection
   * reports what its decoder holds; past the bound it is paused while it holds
   * part of a message, and may be closed to make room.
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
 *
 * @since 0.1.0
 * @category models
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
  /**
   * Upgrades the connection to TLS (STARTTLS; see
   * {@link Connection.Connection.startTls}) at this point of the stream:
   * writes what is encoded (your last plain-text reply) at once, DISCARDS the
   * items decoded and not yet returned and any partial one (the peer sent
   * them in plain text after the upgrade command: delivering them as if they
   * had come over TLS is the STARTTLS injection hole; they are logged), then
   * upgrades, and decodes what follows from a fresh decoder state.
   *
   * From a {@link Framed.pump} callback, return it as the callback's Effect
   * and ignore the items after the upgrade command in that call: the rest of
   * a batch handed over in slices is discarded too.
   *
   * @example
   * ```ts
   * yield* framed.pump((lines) => {
   *   for (const line of lines) {
   *     if (text(line) === "STARTTLS") {
   *       framed.unsafeSend(enc.encode("220 Ready to start TLS"))
   *       return Effect.asVoid(framed.startTls({ server: { certificates } }))
   *     }
   *     framed.unsafeSend(answer(line))
   *   }
   * })
   * ```
   */
  readonly startTls: (options: StartTlsOptions) => Effect.Effect<TlsInfo, TlsError | ConnectionError>
}

/**
 * Frames a connection with `codec` (a {@link Framing.Framing} for byte
 * frames). One `Framed` per connection (it holds the decoder and encoder
 * state).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <In = Uint8Array, Out = In>(
  connection: Connection,
  codec: Codec<In, Out>,
  options?: FramedOptions
): Framed<In, Out> => new FramedImpl(connection, codec, options)

/**
 * The one implementation of {@link Framed}. Its Effects, its bound functions
 * and its Stream are made on first use, and its helpers live on the
 * prototype: a framed connection waiting for its peer holds little more than
 * its decoder and its (empty) output buffer.
 */
class FramedImpl<In, Out> implements Framed<In, Out> {
  /** Replaced by a fresh one when the connection is upgraded to TLS. */
  private decoder: Decoder<In>
  /** Upgrades to TLS so far: items decoded before one are never delivered after it. */
  private upgrades = 0
  private readonly encoder: Encoder<Out>
  private readonly output: Output
  private readonly out: ByteBuffer
  private readonly flushThreshold: number
  private readonly maxDeliver: number
  private readonly budget: Budget | undefined
  private readonly holder: Holder | undefined
  private flushScheduled = false
  // read side (pull)
  private batch: Array<In> = []
  private batchIndex = 0
  private pendingEnd: Effect.Effect<EOF, FramingError | ConnectionError> | undefined = undefined
  // made on first use
  private flushNowFn: (() => void) | undefined = undefined
  private flushEffect: Effect.Effect<void, ConnectionError> | undefined = undefined
  private afterEncodeEffect: Effect.Effect<void, ConnectionError> | undefined = undefined
  private readManyEffect: Effect.Effect<ReadonlyArray<In> | EOF, FramingError | ConnectionError> | undefined = undefined
  private readEffect: Effect.Effect<In | EOF, FramingError | ConnectionError> | undefined = undefined
  private framesStream: Stream.Stream<In, FramingError | ConnectionError> | undefined = undefined
  private sendFn: ((frame: Out) => Effect.Effect<void, FramingError | ConnectionError>) | undefined = undefined
  private sendAllFn: ((frames: Iterable<Out>) => Effect.Effect<void, FramingError | ConnectionError>) | undefined =
    undefined
  private unsafeSendFn: ((frame: Out) => FramingError | undefined) | undefined = undefined
  private pumpFn: Framed<In, Out>["pump"] | undefined = undefined

  constructor(readonly connection: Connection, readonly codec: Codec<In, Out>, options: FramedOptions | undefined) {
    this.decoder = codec.decoder()
    this.encoder = codec.encoder()
    this.output = new Output(connection)
    this.out = this.output.out
    this.flushThreshold = options?.flushThreshold ?? 64 * 1024
    this.maxDeliver = options?.maxDeliver ?? 64
    this.budget = options?.budget as Budget | undefined
    this.holder = this.budget === undefined ? undefined : new Holder(connection, codec.codec)
  }

  /** After decoding: what the decoder holds now, charged to the budget (an error when this connection must give way). */
  private charge(error: FramingError | undefined): FramingError | undefined {
    return this.holder === undefined || error !== undefined
      ? error
      : this.budget!.charge(this.holder, this.decoder.buffered)
  }

  private flushNow(): void {
    this.flushScheduled = false
    this.output.write()
  }

  private reclaim(): void {
    this.output.reclaim()
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(this.flushNowFn ??= () => this.flushNow())
  }

  get flush(): Effect.Effect<void, ConnectionError> {
    return this.flushEffect ??= Effect.suspend(() => {
      this.flushScheduled = false
      this.output.blocked = false
      return this.out.length > 0 ? this.connection.write(this.out.take()) : Effect.void
    })
  }

  private get afterEncode(): Effect.Effect<void, ConnectionError> {
    return this.afterEncodeEffect ??= Effect.suspend(() => {
      if (this.output.blocked || this.out.length >= this.flushThreshold) return this.flush
      this.scheduleFlush()
      return Effect.void
    })
  }

  get unsafeSend(): (frame: Out) => FramingError | undefined {
    return this.unsafeSendFn ??= (frame) => this.encoder.encode(frame, this.out)
  }

  get send(): (frame: Out) => Effect.Effect<void, FramingError | ConnectionError> {
    return this.sendFn ??= (frame) =>
      Effect.suspend((): Effect.Effect<void, FramingError | ConnectionError> => {
        this.reclaim()
        const error = this.encoder.encode(frame, this.out)
        return error !== undefined ? Effect.fail(error) : this.afterEncode
      })
  }

  get sendAll(): (frames: Iterable<Out>) => Effect.Effect<void, FramingError | ConnectionError> {
    return this.sendAllFn ??= (frames) =>
      Effect.suspend((): Effect.Effect<void, FramingError | ConnectionError> => {
        this.reclaim()
        for (const frame of frames) {
          const error = this.encoder.encode(frame, this.out)
          if (error !== undefined) return Effect.zipRight(this.afterEncode, Effect.fail(error))
        }
        return this.afterEncode
      })
  }

  get readMany(): Effect.Effect<ReadonlyArray<In> | EOF, FramingError | ConnectionError> {
    if (this.readManyEffect !== undefined) return this.readManyEffect
    const readMany: Effect.Effect<ReadonlyArray<In> | EOF, FramingError | ConnectionError> = Effect.suspend(() => {
      if (this.batchIndex < this.batch.length) {
        const rest = this.batchIndex === 0 ? this.batch : this.batch.slice(this.batchIndex)
        this.batch = []
        this.batchIndex = 0
        return Effect.succeed(rest)
      }
      if (this.pendingEnd !== undefined) return this.pendingEnd
      // the budget is spent and this connection holds part of a message: read no more until it has room
      const read = this.holder !== undefined && this.budget!.mustWait(this.holder)
        ? Effect.zipRight(this.budget!.room(this.holder), this.connection.readMany)
        : this.connection.readMany
      return Effect.flatMap(read, (chunks) => {
        const frames: Array<In> = []
        let error: FramingError | undefined
        if (chunks === EOF) {
          error = this.decoder.finish(frames)
          this.pendingEnd = error !== undefined ? Effect.fail(error) : Effect.succeed(EOF)
          if (this.holder !== undefined) this.budget!.release(this.holder)
        } else {
          for (const chunk of chunks) {
            error = this.decoder.decode(chunk, frames)
            if (error !== undefined) break
          }
          error = this.charge(error)
          if (error !== undefined) {
            this.pendingEnd = Effect.fail(error)
            if (this.holder !== undefined) this.budget!.release(this.holder)
          }
        }
        if (frames.length > 0) return Effect.succeed(frames)
        return readMany
      })
    })
    return (this.readManyEffect = readMany)
  }

  get read(): Effect.Effect<In | EOF, FramingError | ConnectionError> {
    if (this.readEffect !== undefined) return this.readEffect
    const read: Effect.Effect<In | EOF, FramingError | ConnectionError> = Effect.suspend(() => {
      if (this.batchIndex < this.batch.length) {
        const frame = this.batch[this.batchIndex++]!
        if (this.batchIndex === this.batch.length) {
          this.batch = []
          this.batchIndex = 0
        }
        return Effect.succeed(frame)
      }
      return Effect.flatMap(this.readMany, (frames) => {
        if (frames === EOF) return Effect.succeed(EOF)
        this.batch = frames as Array<In>
        this.batchIndex = 0
        return read
      })
    })
    return (this.readEffect = read)
  }

  get pump(): Framed<In, Out>["pump"] {
    return this.pumpFn ??= (onFrames, options) => this.doPump(onFrames, options)
  }

  /** Hands `frames` (emptied) to `onFrames`, or in slices when there are more than `maxDeliver`. */
  private deliver<E, R>(
    onFrames: (frames: ReadonlyArray<In>) => Effect.Effect<void, E, R> | undefined | void,
    frames: Array<In>,
    error: FramingError | undefined
  ): Effect.Effect<void, E | FramingError | ConnectionError, R> | undefined {
    let next: Effect.Effect<void, E, R> | undefined | void
    if (frames.length > this.maxDeliver) {
      // a large batch goes over in slices, so that the replies of a peer that is not reading
      // stop piling up once the output is past the high-water mark (the rest waits for it)
      const all = frames.slice()
      frames.length = 0
      return this.deliverSlices(onFrames, all, 0, error, this.upgrades)
    }
    const upgrades = this.upgrades
    if (frames.length > 0) {
      try {
        next = onFrames(frames)
      } finally {
        frames.length = 0
      }
    }
    if (next !== undefined) {
      const after = Effect.zipRight(next, this.flush)
      if (error === undefined) return after
      // an error in bytes that came after an upgrade to TLS was in the discarded plain text
      return Effect.zipRight(after, Effect.suspend(() => this.upgrades !== upgrades ? Effect.void : Effect.fail(error)))
    }
    this.flushNow()
    return error !== undefined ? Effect.fail(error) : undefined
  }

  private deliverSlices<E, R>(
    onFrames: (frames: ReadonlyArray<In>) => Effect.Effect<void, E, R> | undefined | void,
    all: ReadonlyArray<In>,
    from: number,
    error: FramingError | undefined,
    /** The upgrades to TLS when the batch was decoded. */
    upgrades: number
  ): Effect.Effect<void, E | FramingError | ConnectionError, R> | undefined {
    const maxDeliver = this.maxDeliver
    while (from < all.length) {
      // an earlier slice upgraded the connection to TLS: the rest (and its error) came in plain text
      if (this.upgrades !== upgrades) {
        this.flushNow()
        return undefined
      }
      const end = Math.min(all.length, from + maxDeliver)
      const next = onFrames(all.slice(from, end))
      from = end
      const at = from
      if (next !== undefined) {
        return Effect.zipRight(
          Effect.zipRight(next, this.flush),
          Effect.suspend(() => this.deliverSlices(onFrames, all, at, error, upgrades) ?? Effect.void)
        )
      }
      if (at < all.length && this.out.length >= this.flushThreshold) {
        this.output.write()
        if (this.output.blocked) {
          this.output.blocked = false
          return Effect.zipRight(
            Effect.ignore(this.connection.awaitWritable),
            Effect.suspend(() => this.deliverSlices(onFrames, all, at, error, upgrades) ?? Effect.void)
          )
        }
      }
    }
    this.flushNow()
    return error !== undefined && this.upgrades === upgrades ? Effect.fail(error) : undefined
  }

  private doPump<E, R>(
    onFrames: (frames: ReadonlyArray<In>) => Effect.Effect<void, E, R> | undefined | void,
    options?: PumpOptions
  ): Effect.Effect<void, E | FramingError | ConnectionError, R> {
    const frames: Array<In> = []
    const lent = options?.borrow === true
    const body = this.connection.pump((chunks) => {
      this.reclaim()
      const decoder = this.decoder
      let error: FramingError | undefined
      for (let i = 0; i < chunks.length && error === undefined; i++) error = decoder.decode(chunks[i]!, frames, lent)
      error = this.charge(error)
      const delivered = this.deliver(onFrames, frames, error)
      if (error !== undefined || !this.budget?.mustWait(this.holder!)) return delivered
      // the budget is spent and this connection holds part of a message: read no more until it has room
      const room = this.budget.room(this.holder!)
      return delivered === undefined ? room : Effect.zipRight(delivered, room)
    }, options)
    const ran = Effect.zipRight(
      body,
      Effect.suspend(() => this.deliver(onFrames, frames, this.decoder.finish(frames)) ?? Effect.void)
    )
    // the connection's share goes back to the budget however the pump ends
    const holder = this.holder
    const run = holder === undefined ? ran : Effect.ensuring(ran, Effect.sync(() => this.budget!.release(holder)))
    return Effect.suspend(() => {
      // frames a pull-mode `read` decoded but has not returned yet come first, then the
      // end (or error) that `readMany` already met, else the live stream
      const held = this.batchIndex < this.batch.length ? this.batch.slice(this.batchIndex) : []
      this.batch = []
      this.batchIndex = 0
      const end = this.pendingEnd
      if (held.length === 0) return end === undefined ? run : Effect.asVoid(end)
      for (const f of held) frames.push(f)
      const first = this.deliver(onFrames, frames, undefined) ?? Effect.void
      return Effect.zipRight(first, end === undefined ? run : Effect.asVoid(end))
    })
  }

  get startTls(): (options: StartTlsOptions) => Effect.Effect<TlsInfo, TlsError | ConnectionError> {
    return (options) => this.doStartTls(options)
  }

  private doStartTls(options: StartTlsOptions): Effect.Effect<TlsInfo, TlsError | ConnectionError> {
    return Effect.suspend(() => {
      const items = this.batch.length - this.batchIndex
      const partial = this.decoder.buffered
      this.batch = []
      this.batchIndex = 0
      this.decoder = this.codec.decoder()
      this.upgrades++
      if (this.holder !== undefined) this.budget!.charge(this.holder, 0)
      // the last plain-text reply goes to the connection now, before reading stops
      this.flushScheduled = false
      this.output.blocked = false
      this.output.write()
      const upgrade = this.connection.startTls(options)
      if (items === 0 && partial === 0) return upgrade
      // logged after: nothing may come between the reply and the end of reading
      return Effect.ensuring(
        upgrade,
        Effect.logWarning(
          `STARTTLS: discarded ${items} item(s), and ${partial} byte(s) of an incomplete one, received in plain text after the upgrade command`
        )
      )
    })
  }

  get frames(): Stream.Stream<In, FramingError | ConnectionError> {
    return this.framesStream ??= Stream.repeatEffectChunkOption(
      Effect.matchEffect(this.readMany, {
        onFailure: (e) => Effect.fail(Option.some(e)),
        onSuccess: (fs) =>
          fs === EOF
            ? Effect.fail(Option.none())
            : Effect.succeed(Chunk.unsafeFromArray(fs as Array<In>))
      })
    )
  }
}
