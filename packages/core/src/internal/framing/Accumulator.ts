/**
 * Growable storage for the bytes of an incomplete frame (the part that arrived in earlier chunks).
 *
 * ```
 *   buf: [ held bytes ....... | spare ...... ]
 *          0            length          buf.length (<= cap given to append)
 * ```
 *
 * @internal
 */

const EMPTY = new Uint8Array(0)

/** Storage above this size is released once the frame it held is complete. */
const RETAIN_LIMIT = 65536

/** Held bytes of an incomplete frame. */
export class Accumulator {
  /** Backing store; bytes `[0, length)` are held. */
  buf: Uint8Array = EMPTY
  /** Number of held bytes. */
  length = 0

  /**
   * Append `src[start, end)`. Storage grows geometrically but never beyond `cap`
   * (`cap >= length + end - start` is the caller's promise): memory is committed as bytes arrive.
   */
  append(src: Uint8Array, start: number, end: number, cap: number = Number.MAX_SAFE_INTEGER): void {
    const n = end - start
    if (n <= 0) return
    const need = this.length + n
    if (need > this.buf.length) {
      let size = Math.max(256, this.buf.length * 2)
      if (size < need) size = need
      if (size > cap) size = cap
      const next = new Uint8Array(size)
      if (this.length > 0) next.set(this.buf.subarray(0, this.length))
      this.buf = next
    }
    this.buf.set(src.subarray(start, end), this.length)
    this.length = need
  }

  /** Keep only the last `n` held bytes. */
  keepLast(n: number): void {
    if (n >= this.length) return
    this.buf.copyWithin(0, this.length - n, this.length)
    this.length = n
  }

  /**
   * A fresh array with the first `frameLength` bytes of `held ++ src[0, ...)`, then forget the
   * held bytes. (`frameLength - length <= src.length` is the caller's promise.)
   */
  concatOut(src: Uint8Array, frameLength: number): Uint8Array {
    const out = new Uint8Array(frameLength)
    const fromHeld = Math.min(this.length, frameLength)
    if (fromHeld > 0) out.set(this.buf.subarray(0, fromHeld))
    if (frameLength > fromHeld) out.set(src.subarray(0, frameLength - fromHeld), fromHeld)
    this.reset()
    return out
  }

  /**
   * The held bytes as an array of their own (the store is handed over when exactly full, copied
   * otherwise), then forget them.
   */
  take(): Uint8Array {
    let out: Uint8Array
    if (this.length === this.buf.length) {
      out = this.buf
      this.buf = EMPTY
    } else {
      out = this.buf.slice(0, this.length)
    }
    this.reset()
    return out
  }

  /** Forget the held bytes; release large storage. */
  reset(): void {
    this.length = 0
    if (this.buf.length > RETAIN_LIMIT) this.buf = EMPTY
  }
}
