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
 * TLS: `listen(address, { tls })` and `connect(address, { tls })`, or
 * {@link layerTls}, whose listens and connects speak TLS by default. Servers
 * run on `Deno.listenTls` (SNI through Deno's certificate resolver), clients
 * on `Deno.startTls` over `Deno.connect`, or on `Deno.connectTls` when they
 * present a certificate; each handshake is run here under a deadline on the
 * Effect Clock. What Deno's TLS cannot do (mutual TLS on the server,
 * `minVersion: "TLSv1.3"`, encrypted keys, certificate reload, TLS over Unix
 * sockets) fails with reason `"Tls"` and code `ENOTSUP`; see the README.
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
import { Address, Connection, Driver, Tls, Transport } from "@wirekit/core"
import { Duration, Effect, Layer, Runtime } from "effect"
import type { Scope } from "effect"
import type * as Deno from "./deno-types.d.ts"
import * as Reset from "./internal/reset.ts"
import * as TlsInternal from "./internal/tls.ts"

/** The Deno global, read when used (importing this module needs no Deno). */
const deno = (): Deno.DenoNamespace => (globalThis as unknown as { readonly Deno: Deno.DenoNamespace }).Deno

/**
 * Read buffer sizes. Deno's `conn.read` needs its buffer before data arrives,
 * so every idle connection holds one: the size adapts (doubles when a read
 * fills it, halves when reads use less than an eighth of it), from the
 * smallest, which is what a connection that waits for its peer should hold.
 */
const minReadSize = 4 * 1024
const initialReadSize = minReadSize
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
 *
 * @since 0.1.0
 * @category errors
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
    private readonly remoteAddress: Address.Address,
    options: Connection.ConnectionOptions | undefined,
    /** The side of a TLS connection (its errors carry a TlsError); undefined for plain TCP or Unix. */
    private readonly tlsSide: "client" | "server" | undefined
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
      if (this.released) return
      // a peer that closed without close_notify ends the stream, as a FIN does on plain TCP (and as on node)
      if (this.tlsSide !== undefined && TlsInternal.isUnexpectedEof(error)) return this.onReadEnd()
      this.fail(error)
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
    let code = errorCode(cause)
    let reported = cause
    if (this.tlsSide !== undefined && TlsInternal.isTlsFailure(cause)) {
      // an alert after the handshake (TLS 1.3: a server refusing our certificate) carries a TlsError
      const error = TlsInternal.tlsError(cause, this.tlsSide, this.remoteAddress, errorCode)
      code = error.code
      reported = error
    }
    const reason = Connection.reasonOf(code)
    this.events.error(reason, code, reported)
    this.writer.close({ reason, code, cause: reported })
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

/** Sets TCP_NODELAY and SO_KEEPALIVE on a TCP connection (a TLS one has no such methods: see `connectTls`). */
const setSocketOptions = (conn: Deno.Conn, options: Connection.ConnectionOptions | undefined) => {
  const t = conn as Partial<Deno.TcpConn>
  if (typeof t.setNoDelay !== "function") return
  try {
    t.setNoDelay(options?.noDelay ?? Connection.defaults.noDelay)
    if (options?.keepAlive) t.setKeepAlive!(true)
  } catch {
    // the socket is already gone: the first read reports it
  }
}

/** What a TLS connection adds: its session, and which side we are. */
interface TlsSide {
  readonly info: Tls.TlsInfo
  readonly side: "client" | "server"
}

/** Wraps an open Deno connection as a core connection and starts reading. */
const wrap = (
  conn: Deno.Conn,
  options: Connection.ConnectionOptions | undefined,
  unixPath: string | undefined,
  tls?: TlsSide
): Connection.Connection => {
  const tcp = unixPath === undefined
  let local: Address.Address
  let remote: Address.Address
  if (tcp) {
    local = netAddress(conn.localAddr)
    remote = netAddress(conn.remoteAddr)
    setSocketOptions(conn, options)
  } else {
    // the client side of a Unix connection is unnamed: both ends are named by the path (as on node)
    local = { path: unixPath }
    remote = { path: unixPath }
  }
  let socket: DenoSocket | undefined
  const c = Driver.makeConnection(
    { localAddress: local, remoteAddress: remote, options, tls: tls?.info },
    (events) => (socket = new DenoSocket(conn, events, tcp, remote, options, tls?.side))
  )
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

const closeQuietly = (c: { close(): void }) => {
  try {
    c.close()
  } catch {
    // already closed
  }
}

/** The listen options Deno cannot honour on TCP, as a ListenError. */
const tcpListenRefusal = (address: Address.TcpAddress, options: Transport.ListenOptions | undefined) => {
  if (options?.reusePort && !unstableNet()) {
    return unsupported(address, "reusePort on Deno needs the --unstable-net flag")
  }
  if (options?.ipv6Only && isWildcardV6(address.host)) {
    return unsupported(address, "Deno.listen has no IPV6_V6ONLY option: it listens dual-stack on ::")
  }
  return undefined
}

const listenFailure = (address: Address.Address, error: unknown) => {
  const code = errorCode(error)
  return new Transport.ListenError({ reason: Transport.listenReasonOf(code), address, code, cause: error })
}

/**
 * Accepts until the listener is closed, handing each connection to `onConn`.
 * Resolves once Deno has released the listening socket (its pending accept rejected).
 */
const acceptLoop = async <C extends Deno.Conn>(
  native: Deno.Listener<C>,
  isClosed: () => boolean,
  onConn: (conn: C) => void
): Promise<void> => {
  let backoff = 0
  let failures = 0
  while (!isClosed()) {
    let conn: C
    try {
      conn = await native.accept()
    } catch (error) {
      const code = errorCode(error)
      if (isClosed() || code === "EBADF") return
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
    if (isClosed()) {
      closeQuietly(conn)
      return
    }
    onConn(conn)
  }
}

/**
 * A listener whose `close` also waits for Deno to release the listening
 * socket: Deno does so only once its pending `accept()` has rejected, so
 * waiting means that when `close` completes new connections are refused
 * (not accepted into the dying backlog and reset).
 */
const releasingListener = (
  handle: Driver.ListenerHandle,
  loopDone: Promise<void>,
  tls?: Tls.ListenerTls
): Driver.ListenerHandle => {
  const awaitRelease = Effect.promise(() => loopDone).pipe(Effect.timeout("1 second"), Effect.ignore)
  const listener: Transport.Listener = {
    address: handle.listener.address,
    accept: handle.listener.accept,
    rejected: handle.listener.rejected,
    close: Effect.zipRight(handle.listener.close, awaitRelease),
    ...(tls !== undefined ? { tls } : {})
  }
  return { ...handle, listener }
}

const listenPlain = (address: Address.Address, options: Transport.ListenOptions | undefined) =>
  Effect.suspend(() => {
    const D = deno()
    const unixPath = isUnix(address) ? address.path : undefined
    if (unixPath === undefined) {
      const refused = tcpListenRefusal(address as Address.TcpAddress, options)
      if (refused !== undefined) return Effect.fail(refused)
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
      return Effect.fail(listenFailure(address, error))
    }
    const bound: Address.Address = unixPath !== undefined ? { path: unixPath } : netAddress(native.addr)
    let closed = false
    const handle = Driver.makeListener({
      address: bound,
      acceptQueue: options?.acceptQueue,
      options,
      close: () => {
        closed = true
        closeQuietly(native)
      }
    })
    const loopDone = acceptLoop(native, () => closed, (conn) => handle.offer(wrap(conn, options, unixPath)))
    return Effect.succeed(releasingListener(handle, loopDone))
  })

/**
 * Listens with `Deno.listen`, or with `Deno.listenTls` when `options.tls` is set.
 *
 * @since 0.1.0
 * @category transport
 */
export const listen = (
  address: Address.Address,
  options?: Transport.ListenOptions
): Effect.Effect<Transport.Listener, Transport.ListenError, Scope.Scope> =>
  Driver.scopedListener(
    options?.tls !== undefined ? listenTls(address, options, options.tls) : listenPlain(address, options)
  )

// ---------------------------------------------------------------------------
// Connect
// ---------------------------------------------------------------------------

/** The TCP (or Unix) connect with `Deno.connect`, under the connect timeout; `make` runs once connected. */
const connectSocket = <A>(
  address: Address.Address,
  options: Transport.ConnectOptions | undefined,
  make: (conn: Deno.Conn, unixPath: string | undefined) => A
) =>
  Driver.connectWithTimeout<A>(address, { timeout: options?.timeout, errorCode }, (attempt) => {
    const unixPath = isUnix(address) ? address.path : undefined
    // TCP connects can be aborted; a Unix connect cannot (it is immediate unless the backlog is full)
    const abort = unixPath === undefined ? new AbortController() : undefined
    const pending: Promise<Deno.Conn> = unixPath !== undefined
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
        if (!attempt.succeed(() => make(conn, unixPath))) closeQuietly(conn)
      },
      attempt.fail
    )
    return abort === undefined ? undefined : () => abort.abort()
  })

/**
 * Connects with `Deno.connect`, or over TLS when `options.tls` is set.
 *
 * @since 0.1.0
 * @category transport
 */
export const connect = (
  address: Address.Address,
  options?: Transport.ConnectOptions
): Effect.Effect<Connection.Connection, Transport.ConnectError, Scope.Scope> =>
  Driver.scopedConnection(
    options?.tls !== undefined
      ? connectTls(address, options, options.tls)
      : connectSocket(address, options, (conn, unixPath) => wrap(conn, options, unixPath))
  )

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/** A ListenError of reason Tls. */
const tlsListenError = (address: Address.Address, cause: Tls.TlsError) =>
  new Transport.ListenError({ reason: "Tls", address, code: cause.code, cause })

/** A ConnectError of reason Tls. */
const tlsConnectError = (address: Address.Address, cause: Tls.TlsError) =>
  new Transport.ConnectError({ reason: "Tls", address, code: cause.code, cause })

/**
 * Closes a TLS connection whose handshake may still be running. Deno's
 * `close()` alone does not: it waits for the handshake to finish before it
 * releases the socket, so a peer that stalls its handshake would keep it
 * for as long as it likes. An RST (where `abort` can send one: Linux with
 * FFI) ends the handshake at once and the socket with it.
 */
const abortHandshake = (conn: Deno.TlsConn) => {
  try {
    Reset.sendReset(deno(), conn as unknown as Deno.TcpConn)
  } catch {
    // the socket is gone already
  }
  closeQuietly(conn)
}

/** What Deno's TLS cannot tell about a session (see the README): neither side learns the version or cipher. */
const unknown = "unknown"

/** Why a server option cannot be honoured on Deno, if one cannot. */
const serverRefusal = (tls: Tls.TlsServerOptions, certificates: Tls.ServerCertificates): string | undefined => {
  if (tls.requestCert === true) {
    return "Deno.listenTls cannot ask clients for a certificate: requestCert (mutual TLS) is not supported on Deno"
  }
  if (tls.minVersion === "TLSv1.3") {
    return "Deno.listenTls has no protocol version setting: it accepts TLS 1.2 and 1.3, so minVersion TLSv1.3 is not supported on Deno"
  }
  if (
    certificates.passphrase !== undefined ||
    Object.values(certificates.sni ?? {}).some((p) => p.passphrase !== undefined)
  ) {
    return "Deno cannot load encrypted private keys: a passphrase is not supported on Deno (decrypt the key first)"
  }
  return undefined
}

/** Why a client option cannot be honoured on Deno, if one cannot. */
const clientRefusal = (tls: Tls.TlsClientOptions): string | undefined => {
  if (tls.minVersion === "TLSv1.3") {
    return "Deno's TLS client has no protocol version setting: it accepts TLS 1.2 and 1.3, so minVersion TLSv1.3 is not supported on Deno"
  }
  if (tls.certificate?.passphrase !== undefined) {
    return "Deno cannot load encrypted private keys: a passphrase is not supported on Deno (decrypt the key first)"
  }
  return undefined
}

/** Deno's options of one certificate chain and its key. */
const keyPair = (pair: Tls.KeyPair): Deno.TlsCertifiedKeyPem => ({
  cert: TlsInternal.chainText(pair.cert),
  key: TlsInternal.pemText(pair.key)
})

/**
 * The certificate part of `Deno.listenTls`'s options: the pair itself, or,
 * with SNI, a resolver that Deno asks once per server name (`""` when the
 * client sent none) and that answers with the listed pair or the default.
 */
const certificateOptions = (certificates: Tls.ServerCertificates) => {
  const fallback = keyPair(certificates)
  const sni = certificates.sni
  if (sni === undefined || Object.keys(sni).length === 0) return fallback
  const pairs = new Map<Tls.KeyPair, Deno.TlsCertifiedKeyPem>()
  const resolve = (serverName: string): Promise<Deno.TlsCertifiedKeyPem> => {
    const pair = serverName === "" ? undefined : Tls.lookupServerName(sni, serverName)
    if (pair === undefined) return Promise.resolve(fallback)
    let pem = pairs.get(pair)
    if (pem === undefined) pairs.set(pair, pem = keyPair(pair))
    return Promise.resolve(pem)
  }
  return { [TlsInternal.sniResolverKey]: resolve }
}

/**
 * Checks every pair Deno would only load at its first handshake (the SNI
 * ones) by loading it now, into a listener on an ephemeral loopback port that
 * is closed at once. Returns the error of the first pair Deno refuses.
 */
const checkPairs = (D: Deno.DenoNamespace, certificates: Tls.ServerCertificates): Tls.TlsError | undefined => {
  if (certificates.sni === undefined) return undefined
  for (const pair of [certificates, ...Object.values(certificates.sni)]) {
    let probe: Deno.Listener
    try {
      probe = D.listenTls({ hostname: "127.0.0.1", port: 0, ...keyPair(pair) })
    } catch (error) {
      // without the permission to listen on loopback, Deno checks the pair at its first handshake instead
      if (errorCode(error) === "ERR_NOT_CAPABLE") return undefined
      return TlsInternal.certificateError(error, "server")
    }
    closeQuietly(probe)
  }
  return undefined
}

const listenTls = (address: Address.Address, options: Transport.ListenOptions, tls: Tls.TlsServerOptions) =>
  Effect.flatMap(
    Effect.zip(Effect.clock, Effect.runtime<never>()),
    ([clock, runtime]) =>
      Effect.suspend(() => {
        const D = deno()
        if (isUnix(address)) {
          return Effect.fail(
            tlsListenError(
              address,
              TlsInternal.unsupported(
                "server",
                undefined,
                "Deno.listenTls listens on TCP only: TLS over a Unix socket is not supported on Deno"
              )
            )
          )
        }
        const tcp = address as Address.TcpAddress
        const refused = tcpListenRefusal(tcp, options)
        if (refused !== undefined) return Effect.fail(refused)
        const source = Tls.isCertificateSource(tls.certificates)
          ? tls.certificates
          : Tls.unsafeMakeCertificateSource(tls.certificates)
        const certificates = source.unsafeGet()
        const refusal = serverRefusal(tls, certificates)
        if (refusal !== undefined) {
          return Effect.fail(tlsListenError(address, TlsInternal.unsupported("server", undefined, refusal)))
        }
        let native: Deno.Listener<Deno.TlsConn, Deno.NetAddr>
        try {
          const bad = checkPairs(D, certificates)
          if (bad !== undefined) return Effect.fail(tlsListenError(address, bad))
          native = D.listenTls({
            transport: "tcp",
            hostname: tcp.host,
            port: tcp.port,
            tcpBacklog: options.backlog ?? Transport.defaultBacklog,
            ...(options.reusePort ? { reusePort: true } : {}),
            ...(tls.alpnProtocols !== undefined ? { alpnProtocols: [...tls.alpnProtocols] } : {}),
            ...certificateOptions(certificates)
          })
        } catch (error) {
          const code = errorCode(error)
          // a socket failure (address in use, no permission) is the listen's; anything else is Deno refusing the certificates
          if (code !== undefined) return Effect.fail(listenFailure(address, error))
          return Effect.fail(tlsListenError(address, TlsInternal.certificateError(error, "server")))
        }
        const bound = netAddress(native.addr)
        // a TlsConn cannot set TCP options: the listening socket's are inherited (Linux, with FFI)
        Reset.setListenerOptions(
          D,
          native.addr,
          options.noDelay ?? Connection.defaults.noDelay,
          options.keepAlive === true
        )
        const counters = Tls.makeListenerCounters()
        const timer = Tls.makeHandshakeTimer(clock, tls.handshakeTimeout)
        const timeout = Tls.handshakeTimeoutMillis(tls.handshakeTimeout)
        const log = Runtime.runFork(runtime)
        /** Connections still handshaking. */
        const handshaking = new Set<Deno.TlsConn>()
        let closed = false
        // Deno keeps a listener's certificates for its life (and caches what the SNI resolver
        // answered per name), so a source's new certificates cannot reach it: `set` is refused
        const unsubscribe = source.unsafeSubscribe(() =>
          TlsInternal.unsupported(
            "server",
            undefined,
            "Deno.listenTls cannot replace the certificates of a listening socket: certificate reload is not supported on Deno (listen again with the new certificates)"
          )
        )
        const handle = Driver.makeListener({
          address: bound,
          acceptQueue: options.acceptQueue,
          options,
          close: () => {
            closed = true
            closeQuietly(native)
            unsubscribe()
            timer.close()
            for (const conn of handshaking) abortHandshake(conn)
          }
        })
        /** Counts and logs a failed handshake and closes its connection (`running`: the handshake has not ended by itself). */
        const failed = (conn: Deno.TlsConn, error: Tls.TlsError, running: boolean) => {
          counters.failed(error.reason)
          if (running) abortHandshake(conn)
          else closeQuietly(conn)
          log(
            Effect.logDebug("TLS handshake failed; connection closed", error).pipe(
              Effect.annotateLogs({ listener: Address.format(bound), reason: error.reason })
            )
          )
        }
        const onConn = (conn: Deno.TlsConn) => {
          counters.started()
          handshaking.add(conn)
          const remote = netAddress(conn.remoteAddr)
          const cancel = timer.start(() => {
            if (!handshaking.delete(conn)) return
            failed(
              conn,
              new Tls.TlsError({
                reason: "HandshakeTimeout",
                side: "server",
                address: remote,
                code: "ERR_TLS_HANDSHAKE_TIMEOUT",
                timeout
              }),
              true
            )
          })
          conn.handshake().then(
            (info) => {
              if (!handshaking.delete(conn)) return // timed out, or the listener closed
              cancel()
              counters.succeeded()
              const session: Tls.TlsInfo = {
                protocol: unknown,
                cipher: unknown,
                alpnProtocol: info.alpnProtocol ?? undefined,
                // Deno does not tell which name the client asked for
                serverName: undefined,
                authorized: false,
                authorizationError: undefined,
                peerCertificate: undefined
              }
              handle.offer(wrap(conn, options, undefined, { info: session, side: "server" }))
            },
            (error) => {
              if (!handshaking.delete(conn)) return
              cancel()
              const failure = closed
                ? new Tls.TlsError({
                  reason: "Other",
                  side: "server",
                  address: remote,
                  detail: "the listener closed",
                  cause: error
                })
                : TlsInternal.tlsError(error, "server", remote, errorCode)
              failed(conn, failure, false)
            }
          )
        }
        const loopDone = acceptLoop(native, () => closed, onConn)
        return Effect.succeed(releasingListener(handle, loopDone, { certificates: source, stats: counters.stats }))
      })
  )

/** The TLS connection over a TCP connection made with `Deno.connect`: TCP options set first, which a TlsConn cannot. */
const startTls = (
  address: Address.TcpAddress,
  options: Transport.ConnectOptions,
  startOptions: Deno.StartTlsOptions
) =>
  Effect.flatMap(
    connectSocket(address, options, (conn) => {
      setSocketOptions(conn, options)
      return conn as Deno.TcpConn
    }),
    (tcp) =>
      Effect.tryPromise({
        try: () => deno().startTls(tcp, startOptions),
        catch: (error) => {
          closeQuietly(tcp)
          return tlsConnectError(address, TlsInternal.tlsError(error, "client", address, errorCode))
        }
      })
  )

/**
 * The TLS connection made by `Deno.connectTls`, which alone takes a client
 * certificate. Its TCP connect cannot be aborted: on a timeout we stop waiting
 * and close the connection if it comes later.
 */
const connectTlsWithCertificate = (
  address: Address.TcpAddress,
  options: Transport.ConnectOptions,
  connectOptions: Deno.ConnectTlsOptions
) =>
  Driver.connectWithTimeout<Deno.TlsConn>(address, { timeout: options.timeout, errorCode }, (attempt) => {
    deno().connectTls(connectOptions).then(
      (conn) => {
        if (!attempt.succeed(() => conn)) closeQuietly(conn)
      },
      attempt.fail
    )
  }).pipe(
    Effect.mapError((error) =>
      // Deno refused the client certificate before connecting
      error.reason === "Other" && TlsInternal.isCertificateLoadFailure(error.cause)
        ? tlsConnectError(address, TlsInternal.certificateError(error.cause, "client"))
        : error
    )
  )

/** The handshake of a connection Deno made, as an effect whose interruption closes the connection. */
const handshake = (
  address: Address.Address,
  conn: Deno.TlsConn,
  note: ((reason: Tls.TlsErrorReason) => string | undefined) | undefined
) =>
  Effect.async<Deno.TlsHandshakeInfo, Transport.ConnectError>((resume) => {
    conn.handshake().then(
      (info) => resume(Effect.succeed(info)),
      (error) =>
        resume(Effect.fail(tlsConnectError(address, TlsInternal.tlsError(error, "client", address, errorCode, note))))
    )
    return Effect.sync(() => abortHandshake(conn))
  })

const connectTls = (address: Address.Address, options: Transport.ConnectOptions, tls: Tls.TlsClientOptions) =>
  Effect.suspend(() => {
    if (isUnix(address)) {
      return Effect.fail(
        tlsConnectError(
          address,
          TlsInternal.unsupported(
            "client",
            address,
            "Deno's TLS runs over TCP only: TLS over a Unix socket is not supported on Deno"
          )
        )
      )
    }
    const refusal = clientRefusal(tls)
    if (refusal !== undefined) {
      return Effect.fail(tlsConnectError(address, TlsInternal.unsupported("client", address, refusal)))
    }
    const tcp = address as Address.TcpAddress
    const isIp = Reset.ipBytes(tcp.host) !== undefined
    // SNI carries names only: an IP address is checked against the certificate but not sent
    const serverName = tls.serverName ?? (isIp ? undefined : tcp.host)
    const verifiedName = tls.serverName ?? tcp.host
    const rejectUnauthorized = tls.rejectUnauthorized ?? Tls.defaults.rejectUnauthorized
    const common = {
      caCerts: TlsInternal.caList(tls.ca),
      ...(tls.alpnProtocols !== undefined ? { alpnProtocols: [...tls.alpnProtocols] } : {}),
      // Deno can skip the name check but not the chain's: we check the name ourselves below
      ...(rejectUnauthorized ? {} : { unsafelyDisableHostnameVerification: true })
    }
    const timeout = options.timeout ?? Transport.defaultConnectTimeout
    const handshakeTimeout = Tls.handshakeTimeoutMillis(tls.handshakeTimeout)
    const start = Date.now()
    const open = tls.certificate === undefined
      ? startTls(tcp, options, { hostname: verifiedName, ...common })
      : connectTlsWithCertificate(tcp, options, {
        hostname: tcp.host,
        port: tcp.port,
        ...common,
        ...keyPair(tls.certificate),
        ...(tls.serverName !== undefined ? { [TlsInternal.serverNameKey]: tls.serverName } : {})
      })
    // a refused chain despite rejectUnauthorized: false says why
    const note = rejectUnauthorized ?
      undefined :
      (reason: Tls.TlsErrorReason) =>
        reason === "UnknownCa" || reason === "CertificateExpired" || reason === "BadCertificate"
          ? "Deno always verifies the chain: rejectUnauthorized: false only skips the name check"
          : undefined
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const conn = yield* restore(open)
        // the connect timeout covers the handshake too; the handshake timeout bounds it alone
        const left = timeout - (Date.now() - start)
        const connectBound = left < handshakeTimeout
        const limit = Math.max(0, connectBound ? left : handshakeTimeout)
        const info = yield* restore(handshake(address, conn, note)).pipe(
          Effect.timeoutFail({
            duration: Duration.millis(limit),
            onTimeout: () =>
              connectBound
                ? new Transport.ConnectError({ reason: "TimedOut", address, timeout, code: "ETIMEDOUT" })
                : tlsConnectError(
                  address,
                  new Tls.TlsError({
                    reason: "HandshakeTimeout",
                    side: "client",
                    address,
                    code: "ERR_TLS_HANDSHAKE_TIMEOUT",
                    timeout: handshakeTimeout
                  })
                )
          }),
          Effect.onError(() => Effect.sync(() => abortHandshake(conn)))
        )
        const peer = TlsInternal.peerCertificate(deno(), conn)
        // with rejectUnauthorized the handshake verified chain and name; without, the chain only
        const nameOk = rejectUnauthorized || (peer !== undefined && TlsInternal.certificateMatches(peer, verifiedName))
        const session: Tls.TlsInfo = {
          protocol: unknown,
          cipher: unknown,
          alpnProtocol: info.alpnProtocol ?? undefined,
          serverName,
          authorized: nameOk,
          authorizationError: nameOk
            ? undefined
            : peer === undefined
            ? "ERR_TLS_CERT_UNCHECKED"
            : Reset.ipBytes(verifiedName) !== undefined
            ? "IP_ADDRESS_MISMATCH"
            : "HOSTNAME_MISMATCH",
          peerCertificate: peer
        }
        return wrap(conn, options, undefined, { info: session, side: "client" })
      })
    )
  })

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * Whether `abort` sends a real TCP RST in this process: on Linux with
 * `--allow-ffi` (see the README). Otherwise `abort` closes the socket and the
 * peer sees EOF.
 *
 * @since 0.1.0
 * @category transport
 */
export const canReset = (): boolean => Reset.available(deno())

/**
 * The Deno transport service.
 *
 * @since 0.1.0
 * @category transport
 */
export const transport: Transport.TransportService = { name: "deno", listen, connect }

/**
 * Provides {@link Transport.Transport} on `Deno.listen` / `Deno.connect`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Transport.Transport> = Layer.succeed(Transport.Transport, transport)

/**
 * TLS defaults of a transport (see `Tls.TlsDefaults`).
 *
 * @since 0.1.0
 * @category models
 */
export type TlsDefaults = Tls.TlsDefaults

/**
 * The Deno transport with TLS defaults (see {@link TlsDefaults}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTransport = (defaults: TlsDefaults): Transport.TransportService =>
  Tls.withDefaults(transport, defaults)

/**
 * Provides {@link Transport.Transport} on `Deno.listenTls` / `Deno.connectTls`:
 * listens and connects speak TLS with these defaults unless their own
 * options say otherwise. A whole program (or a conformance suite) then runs
 * over TLS unchanged.
 *
 * @example
 * ```ts
 * const tlsLayer = DenoTransport.layerTls({
 *   server: { certificates: { cert, key } },
 *   client: { ca }
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTls = (defaults: TlsDefaults): Layer.Layer<Transport.Transport> =>
  Layer.succeed(Transport.Transport, makeTransport(defaults))
