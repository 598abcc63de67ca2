/// <reference path="./bun-types.d.ts" />
/**
 * The wirekit transport on Bun's native sockets (`Bun.listen` / `Bun.connect`,
 * not `node:net`): TCP (IPv4/IPv6) and Unix sockets.
 *
 * Bun's `socket.write` takes what the OS accepts right now and buffers
 * nothing, so each connection keeps a bounded write queue (the core's
 * `Driver.makeSocketWriter`): bytes the OS did not take wait there, in order,
 * and are flushed from the `drain` handler; `write` reports backpressure once
 * the queue reaches `writeHighWaterMark`. Read backpressure uses
 * `socket.pause()` / `resume()`; half-close uses `socket.shutdown()`
 * (SHUT_WR) after the queue is flushed; abort uses
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

/**
 * One native socket, seen by the core as a {@link Driver.SocketDriver}: the
 * translation of Bun's events, and the write side through a core
 * {@link Driver.SocketWriter} (Bun's synchronous `write` is its `send`).
 */
class BunDriver implements Driver.SocketDriver, Driver.WriteTarget {
  socket!: Socket
  events!: Driver.SocketEvents
  writer!: Driver.SocketWriter
  /** Set once the core connection exists (events wired); before that events are ignored. */
  attached = false
  /** While connecting: the callbacks of the pending `connect`. */
  dial: { readonly opened: (s: Socket) => void; readonly failed: (err: SystemError) => void } | undefined = undefined

  private readEnded = false
  private closed = false

  constructor(private readonly options: Connection.ConnectionOptions | undefined) {}

  /** Wires the core's events (called from `Driver.makeConnection`). */
  attach(events: Driver.SocketEvents, remoteAddress: Address.Address): this {
    this.events = events
    this.writer = Driver.makeSocketWriter(this, events, {
      remoteAddress,
      writeHighWaterMark: this.options?.writeHighWaterMark,
      allowHalfOpen: this.options?.allowHalfOpen
    })
    this.attached = true
    return this
  }

  // ---- WriteTarget --------------------------------------------------------

  send(data: Uint8Array, offset: number, length: number): number {
    return this.socket.write(data, offset, length)
  }

  shutdown(): void {
    // no argument: shutdown(fd, SHUT_WR). `shutdown(true)` would be SHUT_RD in Bun 1.4.
    this.socket.shutdown()
  }

  // ---- SocketDriver -----------------------------------------------------

  write(data: Uint8Array): boolean {
    return this.writer.write(data)
  }

  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    return this.writer.writev(chunks)
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  end(done: (error?: Connection.ConnectionError) => void): void {
    this.writer.end(done)
  }

  destroy(): void {
    // flushes nothing more (the core destroys after end, or after a failure) and
    // closes the descriptor; Bun runs the close handler synchronously
    if (!this.closed) this.socket.end()
  }

  reset(): void {
    // SO_LINGER 0: the queue is dropped by the close handler, which Bun runs synchronously
    if (!this.closed) this.socket.terminate()
  }

  writeBuffered(): number {
    return this.writer.writeBuffered()
  }

  // ---- Bun events ---------------------------------------------------------

  /** The socket is writable again: the writer flushes its queue, then reports drain / finishes a pending end. */
  flush(): void {
    if (this.closed || !this.attached) return
    this.writer.writable()
  }

  onEnd(): void {
    if (this.readEnded || !this.attached) return
    this.readEnded = true
    this.events.readEnd()
    this.writer.peerEnded()
  }

  onError(err: SystemError): void {
    if (this.closed || !this.attached) return
    this.events.error(Connection.reasonOf(err.code), err.code, err)
  }

  onClose(err: SystemError | undefined): void {
    if (this.closed || !this.attached) return
    this.closed = true
    const events = this.events
    if (err !== undefined) {
      events.error(Connection.reasonOf(err.code), err.code, err)
    } else if (!this.readEnded) {
      // after our own shutdown() Bun reports the peer's FIN as a clean close, not as `end`
      this.readEnded = true
      events.readEnd()
    }
    this.writer.close(err === undefined ? undefined : { reason: Connection.reasonOf(err.code), code: err.code, cause: err })
    events.closedByRuntime()
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
      const unixPath = Address.isUnix(address) ? address.path : undefined
      return Driver.connectWithTimeout<Connection.Connection>(address, { timeout: options?.timeout, errorCode }, (attempt) => {
        const driver = new BunDriver(options)
        driver.dial = {
          opened: (s) => {
            driver.dial = undefined
            // timed out or interrupted meanwhile: nobody wants this socket
            if (!attempt.succeed(() => wrap(s, driver, options, unixPath))) s.terminate()
          },
          failed: (err) => {
            driver.dial = undefined
            attempt.fail(err)
          }
        }
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
        pending.then(undefined, attempt.fail)
      })
    })
  )

/** The Bun transport service. */
export const transport: Transport.TransportService = { name: "bun", listen, connect }

/** Provides {@link Transport.Transport} on Bun's native sockets. */
export const layer: Layer.Layer<Transport.Transport> = Layer.succeed(Transport.Transport, transport)
