import type * as ByteBuffer from "../../ByteBuffer.ts"
import type { Codec, Decoder, Encoder } from "../../Codec.ts"
import type { Connection } from "../../Connection.ts"
import { Output } from "../output.ts"

/**
 * The output side of a protocol connection: codecs encode messages into
 * `out`, and everything encoded is written with ONE socket write, either when
 * the current read batch ends (`endBatch`) or, for messages encoded outside a
 * batch (handlers that complete later, pushes), at the end of the turn (a
 * microtask). It never waits: write backpressure is the connection's (a write
 * past the high-water mark pauses the reads of `pump`), and the protocol
 * engines bound what can be outstanding.
 */
export class Writer {
  private readonly output: Output
  /** Where codecs encode; call {@link sent} after encoding outside a batch. */
  readonly out: ByteBuffer.ByteBuffer
  private inBatch = false
  private scheduled = false
  /** `flush` for `queueMicrotask`, made when first needed. */
  private flushLater: (() => void) | undefined = undefined

  /** `beforeFlush`: appends what an encoder staged (see `ServerCodec.flush`); replaced with the codec (STARTTLS). */
  constructor(connection: Connection, public beforeFlush?: ((out: ByteBuffer.ByteBuffer) => void) | undefined) {
    this.output = new Output(connection)
    this.out = this.output.out
  }

  /** Something was encoded into `out`: outside a batch, write it at the end of the turn. */
  sent(): void {
    if (!this.inBatch && !this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.flushLater ??= () => this.flush())
    }
  }

  beginBatch(): void {
    this.inBatch = true
    // the store the transport kept last time is ours again once it is sent
    this.output.reclaim()
  }

  endBatch(): void {
    this.inBatch = false
    this.flush()
  }

  /** Writes whatever is buffered, now. */
  flush(): void {
    this.scheduled = false
    if (this.beforeFlush !== undefined) this.beforeFlush(this.out)
    this.output.write()
  }

  /** Set when the last write went past the high-water mark. */
  get blocked(): boolean {
    return this.output.blocked
  }
}

const noEncoder: Encoder<never> = { encode: () => undefined }

/**
 * The codec a protocol engine reads its connection with: the protocol's
 * decoder (or the one it uses now, for an engine that renews it), and no
 * encoder (its output goes through a {@link Writer}).
 */
export const inputCodec = <A>(name: string, decoder: Decoder<A> | (() => Decoder<A>)): Codec<A, never> => ({
  codec: name,
  decoder() {
    return typeof decoder === "function" ? decoder() : decoder
  },
  encoder() {
    return noEncoder
  }
})
