import * as ByteBuffer from "../../ByteBuffer.ts"
import type { Codec, Decoder, Encoder } from "../../Codec.ts"
import type { Connection } from "../../Connection.ts"

const SLAB_SIZE = 256 * 1024
const SMALL_WRITE = 16 * 1024
let slab = new Uint8Array(SLAB_SIZE)
let slabOffset = 0

/**
 * A copy of `bytes` in the current slab. Regions are never reused: the
 * runtime may keep a written view until the bytes are sent; a full slab is
 * replaced and collected once its views are gone.
 */
const slabCopy = (bytes: Uint8Array): Uint8Array => {
  const n = bytes.length
  if (slabOffset + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE)
    slabOffset = 0
  }
  const start = slabOffset
  slab.set(bytes, start)
  slabOffset = (start + n + 7) & ~7
  return slab.subarray(start, start + n)
}

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
  /** Where codecs encode; call {@link sent} after encoding outside a batch. */
  readonly out = ByteBuffer.make()
  private inBatch = false
  private scheduled = false
  /** Set when the last write went past the high-water mark. */
  blocked = false

  /** `beforeFlush`: appends what an encoder staged (see `ServerCodec.flush`). */
  constructor(private readonly connection: Connection, private readonly beforeFlush?: ((out: ByteBuffer.ByteBuffer) => void) | undefined) {}

  /** Something was encoded into `out`: outside a batch, write it at the end of the turn. */
  sent(): void {
    if (!this.inBatch && !this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.flush)
    }
  }

  beginBatch(): void {
    this.inBatch = true
  }

  endBatch(): void {
    this.inBatch = false
    this.flush()
  }

  /** Writes whatever is buffered, now. */
  readonly flush = (): void => {
    this.scheduled = false
    if (this.beforeFlush !== undefined) this.beforeFlush(this.out)
    const n = this.out.length
    if (n === 0) return
    let bytes: Uint8Array
    if (n <= SMALL_WRITE) {
      // small writes are carved out of a shared slab: allocating an ArrayBuffer per write costs
      // more than the whole encoding of a batch of small frames
      bytes = slabCopy(this.out.peek())
      this.out.clear()
    } else {
      bytes = this.out.take()
    }
    this.blocked = !this.connection.unsafeWrite(bytes)
  }
}

const noEncoder: Encoder<never> = { encode: () => undefined }

/**
 * The codec a protocol engine reads its connection with: the protocol's
 * decoder, and no encoder (its output goes through a {@link Writer}).
 */
export const inputCodec = <A>(name: string, decoder: Decoder<A>): Codec<A, never> => ({
  codec: name,
  decoder: () => decoder,
  encoder: () => noEncoder
})
