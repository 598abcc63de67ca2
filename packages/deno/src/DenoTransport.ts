/**
 * The wirekit transport on Deno's own sockets, `Deno.listen` and
 * `Deno.connect` (not the `node:net` compatibility layer): TCP (IPv4/IPv6) and
 * Unix sockets.
 *
 * Deno's connections are pull-based promises, so each connection runs
 * - a read pump: `conn.read` into a buffer (4 KiB to 64 KiB, adapting to the
 *   traffic), the filled part handed to the core (short reads are copied out so
 *   that the buffer can be reused), stopped while the core has paused it (read
 *   backpressure). When the consumer borrows (`pump(..., { borrow: true })`)
 *   the buffer is lent instead and reused once the writes made meanwhile are
 *   sent: no allocation and no copy per read;
 * - writes through the core's write queue (`Driver.makeSocketWriter`): one
 *   `conn.write` at a time, partial writes continued, small queued chunks
 *   coalesced into one write; `write` returns false once `writeHighWaterMark`
 *   bytes are queued and the core is told to go on (`drain`) when fewer are
 *   queued again;
 * - `end`: `conn.closeWrite()` (FIN) once the queue is flushed;
 * - `abort`: a real RST through FFI on Linux (see the README), then `close()`.
 *
 * @example
 * ```ts
 * import { Server } from "@wirekit/core"
 * import { DenoTransport } from "@wirekit/deno"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(Server.layer({ host: "127.0.0.1", port: 7000 }, handler)).pipe(
 *   Effect.provide(DenoTransport.layer)
 * )
 * ```
 * @since 0.1.0
 */
import { Connection, Driver, Transport } from "@wirekit/core"
import type { Address } from "@wirekit/core"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import type * as Deno from "./deno-types.d.ts"
import * as Reset from "./internal/reset.ts"

/** The Deno global, read when used (importing this module needs no Deno). */
const deno = (): Deno.DenoNamespace => (globalThis as unknown as { readonly Deno: Deno.DenoNamespace }).Deno

/**
 * Read buffer sizes. Deno's `conn.read` needs its buffer before data arrives,
 * so every idle connection holds one: the size adapts (doubles when a read
 * fills it, halves when reads use less than an eighth of it), from 16 KiB.
 */
const minReadSize = 4 * 1024
const initialReadSize = 16 * 1024
const maxReadSize = 64 * 1024
/**
 * Short reads of at most `smallRead` bytes are copied into a shared slab of
 * `slabSize` bytes (slabs are only ever appended to, never reused): one
 * allocation per many small chunks instead of one per chunk, which is what
 * dominates the cost of small reads on Deno. A chunk kept by a consumer keeps
 * its slab alive: at most 64 KiB, like a long read's own buffer.
 */
const smallRead = 4 * 1024
/** Read buffers a connection keeps for reuse when its consumer borrows (`pump(..., { borrow: true })`). */
const maxFree = 3
const slabSize = 64 * 1024
let slab = new Uint8Array(0)
let slabUsed = 0

/** A copy of `buf[0, n)` in the shared slab (n ≤ smallRead). */
const copySmall = (buf: Uint8Array, n: number): Uint8Array => {
  if (slabUsed + n > slab.length) {
    slab = new Uint8Array(slabSize)
    slabUsed = 0
  }
  const out = slab.subarray(slabUsed, slabUsed + n)
  out.set(buf.subarray(0, n))
  slabUsed += (n + 7) & ~7
  return out
}

const ignore = (): void => {}

// ---------------------------------------------------------------------------
// Error mapping
// ---------------------------------------------------------------------------

/**
 * The error code of a Deno error: its `code` (Deno's OS errors carry the errno
 * name, e.g. `ECONNRESET`), else one derived from its class name.
 */
export const errorCode = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const code = (error as { readonly code?: unknown }).code
  if (typeof code === "string" && code !== "") return code
  const name = (error as { readonly name?: unknown }).name
  switch (name) {
    case "ConnectionReset":
      return "ECONNRESET"
    case "BrokenPipe":
      return "EPIPE"
    case "ConnectionAborted":
      return "ECONNABORTED"
    case "ConnectionRefused":
      return "ECONNREFUSED"
    case "NotConnected":
      return "ENOTCONN"
    case "TimedOut":
      return "ETIMEDOUT"
    case "AddrInUse":
      return "EADDRINUSE"
    case "AddrNotAvailable":
      return "EADDRNOTAVAIL"
    case "PermissionDenied":
      return "EACCES"
    case "NotFound":
      return "ENOENT"
    case "NetworkUnreachable":
      return "ENETUNREACH"
    case "NotCapable":
      // a Deno permission (--allow-net, --allow-read...) is missing
      return "ERR_NOT_CAPABLE"
    case "BadResource":
      return "EBADF"
    case "Interrupted":
      return "EINTR"
    case "RangeError":
      return "ERR_SOCKET_BAD_PORT"
  }
  // a failed name lookup is a plain Error
  const message = (error as { readonly message?: unknown }).message
  if (typeof message === "string" && message.includes("failed to lookup address")) return "ENOTFOUND"
  return undefined
}

// ---------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------

type EndCallback = (error?: Connection.ConnectionError) => void

/**
 * One Deno connection driven for the core: read pump, release, and the write
 * side through a core {@link Driver.SocketWriter} (`conn.write` is its `send`).
 */
class DenoSocket implements Driver.SocketDriver, Driver.WriteTarget {
  // read side
  private paused = false
  private reading = false
  private readDone = false
  private readSize = initialReadSize
  /** Read buffers ready for reuse (at most `maxFree`). */
  private free: Array<Uint8Array> = []
  /** Buffers lent to a borrowing consumer, each reusable once `sent` reaches its mark. */
  private lent: Array<Uint8Array> = []
  private lentMarks: Array<number> = []
  // write side
  private readonly writer: Driver.SocketWriter
  /** The latest `conn.write`. */
  private writeOp: Promise<number> | undefined
  // lifecycle
  private released = false

  constructor(
    private readonly conn: Deno.Conn,
    private readonly events: Driver.SocketEvents,
    private readonly tcp: boolean,
    remoteAddress: Address.Address,
    options: Connection.ConnectionOptions | undefined
  ) {
    this.writer = Driver.makeSocketWriter(this, events, {
      remoteAddress,
      writeHighWaterMark: options?.writeHighWaterMark,
      allowHalfOpen: options?.allowHalfOpen
    })
  }

  start(): void {
    void this.pump()
  }

  // ---- reading ----------------------------------------------------------

  private async pump(): Promise<void> {
    let replyOp: Promise<number> | undefined
    this.reading = true
    try {
      while (!this.paused && !this.released) {
        // like a sequential read/write loop: when the last delivery started a write, let more
        // of the peer's bytes arrive while it completes and read them in one go (fewer, fuller
        // reads; twice the framed-echo throughput on Deno). Only that write: writes made
        // later by other fibers never hold reading up.
        if (replyOp !== undefined) {
          await replyOp.then(ignore, ignore)
          replyOp = undefined
          if (this.paused || this.released) break
        }
        if (this.lent.length > 0) this.reclaim()
        let buf = this.free.pop()
        if (buf === undefined || !this.fits(buf)) buf = new Uint8Array(this.readSize)
        const n = await this.conn.read(buf)
        if (this.released) return
        if (n === null) return this.onReadEnd()
        const size = buf.length
        if (n === size) this.readSize = Math.min(size * 2, maxReadSize)
        else if (n < size >>> 3) this.readSize = Math.max(size >>> 1, minReadSize)
        if (n > 0 && this.events.borrows()) {
          // lent: the consumer is done with it when `data` returns, except for its writes
          const before = this.writeOp
          this.events.data(buf.subarray(0, n))
          if (this.writeOp !== before) replyOp = this.writeOp
          this.giveBack(buf)
        } else {
          const before = this.writeOp
          if (n <= size >>> 1) {
            // a short read: the core gets a copy and the buffer is reused (unless resized)
            if (this.readSize === size) this.free.push(buf)
            if (n > 0) this.events.data(n <= smallRead ? copySmall(buf, n) : buf.slice(0, n))
          } else {
            // the core keeps this buffer: never reuse it
            this.events.data(buf.subarray(0, n))
          }
          if (this.writeOp !== before) replyOp = this.writeOp
        }
      }
    } catch (error) {
      if (!this.released) this.fail(error)
    } finally {
      this.reading = false
    }
  }

  /** A lent buffer comes back: reusable now, or once the writes queued so far are sent. */
  private giveBack(buf: Uint8Array): void {
    if (this.released || !this.fits(buf)) return
    const queued = this.writer.writeBuffered()
    if (queued === 0) {
      if (this.free.length < maxFree) this.free.push(buf)
    } else {
      this.lent.push(buf)
      this.lentMarks.push(this.writer.written + queued)
    }
  }

  /** Worth reusing at the current read size (a read may use a larger buffer than it needs). */
  private fits(buf: Uint8Array): boolean {
    return buf.length >= this.readSize && buf.length <= this.readSize * 2
  }

  /** Lent buffers whose writes are all sent become free again. */
  private reclaim(): void {
    const sent = this.writer.written
    let i = 0
    while (i < this.lent.length && this.lentMarks[i]! <= sent) {
      const buf = this.lent[i++]!
      if (this.free.length < maxFree && this.fits(buf)) this.free.push(buf)
    }
    if (i > 0) {
      this.lent.splice(0, i)
      this.lentMarks.splice(0, i)
    }
  }

  private onReadEnd(): void {
    this.readDone = true
    this.free = []
    this.lent = []
    this.lentMarks = []
    this.events.readEnd()
    this.writer.peerEnded()
    this.maybeRelease()
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    if (!this.reading && !this.readDone && !this.released) void this.pump()
  }

  // ---- writing ----------------------------------------------------------

  write(data: Uint8Array): boolean {
    return this.writer.write(data)
  }

  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    return this.writer.writev(chunks)
  }

  writeBuffered(): number {
    return this.writer.writeBuffered()
  }

  end(done: EndCallback): void {
    this.writer.end(done)
  }

  send(data: Uint8Array, offset: number, length: number): Promise<number> {
    let op: Promise<number>
    try {
      op = this.conn.write(offset === 0 && length === data.length ? data : data.subarray(offset, offset + length))
    } catch (error) {
      op = Promise.reject(error)
    }
    this.writeOp = op
    return op
  }

  shutdown(): Promise<void> {
    return this.conn.closeWrite()
  }

  /** The FIN is sent: release the socket if the peer's side is done too. */
  finished(): void {
    this.maybeRelease()
  }

  /** A write or the FIN failed. */
  failed(cause: unknown): void {
    if (!this.released) this.fail(cause)
  }

  // ---- release ----------------------------------------------------------

  /** Both directions are finished: release the socket (as node does). */
  private maybeRelease(): void {
    if (this.readDone && this.writer.ended) this.release()
  }

  /** An I/O error: report it, then release the socket. */
  private fail(cause: unknown): void {
    const code = errorCode(cause)
    const reason = Connection.reasonOf(code)
    this.events.error(reason, code, cause)
    this.writer.close({ reason, code, cause })
    this.release()
  }

  destroy(): void {
    this.release()
  }

  reset(): void {
    if (this.released) return
    if (this.tcp) Reset.sendReset(deno(), this.conn as Deno.TcpConn)
    this.release()
  }

  private release(): void {
    if (this.released) return
    this.released = true
    this.writer.close()
    this.free = []
    this.lent = []
    this.lentMarks = []
    try {
      this.conn.close()
    } catch {
      // already closed
    }
    // pending reads and writes now reject (ignored: released); tell the core afterwards
    queueMicrotask(() => this.events.closedByRuntime())
  }
}

const netAddress = (a: Deno.Addr): Address.Address =>
  "hostname" in a ? { host: a.hostname, port: a.port } : { path: a.path ?? "" }

/** Wraps an open Deno connection as a core connection and starts reading. */
const wrap = (
  conn: Deno.Conn,
  options: Connection.ConnectionOptions | undefined,
  unixPath: string | undefined
): Connection.Connection => {
  const tcp = unixPath === undefined
  let local: Address.Address
  let remote: Address.Address
  if (tcp) {
    local = netAddress(conn.localAddr)
    remote = netAddress(conn.remoteAddr)
    try {
      const t = conn as Deno.TcpConn
      t.setNoDelay(options?.noDelay ?? Connection.defaults.noDelay)
      if (options?.keepAlive) t.setKeepAlive(true)
    } catch {
      // the socket is already gone: the first read reports it
    }
  } else {
    // the client side of a Unix connection is unnamed: both ends are named by the path (as on node)
    local = { path: unixPath }
    remote = { path: unixPath }
  }
  let socket: DenoSocket | undefined
  const c = Driver.makeConnection({ localAddress: local, remoteAddress: remote, options }, (events) =>
    (socket = new DenoSocket(conn, events, tcp, remote, options)))
  socket!.start()
  return c
}

// ---------------------------------------------------------------------------
// Listen
// ---------------------------------------------------------------------------

const isUnix = (a: Address.Address): a is Address.UnixAddress => "path" in a

const isWildcardV6 = (host: string) => {
  const b = Reset.ipBytes(host)
  return b !== undefined && b.length === 16 && b.every((x) => x === 0)
}

/** True when Deno runs with `--unstable-net` (needed for `reusePort`). */
const unstableNet = () => typeof deno().listenDatagram === "function"

const unsupported = (address: Address.Address, message: string) =>
  new Transport.ListenError({ reason: "Other", address, code: "ENOTSUP", cause: new Error(message) })

/** Accept errors that mean the process is out of a resource: only these deserve a back-off. */
const exhaustion = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"])

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Listens with `Deno.listen`. */
export const listen = (
  address: Address.Address,
  options?: Transport.ListenOptions
): Effect.Effect<Transport.Listener, Transport.ListenError, Scope.Scope> =>
  Driver.scopedListener(
    Effect.suspend(() => {
      const D = deno()
      const unixPath = isUnix(address) ? address.path : undefined
      if (unixPath === undefined) {
        const tcp = address as Address.TcpAddress
        if (options?.reusePort && !unstableNet()) {
          return Effect.fail(unsupported(address, "reusePort on Deno needs the --unstable-net flag"))
        }
        if (options?.ipv6Only && isWildcardV6(tcp.host)) {
          return Effect.fail(unsupported(address, "Deno.listen has no IPV6_V6ONLY option: it listens dual-stack on ::"))
        }
      }
      let native: Deno.Listener
      try {
        native = unixPath !== undefined
          ? D.listen({ transport: "unix", path: unixPath })
          : D.listen({
            transport: "tcp",
            hostname: (address as Address.TcpAddress).host,
            port: (address as Address.TcpAddress).port,
            tcpBacklog: options?.backlog ?? Transport.defaultBacklog,
            ...(options?.reusePort ? { reusePort: true } : {})
          })
      } catch (error) {
        const code = errorCode(error)
        return Effect.fail(new Transport.ListenError({ reason: Transport.listenReasonOf(code), address, code, cause: error }))
      }
      const bound: Address.Address = unixPath !== undefined ? { path: unixPath } : netAddress(native.addr)
      let closed = false
      const handle = Driver.makeListener({
        address: bound,
        acceptQueue: options?.acceptQueue,
        close: () => {
          closed = true
          try {
            native.close()
          } catch {
            // already closed
          }
        }
      })
      const acceptLoop = async () => {
        let backoff = 0
        let failures = 0
        while (!closed) {
          let conn: Deno.Conn
          try {
            conn = await native.accept()
          } catch (error) {
            const code = errorCode(error)
            if (closed || code === "EBADF") return
            if (code !== undefined && exhaustion.has(code)) {
              // out of descriptors or memory: accepting again at once would fail again
              backoff = Math.min(backoff === 0 ? 10 : backoff * 2, 1000)
              await sleep(backoff)
            } else if (++failures % 64 === 0) {
              // a connection the peer reset or aborted before accept (ENOTCONN,
              // ECONNABORTED...) is ordinary traffic: go on at once, but let the
              // event loop turn now and then so a flood of them cannot starve it
              await sleep(0)
            }
            continue
          }
          backoff = 0
          failures = 0
          if (closed) {
            conn.close()
            return
          }
          handle.offer(wrap(conn, options, unixPath))
        }
      }
      const loopDone = acceptLoop()
      // Deno releases a listening socket only once its pending accept has
      // rejected: wait for that, so that when `close` completes new
      // connections are refused (not accepted into the dying backlog and reset).
      const awaitRelease = Effect.promise(() => loopDone).pipe(Effect.timeout("1 second"), Effect.ignore)
      const listener: Transport.Listener = {
        address: handle.listener.address,
        accept: handle.listener.accept,
        rejected: handle.listener.rejected,
        close: Effect.zipRight(handle.listener.close, awaitRelease)
      }
      return Effect.succeed<Driver.ListenerHandle>({ ...handle, listener })
    })
  )

// ---------------------------------------------------------------------------
// Connect
// ---------------------------------------------------------------------------

/** Connects with `Deno.connect`. */
export const connect = (
  address: Address.Address,
  options?: Transport.ConnectOptions
): Effect.Effect<Connection.Connection, Transport.ConnectError, Scope.Scope> =>
  Driver.scopedConnection(
    Driver.connectWithTimeout<Connection.Connection>(address, { timeout: options?.timeout, errorCode }, (attempt) => {
      const unixPath = isUnix(address) ? address.path : undefined
      // TCP connects can be aborted; a Unix connect cannot (it is immediate unless the backlog is full)
      const abort = unixPath === undefined ? new AbortController() : undefined
      const pending = unixPath !== undefined
        ? deno().connect({ transport: "unix", path: unixPath })
        : deno().connect({
          transport: "tcp",
          hostname: (address as Address.TcpAddress).host,
          port: (address as Address.TcpAddress).port,
          signal: abort!.signal
        })
      pending.then(
        (conn) => {
          // timed out or interrupted meanwhile: nobody wants this connection
          if (!attempt.succeed(() => wrap(conn, options, unixPath))) conn.close()
        },
        attempt.fail
      )
      return abort === undefined ? undefined : () => abort.abort()
    })
  )

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * Whether `abort` sends a real TCP RST in this process: on Linux with
 * `--allow-ffi` (see the README). Otherwise `abort` closes the socket and the
 * peer sees EOF.
 */
export const canReset = (): boolean => Reset.available(deno())

/** The Deno transport service. */
export const transport: Transport.TransportService = { name: "deno", listen, connect }

/** Provides {@link Transport.Transport} on `Deno.listen` / `Deno.connect`. */
export const layer: Layer.Layer<Transport.Transport> = Layer.succeed(Transport.Transport, transport)
