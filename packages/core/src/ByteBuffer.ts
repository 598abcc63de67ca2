/**
 * A growable output buffer, in the spirit of tokio's `BytesMut`.
 *
 * Frame encoders append to one `ByteBuffer` per connection turn, and the connection then hands
 * `take()` to the socket as ONE write, however many frames were encoded.
 *
 * ```
 *   storage: [ written bytes ........ | spare capacity ....... ]
 *              0                length                capacity
 *   take() → the written bytes (never overwritten afterwards); length resets to 0
 * ```
 *
 * @example
 * ```ts
 * import * as ByteBuffer from "./ByteBuffer.ts"
 * const buf = ByteBuffer.make()
 * buf.writeUint16BE(5)
 * buf.writeBytes(new TextEncoder().encode("hello"))
 * socket.write(buf.take()) // [0x00 0x05 h e l l o]
 * ```
 *
 * Methods throw `RangeError` on programmer errors (negative numbers, values that do not fit the
 * requested width, non-integers); they never fail on data.
 *
 * @since 0.1.0
 */

const EMPTY = new Uint8Array(0)

/**
 * Storage allocation. A ByteBuffer only ever exposes bytes it has written
 * (`take`, `peek` and `truncate` never reach past `length`), so zero-filling
 * its storage is wasted work: where the runtime offers an uninitialised
 * allocator (`Buffer.allocUnsafe` on Node, Bun and Deno's Node globals) it is
 * used, else a plain `Uint8Array`. Either way the result is a plain
 * `Uint8Array` view, so `slice` keeps copying (a Buffer's `slice` would not).
 */
const allocate: (size: number) => Uint8Array = (() => {
  const B = (globalThis as { Buffer?: { allocUnsafe?: (n: number) => Uint8Array } }).Buffer
  const unsafe = B?.allocUnsafe
  if (typeof unsafe !== "function") return (size) => new Uint8Array(size)
  return (size) => {
    const b = unsafe.call(B, size)
    return new Uint8Array(b.buffer, b.byteOffset, size)
  }
})()
const TWO_32 = 4294967296

/**
 * Default capacity reserved by {@link make} when none is given: 4 KiB.
 * ```
 *   make() → [ 4096 bytes of spare capacity ]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_INITIAL_CAPACITY = 4096

/** `writeBytes` copies up to this many bytes with a loop instead of a view and `set`. */
const SMALL_COPY = 16

/**
 * Storage larger than this is not kept after `take()`/`clear()` (a connection that once sent an
 * 8 MiB frame should not pin 8 MiB forever): 64 KiB or the initial capacity, whichever is larger.
 * ```
 *   [ 8 MiB store ] --take()/clear()--> [ 64 KiB store ]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_RETAINED_CAPACITY = 65536

const checkUint = (value: number, max: number, what: string): void => {
  if (!(Number.isInteger(value) && value >= 0 && value <= max)) {
    throw new RangeError(`ByteBuffer.${what}: ${value} is not an integer in [0, ${max}]`)
  }
}

/**
 * A growable byte buffer. Create with {@link make}.
 *
 * ```
 *   writeUint16BE(0x0102) → [01 02]      writeUint16LE(0x0102) → [02 01]
 *   writeVarint(300)      → [AC 02]      (unsigned LEB128)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class ByteBuffer {
  private buf: Uint8Array
  private view: DataView | undefined
  private len = 0
  private readonly retained: number
  /** Capacity to allocate when the storage was handed over by `take()`. */
  private lazyCapacity: number

  /** Prefer {@link make}. */
  constructor(
    initialCapacity: number = DEFAULT_INITIAL_CAPACITY,
    maxRetainedCapacity: number = DEFAULT_MAX_RETAINED_CAPACITY
  ) {
    checkUint(initialCapacity, 0x7fffffff, "make")
    checkUint(maxRetainedCapacity, 0x7fffffff, "make")
    this.retained = Math.max(initialCapacity, maxRetainedCapacity)
    this.buf = initialCapacity === 0 ? EMPTY : allocate(initialCapacity)
    this.lazyCapacity = Math.max(initialCapacity, 64)
    this.view = undefined
  }

  /** Number of bytes written since the last `take()`/`clear()`. */
  get length(): number {
    return this.len
  }

  /** Bytes the buffer can hold without reallocating. */
  get capacity(): number {
    return this.buf.length
  }

  /** Ensure room for at least `n` more bytes (grows geometrically; existing bytes are kept). */
  reserve(n: number): void {
    const need = this.len + n
    if (need <= this.buf.length) return
    checkUint(n, Number.MAX_SAFE_INTEGER, "reserve")
    let cap = this.buf.length === 0 ? this.lazyCapacity : this.buf.length * 2
    while (cap < need) cap *= 2
    const next = allocate(cap)
    if (this.len > 0) next.set(this.buf.subarray(0, this.len))
    this.buf = next
    this.view = undefined
  }

  private dv(): DataView {
    return this.view ?? (this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength))
  }

  /** Append all of `bytes` (or `bytes[start, end)`). */
  writeBytes(bytes: Uint8Array, start = 0, end: number = bytes.length): void {
    const n = end - start
    if (n <= 0) return
    this.reserve(n)
    const buf = this.buf
    const at = this.len
    if (n <= SMALL_COPY) {
      // a byte loop beats building a view for `set` on small ranges (no allocation)
      for (let i = 0; i < n; i++) buf[at + i] = bytes[start + i]
    } else {
      buf.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), at)
    }
    this.len = at + n
  }

  /** Append one byte. `[v]` */
  writeUint8(value: number): void {
    checkUint(value, 0xff, "writeUint8")
    this.reserve(1)
    this.buf[this.len++] = value
  }

  /** Append a 16-bit unsigned integer, most significant byte first. `[hi lo]` */
  writeUint16BE(value: number): void {
    checkUint(value, 0xffff, "writeUint16BE")
    this.reserve(2)
    this.buf[this.len++] = value >>> 8
    this.buf[this.len++] = value & 0xff
  }

  /** Append a 16-bit unsigned integer, least significant byte first. `[lo hi]` */
  writeUint16LE(value: number): void {
    checkUint(value, 0xffff, "writeUint16LE")
    this.reserve(2)
    this.buf[this.len++] = value & 0xff
    this.buf[this.len++] = value >>> 8
  }

  /** Append a 24-bit unsigned integer, big endian. `[b2 b1 b0]` */
  writeUint24BE(value: number): void {
    checkUint(value, 0xffffff, "writeUint24BE")
    this.reserve(3)
    this.buf[this.len++] = value >>> 16
    this.buf[this.len++] = (value >>> 8) & 0xff
    this.buf[this.len++] = value & 0xff
  }

  /** Append a 24-bit unsigned integer, little endian. `[b0 b1 b2]` */
  writeUint24LE(value: number): void {
    checkUint(value, 0xffffff, "writeUint24LE")
    this.reserve(3)
    this.buf[this.len++] = value & 0xff
    this.buf[this.len++] = (value >>> 8) & 0xff
    this.buf[this.len++] = value >>> 16
  }

  /** Append a 32-bit unsigned integer, big endian. `[b3 b2 b1 b0]` */
  writeUint32BE(value: number): void {
    checkUint(value, 0xffffffff, "writeUint32BE")
    this.reserve(4)
    this.dv().setUint32(this.len, value, false)
    this.len += 4
  }

  /** Append a 32-bit unsigned integer, little endian. `[b0 b1 b2 b3]` */
  writeUint32LE(value: number): void {
    checkUint(value, 0xffffffff, "writeUint32LE")
    this.reserve(4)
    this.dv().setUint32(this.len, value, true)
    this.len += 4
  }

  /**
   * Append a 64-bit unsigned integer, big endian (network order). `value` is a `bigint` in
   * `[0, 2^64-1]` or a safe integer `number` (`<= 2^53-1`).
   *
   * ```
   *   writeUint64(1) → [00 00 00 00 00 00 00 01]
   * ```
   */
  writeUint64(value: bigint | number): void {
    this.writeUint64BE(value)
  }

  /** Append a 64-bit unsigned integer, big endian. See {@link ByteBuffer.writeUint64}. */
  writeUint64BE(value: bigint | number): void {
    this.write64(value, false, "writeUint64BE")
  }

  /** Append a 64-bit unsigned integer, little endian. `[b0 .. b7]` */
  writeUint64LE(value: bigint | number): void {
    this.write64(value, true, "writeUint64LE")
  }

  private write64(value: bigint | number, little: boolean, what: string): void {
    let hi: number
    let lo: number
    if (typeof value === "bigint") {
      if (value < 0n || value > 0xffffffffffffffffn) {
        throw new RangeError(`ByteBuffer.${what}: ${value} is not in [0, 2^64-1]`)
      }
      hi = Number(value >> 32n)
      lo = Number(value & 0xffffffffn)
    } else {
      checkUint(value, Number.MAX_SAFE_INTEGER, what)
      hi = Math.floor(value / TWO_32)
      lo = value >>> 0
    }
    this.reserve(8)
    const dv = this.dv()
    if (little) {
      dv.setUint32(this.len, lo, true)
      dv.setUint32(this.len + 4, hi, true)
    } else {
      dv.setUint32(this.len, hi, false)
      dv.setUint32(this.len + 4, lo, false)
    }
    this.len += 8
  }

  /**
   * Append an unsigned LEB128 varint (7 bits per byte, least significant group first, high bit =
   * "more bytes follow"; protobuf style). `value` is a safe integer `number` or a `bigint >= 0`.
   *
   * ```
   *   0 → [00]   127 → [7F]   128 → [80 01]   300 → [AC 02]   16384 → [80 80 01]
   * ```
   * @returns the number of bytes written
   */
  writeVarint(value: bigint | number): number {
    if (typeof value === "bigint") {
      if (value < 0n) throw new RangeError(`ByteBuffer.writeVarint: ${value} is negative`)
      if (value <= BigInt(Number.MAX_SAFE_INTEGER)) return this.writeVarint(Number(value))
      let n = 0
      while (value >= 0x80n) {
        this.reserve(1)
        this.buf[this.len++] = Number(value & 0x7fn) | 0x80
        value >>= 7n
        n++
      }
      this.reserve(1)
      this.buf[this.len++] = Number(value)
      return n + 1
    }
    checkUint(value, Number.MAX_SAFE_INTEGER, "writeVarint")
    this.reserve(8)
    const start = this.len
    // above 2^31 bitwise operators would truncate: peel groups off arithmetically
    while (value > 0x7fffffff) {
      this.buf[this.len++] = (value % 128) | 0x80
      value = Math.floor(value / 128)
    }
    while (value >= 0x80) {
      this.buf[this.len++] = (value & 0x7f) | 0x80
      value >>>= 7
    }
    this.buf[this.len++] = value
    return this.len - start
  }

  /**
   * Append the UTF-8 encoding of `text` (lone surrogates become U+FFFD, as with `TextEncoder`).
   * @returns the number of bytes written
   */
  writeUtf8(text: string): number {
    if (text.length === 0) return 0
    this.reserve(text.length * 3)
    const { written } = encoder.encodeInto(text, this.buf.subarray(this.len))
    this.len += written
    return written
  }

  /**
   * Return the bytes written so far and reset the length to 0. The returned array is never
   * written to again by this buffer: a mostly-full store is handed over (and a new one, sized
   * for a batch like this one up to 4× the retention limit, allocated lazily), otherwise the
   * bytes are copied out and the storage is reused.
   */
  take(): Uint8Array {
    const n = this.len
    if (n === 0) return EMPTY
    this.len = 0
    const cap = this.buf.length
    let out: Uint8Array
    if (n * 2 >= cap) {
      out = n === cap ? this.buf : this.buf.subarray(0, n)
      this.buf = EMPTY
      // the store went to the caller (nothing is pinned here), so the next lazy allocation can
      // fit a batch like this one at once instead of regrowing through copies
      this.lazyCapacity = Math.max(64, Math.min(batchCapacity(n), this.retained * LAZY_RETAINED_FACTOR))
    } else {
      out = this.buf.slice(0, n)
      if (cap > this.retained) {
        // too big to keep: released now, the next store is allocated when needed (a batch
        // like this one fits it)
        this.buf = EMPTY
        this.lazyCapacity = Math.max(64, Math.min(batchCapacity(n), this.retained))
      }
    }
    this.view = undefined
    return out
  }

  /** Discard the written bytes (storage above the retention limit is released). */
  clear(): void {
    const n = this.len
    this.len = 0
    if (this.buf.length > this.retained) {
      // released now; the next store is allocated when needed, sized for a batch like this one
      this.buf = EMPTY
      this.view = undefined
      this.lazyCapacity = Math.max(64, Math.min(batchCapacity(n), this.retained))
    }
  }

  /**
   * Discard the written bytes AND give up the storage without copying it: views from
   * {@link ByteBuffer.peek} stay valid and are never written again by this buffer (for a caller
   * that wrote `peek()` to a transport which still holds it). The next write allocates a store
   * sized for a batch like this one. Returns the storage given up, for {@link ByteBuffer.reuse}
   * once its holder is done with it.
   */
  release(): Uint8Array {
    const store = this.buf
    const n = this.len
    this.len = 0
    this.buf = EMPTY
    this.view = undefined
    this.lazyCapacity = Math.max(64, Math.min(batchCapacity(n), this.retained * LAZY_RETAINED_FACTOR))
    return store
  }

  /**
   * Take `store` (from {@link ByteBuffer.release}, no longer referenced anywhere else) back as
   * storage, when this buffer is empty and has none: no allocation for the next batch. Returns
   * whether it was taken.
   */
  reuse(store: Uint8Array): boolean {
    if (
      this.len !== 0 || this.buf.length !== 0 || store.length === 0 ||
      store.length > this.retained * LAZY_RETAINED_FACTOR
    ) {
      return false
    }
    this.buf = store
    this.view = undefined
    return true
  }

  /**
   * Truncate to `length` bytes (`length <= this.length`). Encoders use it to undo a partial write.
   */
  truncate(length: number): void {
    checkUint(length, this.len, "truncate")
    this.len = length
  }

  /**
   * Overwrite 4 already-written bytes at `offset` with `value`, big endian: fills in a length
   * prefix reserved before a body whose size was not known until it was written.
   * `offset + 4 <= length`.
   */
  setUint32BE(offset: number, value: number): void {
    checkUint(value, 0xffffffff, "setUint32BE")
    checkUint(offset, this.len - 4, "setUint32BE")
    const buf = this.buf
    buf[offset] = value >>> 24
    buf[offset + 1] = (value >>> 16) & 0xff
    buf[offset + 2] = (value >>> 8) & 0xff
    buf[offset + 3] = value & 0xff
  }

  /** A read-only look at the written bytes (a view: valid until the next write/take/clear). */
  peek(): Uint8Array {
    return this.buf.subarray(0, this.len)
  }
}

const encoder = new TextEncoder()

/**
 * After a hand-over, the next store is sized for a batch like the last one, up to this many
 * times the retention limit (256 KiB by default): a connection whose replies to one read just
 * pass 64 KiB allocates once per read instead of regrowing through copies.
 */
const LAZY_RETAINED_FACTOR = 4

/**
 * Room for a batch like one of `n` bytes: 1/8 more, rounded up to 1 KiB. Not the next power of
 * two: where allocation zero-fills (Deno), a 65,600-byte batch would cost a 128 KiB store.
 */
const batchCapacity = (n: number): number => (n + (n >>> 3) + 1023) & ~1023

/**
 * Create a {@link ByteBuffer} with `initialCapacity` bytes of storage (default 4 KiB), keeping
 * at most `maxRetainedCapacity` bytes of storage between batches (default
 * {@link DEFAULT_MAX_RETAINED_CAPACITY}, never less than `initialCapacity`).
 *
 * @example
 * ```ts
 * const buf = ByteBuffer.make(256)
 * buf.writeVarint(300) // [AC 02]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (initialCapacity?: number, maxRetainedCapacity?: number): ByteBuffer =>
  new ByteBuffer(initialCapacity, maxRetainedCapacity)
