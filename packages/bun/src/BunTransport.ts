/// <reference path="./bun-types.d.ts" />
/**
 * The wirekit transport on Bun's native sockets (`Bun.listen` / `Bun.connect`,
 * not `node:net`): TCP (IPv4/IPv6) and Unix sockets.
 *
 * Bun's `socket.write` takes what the OS accepts right now and buffers
 * nothing, so each connection keeps its own bounded write queue: bytes the OS
 * did not take wait there, in order, and are flushed from the `drain` handler;
 * `write` reports backpressure once the queue reaches `writeHighWaterMark`.
 * Read backpressure uses `socket.pause()` / `resume()`; half-close uses
 * `socket.shutdown()` (SHUT_WR) after the queue is flushed; abort uses
 * `socket.terminate()` (SO_LINGER 0: RST). Error codes map to the core's typed
 * reasons exactly as on Node.
 *
 * @example
 * ```ts
 * import { Server } from "@wirekit/core"
 * import { BunTransport } from "@wirekit/bun"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(Server.layer({ host: "127.0.0.1", port: 7000 }, handler)).pipe(
 *   Effect.provide(BunTransport.layer)
 * )
 * ```
 * @since 0.1.0
 */
import { Address, Connection, Driver, Transport } from "@wirekit/core"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"

type Socket = WirekitBun.Socket<BunDriver>
type SystemError = WirekitBun.SystemError

/** Queued chunks shorter than this are merged with the ones behind them when flushed. */
const COALESCE_BELOW = 16 * 1024
/** Upper bound of one merged flush write. */
const COALESCE_MAX = 64 * 1024
/** `writev` on an empty queue concatenates the chunks into one write up to this size. */
const WRITEV_CONCAT_MAX = 64 * 1024

const noop = () => {}

/**
 * One native socket, seen by the core as a {@link Driver.SocketDriver}: the
 * write queue, the half-close and the translation of Bun's events.
 */
class BunDriver implements Driver.SocketDriver {
  socket!: Socket
  events!: Driver.SocketEvents
  /** Set once the core connection exists (events wired); before that events are ignored. */
  attached = false
  /** While connecting: the callbacks of the pending `connect`. */
  dial: { readonly opened: (s: Socket) => void; readonly failed: (err: SystemError) => void } | undefined = undefined

  private readonly hwm: number
  private readonly autoEnd: boolean
  // write queue: q[qh] is the head, of which qo bytes are already written
  private q: Array<Uint8Array | undefined> = []
  private qh = 0
  private qo = 0
  private queued = 0
  /** `write` returned false: the core waits for `drain`. */
  private owesDrain = false
  /** An end (FIN) was requested: by the core, or by us for allowHalfOpen: false. */
  private ending = false
  /** Waiting for the queue to flush before the FIN. */
  private endDone: ((error?: Connection.ConnectionError) => void) | undefined = undefined
  /** Our FIN is sent. */
  private shut = false
  private readEnded = false
  private closed = false
  private remote: Address.Address | undefined = undefined

  constructor(options: Connection.ConnectionOptions | undefined) {
    this.hwm = options?.writeHighWaterMark ?? Connection.defaults.writeHighWaterMark
    this.autoEnd = !(options?.allowHalfOpen ?? Connection.defaults.allowHalfOpen)
  }

  /** Wires the core's events (called from `Driver.makeConnection`). */
  attach(events: Driver.SocketEvents, remote: Address.Address): this {
    this.events = events
    this.remote = remote
    this.attached = true
    return this
  }

  // ---- SocketDriver -----------------------------------------------------

  write(data: Uint8Array): boolean {
    if (this.ending) return this.writeAfterEnd()
    if (this.queued === 0) {
      const n = this.socket.write(data)
      if (n === data.length) return true
      if (n < 0) return this.writeOnClosed()
      this.push(data, n)
    } else {
      this.push(data, 0)
    }
    return this.belowMark()
  }

  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    if (this.ending) return this.writeAfterEnd()
    if (this.queued > 0) {
      for (const c of chunks) this.push(c, 0)
      return this.belowMark()
    }
    let total = 0
    for (const c of chunks) total += c.length
    if (total <= WRITEV_CONCAT_MAX) {
      // one syscall for the batch
      const buf = new Uint8Array(total)
      let off = 0
      for (const c of chunks) {
        buf.set(c, off)
        off += c.length
      }
      return this.write(buf)
    }
    let i = 0
    while (i < chunks.length) {
      const c = chunks[i++]!
      const n = this.socket.write(c)
      if (n === c.length) continue
      if (n < 0) return this.writeOnClosed()
      this.push(c, n)
      break
    }
    while (i < chunks.length) this.push(chunks[i++]!, 0)
    return this.belowMark()
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  end(done: (error?: Connection.ConnectionError) => void): void {
    if (this.closed) return done(this.endError(undefined))
    if (this.shut) return done()
    this.ending = true
    if (this.queued === 0) {
      this.shutdown()
      return done()
    }
    const prev = this.endDone
    this.endDone = prev === undefined ? done : (e) => {
      prev(e)
      done(e)
    }
  }

  destroy(): void {
    // flushes nothing more (the core destroys after end, or after a failure) and
    // closes the descriptor; Bun runs the close handler synchronously
    if (!this.closed) this.socket.end()
  }

  reset(): void {
    if (this.closed) return
    this.clearQueue()
    this.socket.terminate()
  }

  writeBuffered(): number {
    return this.queued
  }

  // ---- Bun events ---------------------------------------------------------

  /** The socket is writable again: flush the queue, then report drain / finish a pending end. */
  flush(): void {
    if (this.closed || !this.attached) return
    const q = this.q
    while (this.qh < q.length) {
      if (q[this.qh]!.length - this.qo < COALESCE_BELOW && this.qh + 1 < q.length) this.coalesce()
      const head = q[this.qh]!
      const len = head.length - this.qo
      const n = this.socket.write(head, this.qo, len)
      if (n < 0) return // closed: the close handler reports it
      this.queued -= n
      if (n < len) {
        this.qo += n
        break
      }
      q[this.qh++] = undefined
      this.qo = 0
    }
    if (this.qh === q.length) this.clearQueue()
    if (this.queued === 0 && this.endDone !== undefined) {
      const done = this.endDone
      this.endDone = undefined
      this.shutdown()
      done()
    }
    if (this.owesDrain && (this.queued < this.hwm || this.queued === 0)) {
      this.owesDrain = false
      this.events.drain()
    }
  }

  onEnd(): void {
    if (this.readEnded || !this.attached) return
    this.readEnded = true
    this.events.readEnd()
    if (this.autoEnd && !this.ending && !this.closed) this.end(noop)
  }

  onError(err: SystemError): void {
    if (this.closed || !this.attached) return
    this.events.error(Connection.reasonOf(err.code), err.code, err)
  }

  onClose(err: SystemError | undefined): void {
    if (this.closed || !this.attached) return
    this.closed = true
    this.clearQueue()
    const events = this.events
    if (err !== undefined) {
      events.error(Connection.reasonOf(err.code), err.code, err)
    } else if (!this.readEnded) {
      // after our own shutdown() Bun reports the peer's FIN as a clean close, not as `end`
      this.readEnded = true
      events.readEnd()
    }
    const done = this.endDone
    if (done !== undefined) {
      this.endDone = undefined
      done(this.endError(err))
    }
    events.closedByRuntime()
  }

  // ---- internals ----------------------------------------------------------

  private push(data: Uint8Array, offset: number): void {
    if (data.length === offset) return
    if (this.queued === 0) this.qo = offset
    this.q.push(data)
    this.queued += data.length - offset
  }

  private belowMark(): boolean {
    if (this.queued < this.hwm) return true
    this.owesDrain = true
    return false
  }

  /** Merges the small head chunk with the chunks behind it (up to COALESCE_MAX) into one write. */
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

  private shutdown(): void {
    this.shut = true
    // no argument: shutdown(fd, SHUT_WR). `shutdown(true)` would be SHUT_RD in Bun 1.4.
    this.socket.shutdown()
  }

  /** Only reachable after the automatic end of `allowHalfOpen: false`: the bytes are dropped, like Node. */
  private writeAfterEnd(): boolean {
    if (!this.closed) this.events.error("Closed", "ERR_STREAM_WRITE_AFTER_END")
    return true
  }

  /**
   * Bun's `write` returns -1 once the socket is gone, before its `close`
   * callback says why. We did not close it (the core never writes after its
   * own close): the peer reset it or the connection broke, a `Reset`.
   */
  private writeOnClosed(): boolean {
    if (!this.closed) this.events.error("Reset", "EPIPE")
    return true
  }

  private endError(err: SystemError | undefined): Connection.ConnectionError {
    return new Connection.ConnectionError({
      reason: err === undefined ? "Closed" : Connection.reasonOf(err.code),
      operation: "end",
      remoteAddress: this.remote,
      code: err?.code,
      cause: err
    })
  }
}

/** `ArrayBuffer.prototype.transfer` where the runtime has it (Bun 1.1+). */
type Transferable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }

// Handlers shared by every socket: `socket.data` is the socket's driver.
// The core gets a plain Uint8Array view (once per read): frames are views of chunks, and plain
// views are cheaper than Buffer views. Bun hands us a fresh buffer per read; when the consumer
// only borrowed it and nothing of it waits in our write queue (Bun took every byte written
// synchronously), it is released at once (`transfer(0)` detaches and frees it) instead of
// waiting for a GC: new reads then land in memory that is still in cache (in a process as big
// as Effect's the difference is large; bench/README.md has the figures).
const onData = (s: Socket, chunk: Uint8Array) => {
  const driver = s.data
  const ab = chunk.buffer as Transferable
  const lent = driver.events.borrows()
  driver.events.data(new Uint8Array(ab, chunk.byteOffset, chunk.length))
  if (lent && driver.writeBuffered() === 0 && chunk.byteOffset === 0 && chunk.length === ab.byteLength) {
    ab.transfer?.(0)
  }
}
const onDrain = (s: Socket) => s.data.flush()
const onEnd = (s: Socket) => s.data.onEnd()
const onClose = (s: Socket, err?: SystemError) => s.data?.onClose(err)
const onError = (s: Socket, err: SystemError) => s.data?.onError(err)

/** Handlers of client sockets: `data` is set by `Bun.connect` before the socket opens. */
const clientHandlers: WirekitBun.SocketHandler<BunDriver> = {
  open: (s) => s.data.dial?.opened(s),
  connectError: (s, err) => s.data?.dial?.failed(err),
  data: onData,
  drain: onDrain,
  end: onEnd,
  close: onClose,
  error: onError
}

const applyOptions = (s: Socket, options: Connection.ConnectionOptions | undefined) => {
  s.setNoDelay(options?.noDelay ?? Connection.defaults.noDelay)
  if (options?.keepAlive) s.setKeepAlive(true, options.keepAliveInitialDelay ?? 0)
}

/** Builds the core connection around an open socket. */
const wrap = (
  s: Socket,
  driver: BunDriver,
  options: Connection.ConnectionOptions | undefined,
  unixPath: string | undefined
): Connection.Connection => {
  driver.socket = s
  s.data = driver
  let localAddress: Address.Address
  let remoteAddress: Address.Address
  if (unixPath !== undefined) {
    localAddress = remoteAddress = { path: unixPath }
  } else {
    applyOptions(s, options)
    localAddress = { host: s.localAddress, port: s.localPort }
    remoteAddress = { host: s.remoteAddress, port: s.remotePort }
  }
  return Driver.makeConnection({ localAddress, remoteAddress, options }, (events) => driver.attach(events, remoteAddress))
}

const runtime = (): WirekitBun.Runtime | undefined => (globalThis as { readonly Bun?: WirekitBun.Runtime }).Bun

const notBun = Effect.dieMessage("@wirekit/bun needs the Bun runtime (globalThis.Bun is missing); use @wirekit/node on Node")

const errorCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * Listens with `Bun.listen`. `backlog` is not supported by Bun (its accept
 * backlog is fixed) and is ignored.
 */
export const listen = (
  address: Address.Address,
  options?: Transport.ListenOptions
): Effect.Effect<Transport.Listener, Transport.ListenError, Scope.Scope> =>
  Driver.scopedListener(
    Effect.suspend(() => {
      const bun = runtime()
      if (bun === undefined) return notBun
      const unixPath = Address.isUnix(address) ? address.path : undefined
      let handle: Driver.ListenerHandle | undefined
      const socket: WirekitBun.SocketHandler<BunDriver> = {
        open: (s) => {
          if (handle === undefined) return s.terminate()
          handle.offer(wrap(s, new BunDriver(options), options, unixPath))
        },
        data: onData,
        drain: onDrain,
        end: onEnd,
        close: onClose,
        error: onError
      }
      let native: WirekitBun.Listener
      try {
        native = unixPath !== undefined
          ? bun.listen<BunDriver>({ unix: unixPath, socket, allowHalfOpen: true })
          : bun.listen<BunDriver>({
            hostname: (address as Address.TcpAddress).host,
            port: (address as Address.TcpAddress).port,
            socket,
            allowHalfOpen: true,
            reusePort: options?.reusePort ?? false,
            ipv6Only: options?.ipv6Only ?? false
          })
      } catch (err) {
        const code = errorCode(err)
        return Effect.fail(new Transport.ListenError({ reason: Transport.listenReasonOf(code), address, code, cause: err }))
      }
      let bound: Address.Address
      if (unixPath !== undefined) {
        bound = { path: unixPath }
      } else {
        const name: { address?: string; port?: number } = {}
        native.getsockname(name)
        bound = { host: name.address ?? native.hostname, port: name.port ?? native.port }
      }
      handle = Driver.makeListener({
        address: bound,
        acceptQueue: options?.acceptQueue,
        // open connections stay open; new ones are refused
        close: () => native.stop(false)
      })
      return Effect.succeed(handle)
    })
  )

/**
 * Connects with `Bun.connect`. The connect timeout is ours: Bun cannot cancel
 * a pending connect, so after a timeout (or an interrupt) the attempt is
 * abandoned and, if it still succeeds later, reset at once.
 */
export const connect = (
  address: Address.Address,
  options?: Transport.ConnectOptions
): Effect.Effect<Connection.Connection, Transport.ConnectError, Scope.Scope> =>
  Driver.scopedConnection(
    Effect.suspend(() => {
      const bun = runtime()
      if (bun === undefined) return notBun
      return Effect.async<Connection.Connection, Transport.ConnectError>((resume) => {
        const timeout = options?.timeout ?? Transport.defaultConnectTimeout
        const unixPath = Address.isUnix(address) ? address.path : undefined
        const driver = new BunDriver(options)
        let settled = false
        const fail = (err: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          driver.dial = undefined
          const code = errorCode(err)
          resume(Effect.fail(new Transport.ConnectError({ reason: Transport.connectReasonOf(code), address, code, cause: err })))
        }
        const timer = setTimeout(() => {
          if (settled) return
          settled = true
          resume(Effect.fail(new Transport.ConnectError({ reason: "TimedOut", address, timeout, code: "ETIMEDOUT" })))
        }, timeout)
        driver.dial = {
          opened: (s) => {
            driver.dial = undefined
            // timed out or interrupted meanwhile: nobody wants this socket
            if (settled) return s.terminate()
            settled = true
            clearTimeout(timer)
            resume(Effect.succeed(wrap(s, driver, options, unixPath)))
          },
          failed: fail
        }
        try {
          const pending = unixPath !== undefined
            ? bun.connect<BunDriver>({ unix: unixPath, socket: clientHandlers, data: driver, allowHalfOpen: true })
            : bun.connect<BunDriver>({
              hostname: (address as Address.TcpAddress).host,
              port: (address as Address.TcpAddress).port,
              socket: clientHandlers,
              data: driver,
              allowHalfOpen: true
            })
          // the handlers settle first; this also catches failures without a connectError call
          pending.then(undefined, fail)
        } catch (err) {
          fail(err)
        }
        return Effect.sync(() => {
          if (settled) return
          settled = true
          clearTimeout(timer)
        })
      })
    })
  )

/** The Bun transport service. */
export const transport: Transport.TransportService = { name: "bun", listen, connect }

/** Provides {@link Transport.Transport} on Bun's native sockets. */
export const layer: Layer.Layer<Transport.Transport> = Layer.succeed(Transport.Transport, transport)
