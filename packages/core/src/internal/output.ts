import * as ByteBuffer from "../ByteBuffer.ts"
import type { Connection } from "../Connection.ts"

/**
 * A connection's output buffer and its one memory policy, shared by `Framed`
 * and the protocol engines: encoders append to `out`; `write` hands
 * everything to the connection in one write. When the transport takes the
 * bytes at once (the usual case on Node and Bun) the same store is reused: no
 * allocation per batch and memory that stays in cache; when it keeps them
 * (Deno always, any runtime under backpressure) the store goes with them and
 * is taken back once the transport holds nothing (`reclaim`, before encoding).
 */
export class Output {
  /** Where encoders write. A batch of replies to one read may pass 64 KiB: keep up to 128 KiB. */
  readonly out = ByteBuffer.make(0, 128 * 1024)
  /** Set when the last write went past the high-water mark. */
  blocked = false
  /** The last store handed to a transport that had not sent it yet. */
  private sentStore: Uint8Array | undefined

  constructor(private readonly connection: Connection) {}

  /** Writes what is encoded, now (nothing if empty). */
  write(): void {
    const out = this.out
    if (out.length === 0) return
    this.blocked = !this.connection.unsafeWrite(out.peek())
    if (this.connection.unsafeWriteBuffered() === 0) out.clear()
    else this.sentStore = out.release()
  }

  /** Before encoding: once the transport holds nothing, the store it had is ours again. */
  reclaim(): void {
    if (this.sentStore !== undefined && this.out.length === 0 && this.connection.unsafeWriteBuffered() === 0) {
      this.out.reuse(this.sentStore)
      this.sentStore = undefined
    }
  }
}
