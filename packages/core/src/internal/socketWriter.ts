import type { Address } from "../Address.ts"
import type { ConnectionErrorReason } from "../Connection.ts"
import { ConnectionError, defaults, reasonOf } from "../Connection.ts"
import type { SocketEvents, SocketFailure, SocketWriter, SocketWriterOptions, WriteTarget } from "../Driver.ts"

/** Queued chunks shorter than this are merged with the ones behind them into one send. */
const COALESCE_BELOW = 16 * 1024
/** Upper bound of one merged send; also the size up to which `writev` on an idle socket concatenates. */
const COALESCE_MAX = 64 * 1024
/** Once this many sent chunks are behind the head (and they are at least half the array), the array is compacted. */
const COMPACT_AFTER = 1024

type EndCallback = (error?: ConnectionError) => void

const OPEN = 0
/** End requested: waiting for the queue to flush. */
const ENDING = 1
/** The FIN was handed to the runtime, which has not confirmed it yet. */
const SHUTTING = 2
/** The FIN is sent. */
const ENDED = 3

const noop = () => {}

const codeOf = (cause: unknown): string | undefined => {
  const code = typeof cause === "object" && cause !== null ? (cause as { readonly code?: unknown }).code : undefined
  return typeof code === "string" ? code : undefined
}

/**
 * The write side of a socket whose runtime does not buffer writes for us: a
 * queue of the chunks the runtime has not taken yet, in order, with the
 * high-water mark, drain signalling and a FIN sent only once the queue is
 * empty. Two kinds of runtimes are served by one queue:
 *
 * - synchronous ones (`send` returns how many bytes the OS took now): the rest
 *   waits here until the adapter calls `writable()`;
 * - asynchronous ones (`send` returns a promise): one send at a time, the next
 *   one started when it settles.
 *
 * The head chunk is the one being sent; `qo` bytes of it are already taken.
 * While an asynchronous send is in progress (`busy`) the head is the runtime's
 * and is never merged or moved; new chunks only go behind it.
 */
export class SocketWriterImpl implements SocketWriter {
  private q: Array<Uint8Array | undefined> = []
  private qh = 0
  private qo = 0
  private queued = 0
  /** Bytes of the asynchronous send in progress: the runtime has them, they no longer count against the mark. */
  private inFlight = 0
  private busy = false
  /** `write` returned false: the core waits for `drain`. */
  private owesDrain = false
  private endState = OPEN
  private endWaiters: Array<EndCallback> = []
  private closed = false
  private readonly hwm: number
  private readonly allowHalfOpen: boolean
  private readonly remoteAddress: Address | undefined
  written = 0

  constructor(
    private readonly target: WriteTarget,
    private readonly events: Pick<SocketEvents, "drain" | "error">,
    options: SocketWriterOptions | undefined
  ) {
    this.hwm = options?.writeHighWaterMark ?? defaults.writeHighWaterMark
    this.allowHalfOpen = options?.allowHalfOpen ?? defaults.allowHalfOpen
    this.remoteAddress = options?.remoteAddress
  }

  get ending(): boolean {
    return this.endState !== OPEN
  }

  get ended(): boolean {
    return this.endState === ENDED
  }

  // ---- writes -------------------------------------------------------------

  write(data: Uint8Array): boolean {
    // after a close the adapter (or the core) reports why; the bytes have nowhere to go
    if (this.closed) return true
    if (this.endState !== OPEN) return this.lateWrite()
    const len = data.length
    if (len === 0) return this.belowMark()
    if (this.queued > 0) {
      this.push(data, 0)
      return this.belowMark()
    }
    // nothing waits: hand it to the runtime at once, queue what it did not take
    const r = this.target.send(data, 0, len)
    if (typeof r === "number") {
      if (r === len) {
        this.written += len
        return true
      }
      if (r < 0) return this.gone()
      if (this.closed) return true
      this.written += r
      this.push(data, r)
    } else {
      this.push(data, 0)
      this.watch(r, len)
    }
    return this.belowMark()
  }

  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    if (this.closed) return true
    if (this.endState !== OPEN) return this.lateWrite()
    if (this.queued > 0) {
      for (const c of chunks) this.push(c, 0)
      return this.belowMark()
    }
    let total = 0
    for (const c of chunks) total += c.length
    if (chunks.length === 1 || total <= COALESCE_MAX) {
      // small batch: one send for all of it
      return this.write(chunks.length === 1 ? chunks[0]! : concat(chunks, total))
    }
    // large batch: no copy; send chunk after chunk until the runtime stops taking them
    let i = 0
    while (i < chunks.length) {
      const c = chunks[i++]!
      if (c.length === 0) continue
      const r = this.target.send(c, 0, c.length)
      if (typeof r === "number") {
        if (r === c.length) {
          this.written += r
          continue
        }
        if (r < 0) return this.gone()
        if (this.closed) return true
        this.written += r
        this.push(c, r)
      } else {
        this.push(c, 0)
        this.watch(r, c.length)
      }
      break
    }
    while (i < chunks.length) this.push(chunks[i++]!, 0)
    return this.belowMark()
  }

  writeBuffered(): number {
    return this.queued
  }

  writable(): void {
    if (this.closed || this.busy) return
    this.flush()
    this.checkDrain()
  }

  // ---- half-close ---------------------------------------------------------

  end(done: EndCallback): void {
    if (this.endState === ENDED) return done()
    if (this.closed) return done(this.endError(undefined))
    this.endWaiters.push(done)
    if (this.endState !== OPEN) return
    this.endState = ENDING
    // otherwise the FIN follows the last queued byte (see `flush`)
    if (this.queued === 0) this.shutdown()
  }

  peerEnded(): void {
    if (!this.allowHalfOpen && this.endState === OPEN && !this.closed) this.end(noop)
  }

  close(failure?: SocketFailure): void {
    if (this.closed) return
    this.closed = true
    this.clearQueue()
    this.inFlight = 0
    this.owesDrain = false
    const ws = this.endWaiters
    if (ws.length === 0) return
    this.endWaiters = []
    const error = this.endError(failure)
    for (const w of ws) w(error)
  }

  // ---- internals ----------------------------------------------------------

  private push(data: Uint8Array, offset: number): void {
    if (data.length === offset) return
    if (this.queued === 0) this.qo = offset
    this.q.push(data)
    this.queued += data.length - offset
  }

  /**
   * Backpressure counts the bytes still waiting here, not an asynchronous send
   * in progress (the runtime has those): one large write then does not stall
   * the writer. An empty queue always accepts more, whatever the mark.
   */
  private belowMark(): boolean {
    if (this.queued - this.inFlight < this.hwm || this.queued === 0) return true
    this.owesDrain = true
    return false
  }

  private checkDrain(): void {
    if (this.owesDrain && !this.closed && (this.queued - this.inFlight < this.hwm || this.queued === 0)) {
      this.owesDrain = false
      this.events.drain()
    }
  }

  /** Sends from the head of the queue until the runtime stops taking bytes; then the FIN if one is due. */
  private flush(): void {
    while (this.qh < this.q.length) {
      if (this.q[this.qh]!.length - this.qo < COALESCE_BELOW && this.qh + 1 < this.q.length) this.coalesce()
      const head = this.q[this.qh]!
      const len = head.length - this.qo
      const r = this.target.send(head, this.qo, len)
      if (typeof r !== "number") return this.watch(r, len)
      // a negative count: the socket is gone, and its close will say why
      if (r < 0 || this.closed) return
      this.advance(r)
      if (r < len) return
    }
    if (this.endState === ENDING) this.shutdown()
  }

  /** The head has `n` more bytes taken by the runtime. */
  private advance(n: number): void {
    const len = this.q[this.qh]!.length - this.qo
    if (n > len) n = len
    this.written += n
    this.queued -= n
    if (n < len) {
      this.qo += n
      return
    }
    this.q[this.qh++] = undefined
    this.qo = 0
    if (this.qh === this.q.length) {
      // flushed: hold no reference to any chunk
      this.clearQueue()
    } else if (this.qh >= COMPACT_AFTER && this.qh * 2 >= this.q.length) {
      this.q = this.q.slice(this.qh)
      this.qh = 0
    }
  }

  /** Merges the small head chunk with the chunks behind it (up to COALESCE_MAX bytes) into one send. */
  private coalesce(): void {
    const q = this.q
    let end = this.qh
    let total = 0
    while (end < q.length) {
      const len = q[end]!.length - (end === this.qh ? this.qo : 0)
      if (end > this.qh && total + len > COALESCE_MAX) break
      total += len
      end++
    }
    if (end - this.qh < 2) return
    const merged = new Uint8Array(total)
    let off = 0
    for (let i = this.qh; i < end; i++) {
      const c = q[i]!
      const from = i === this.qh ? this.qo : 0
      merged.set(from === 0 ? c : c.subarray(from), off)
      off += c.length - from
      q[i] = undefined
    }
    this.qh = end - 1
    this.qo = 0
    q[this.qh] = merged
  }

  private clearQueue(): void {
    this.q = []
    this.qh = 0
    this.qo = 0
    this.queued = 0
  }

  /** An asynchronous send of the head's `len` bytes is in progress. */
  private watch(op: PromiseLike<number>, len: number): void {
    this.busy = true
    this.inFlight = len
    op.then(this.sent, this.sendFailed)
  }

  private readonly sent = (n: number): void => {
    this.busy = false
    this.inFlight = 0
    if (this.closed) return
    if (!(n > 0)) {
      // a send that takes nothing will never take anything: the socket is unusable
      return this.fail(Object.assign(new Error("the runtime's write took no bytes"), { code: "EPIPE" }))
    }
    this.advance(n)
    this.checkDrain()
    if (!this.closed && !this.busy) this.flush()
  }

  private readonly sendFailed = (cause: unknown): void => {
    this.busy = false
    this.inFlight = 0
    if (!this.closed) this.fail(cause)
  }

  private shutdown(): void {
    this.endState = SHUTTING
    let r: void | PromiseLike<void>
    try {
      r = this.target.shutdown()
    } catch (cause) {
      return this.fail(cause)
    }
    if (r === undefined) return this.finishEnd()
    r.then(
      () => {
        if (!this.closed) this.finishEnd()
      },
      (cause) => {
        if (!this.closed) this.fail(cause)
      }
    )
  }

  private finishEnd(): void {
    this.endState = ENDED
    const ws = this.endWaiters
    this.endWaiters = []
    for (const w of ws) w()
    this.target.finished?.()
  }

  /** An asynchronous send or the FIN failed: the adapter reports it and releases the socket. */
  private fail(cause: unknown): void {
    if (this.target.failed !== undefined) return this.target.failed(cause)
    const code = codeOf(cause)
    const reason = reasonOf(code)
    this.events.error(reason, code, cause)
    this.close({ reason, code, cause })
  }

  /**
   * A write after our side ended without the core asking (allowHalfOpen:
   * false): the bytes are dropped and the error comes after the call, as on
   * Node, so no event reaches the core from inside its own write.
   */
  private lateWrite(): boolean {
    queueMicrotask(() => {
      if (!this.closed) this.events.error("Closed", "ERR_STREAM_WRITE_AFTER_END")
    })
    return true
  }

  /**
   * The runtime says the socket is gone before its close event says why. The
   * core never writes after its own close, so the peer reset it or the
   * connection broke: a `Reset`.
   */
  private gone(): boolean {
    this.events.error("Reset", "EPIPE")
    return true
  }

  private endError(failure: SocketFailure | undefined): ConnectionError {
    const reason: ConnectionErrorReason = failure === undefined ? "Closed" : failure.reason
    return new ConnectionError({
      reason,
      operation: "end",
      remoteAddress: this.remoteAddress,
      code: failure?.code,
      cause: failure?.cause
    })
  }
}

const concat = (chunks: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  const out = new Uint8Array(total)
  let off = 0
  for (const c of chunks) {
    out.set(c, off)
    off += c.length
  }
  return out
}

/** @internal */
export const makeSocketWriter = (
  target: WriteTarget,
  events: Pick<SocketEvents, "drain" | "error">,
  options?: SocketWriterOptions
): SocketWriter => new SocketWriterImpl(target, events, options)
