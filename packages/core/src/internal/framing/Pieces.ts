/**
 * The bytes of an incomplete frame whose length is known (length-prefixed and
 * fixed-length codecs), kept as the pieces they arrived in and joined once,
 * into an array of exactly the frame's size, when the frame is complete.
 *
 * ```
 *   chunk 1: [ .. | frame bytes ]     kept as a view (the chunk is owned and mostly frame)
 *   chunk 2: [ frame bytes ...... ]   kept as a view
 *   chunk 3: [ f ]                    copied into the small-piece buffer
 *   complete: [ frame ............ ]  one allocation of the frame's size, one copy
 * ```
 *
 * Why not one growing array: doubling it copies every byte again at each step
 * and leaves each smaller array behind as garbage, which for many large
 * frames arriving at once (or a hostile peer holding them incomplete) is most
 * of the memory a server needs. Keeping the reads themselves costs nothing
 * more than the bytes.
 *
 * A view is kept only of a chunk the caller owns (not `lent`) and whose
 * memory is mostly this frame's (a small view would keep its whole backing
 * store alive): everything else is copied. {@link Pieces.held} counts the
 * backing stores of kept views, which is what an input budget must count.
 *
 * @internal
 */

/** Views shorter than this are copied (keeping many tiny views costs more than copying them). */
const KEEP_MIN = 4096
/** The small-piece buffer grows up to this, then a new one starts. */
const SMALL_MAX = 65536

const EMPTY = new Uint8Array(0)

export class Pieces {
  /** Complete pieces, in order. */
  private parts: Array<Uint8Array> = []
  /** The piece being filled with copies of small pieces: bytes `[0, smallLength)`. */
  private small: Uint8Array = EMPTY
  private smallLength = 0
  /** Frame bytes held. */
  length = 0
  /**
   * Memory held for them: copied bytes, and the whole backing store of each
   * kept view (the copy buffer's spare room, at most its used size or 256
   * bytes, is not counted).
   */
  held = 0

  /**
   * Append `src[start, end)`, at most `cap - length` bytes of which are still
   * to come (`cap` bounds the copy buffer).
   */
  append(src: Uint8Array, start: number, end: number, cap: number, lent: boolean): void {
    const n = end - start
    if (n <= 0) return
    const backing = src.buffer.byteLength
    if (!lent && n >= KEEP_MIN && n * 2 >= backing) {
      this.sealSmall()
      this.parts.push(start === 0 && end === src.length ? src : src.subarray(start, end))
      this.length += n
      this.held += backing
      return
    }
    if (this.smallLength + n > this.small.length) {
      this.sealSmall()
      const rest = cap - this.length
      let size = Math.min(Math.max(256, this.small.length * 2, n), SMALL_MAX)
      if (size < n) size = n
      if (size > rest) size = Math.max(rest, n)
      this.small = new Uint8Array(size)
    }
    this.small.set(src.subarray(start, end), this.smallLength)
    this.smallLength += n
    this.length += n
    this.held += n
  }

  /** The held bytes as one array of their own, then forget them. */
  take(): Uint8Array {
    this.sealSmall()
    const parts = this.parts
    let out: Uint8Array
    if (parts.length === 1 && parts[0]!.length === this.length) {
      out = parts[0]!
    } else {
      out = new Uint8Array(this.length)
      let at = 0
      for (let i = 0; i < parts.length; i++) {
        out.set(parts[i]!, at)
        at += parts[i]!.length
      }
    }
    this.reset()
    return out
  }

  /** Forget the held bytes. */
  reset(): void {
    if (this.parts.length > 0) this.parts = []
    this.small = EMPTY
    this.smallLength = 0
    this.length = 0
    this.held = 0
  }

  /** The small-piece buffer, if it holds anything, becomes a piece. */
  private sealSmall(): void {
    if (this.smallLength === 0) return
    this.parts.push(this.smallLength === this.small.length ? this.small : this.small.subarray(0, this.smallLength))
    this.small = EMPTY
    this.smallLength = 0
  }
}
