/**
 * An in-memory transport: the full transport contract without sockets, for
 * fast, deterministic tests of any protocol. Each `layer` is an isolated
 * network. It models TCP where protocols can tell the difference:
 *
 * - ports: `{ host, port }` addresses with `port: 0` allocating a free port,
 *   `{ path }` addresses as named endpoints; address in use and connection
 *   refused are the same typed errors as on real sockets;
 * - flow control: each direction has an in-flight buffer (the "kernel"
 *   buffers, `wireBuffer` bytes). When the reader pauses, writes pile up there
 *   and then wait for drain, exactly as on a socket;
 * - the backlog: connections waiting for `accept` are bounded by `backlog`;
 *   further connects wait (as a dropped SYN does) until accepted or timed out;
 * - half-close, graceful close, and reset (the peer sees reason `"Reset"`);
 *   writing to a peer that has released its socket is a reset too.
 *
 * It has no TLS: a listen or connect with a `tls` option fails with reason
 * `"Tls"` (a `Tls.TlsError` of code `ENOTSUP`) rather than run in plain text.
 *
 * Delivery is asynchronous (microtasks), never re-entrant. Writes are copied
 * (as a kernel does). Chunks lent to a `pump(..., { borrow: true })` consumer
 * are filled with `0xdb` once its call returns, so that code which keeps a
 * lent chunk fails in tests, not later on a runtime that reuses read buffers.
 *
 * @example
 * ```ts
 * import { MemoryTransport, Server } from "@wirekit/core"
 * import { Effect } from "effect"
 * const test = myProgram.pipe(Effect.provide(MemoryTransport.layer()))
 * ```
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { Address, TcpAddress } from "./Address.ts"
import { format, isUnix } from "./Address.ts"
import type { ConnectionOptions } from "./Connection.ts"
import { defaults } from "./Connection.ts"
import type { ListenerHandle, SocketDriver, SocketEvents } from "./Driver.ts"
import { makeConnection, makeListener, scopedConnection, scopedListener } from "./Driver.ts"
import { TlsError } from "./Tls.ts"
import type { ConnectOptions, ListenOptions, TransportService } from "./Transport.ts"
import { ConnectError, defaultBacklog, defaultConnectTimeout, ListenError, Transport } from "./Transport.ts"

/**
 * Options of an in-memory network.
 *
 * @since 0.1.0
 * @category options
 */
export interface MemoryOptions {
  /** Bytes in flight per direction (the emulated kernel buffers). Default 64 KiB. */
  readonly wireBuffer?: number | undefined
  /** First port handed out for `port: 0` and client ports. Default 40000. */
  readonly firstEphemeralPort?: number | undefined
}

interface Endpoint {
  readonly handle: ListenerHandle
  readonly backlog: number
  readonly options: ListenOptions | undefined
  readonly waiting: Array<() => void>
}

/** What lent chunks are filled with once the consumer's call returns. */
const POISON = 0xdb

/** One direction of a connection: bytes written by one side, read by the other. */
class Wire {
  private buf: Array<Uint8Array> = []
  private bytes = 0
  private scheduled = false
  private finPending = false
  private finDone: ((e?: undefined) => void) | undefined
  private needDrain = false
  readerPaused = false
  readerGone = false
  writerGone = false
  /** Set once the reader's side is known. */
  reader!: SocketEvents
  writer!: SocketEvents

  constructor(private readonly capacity: number) {}

  write(data: Uint8Array): boolean {
    if (this.readerGone) {
      // the peer released its socket: like TCP, a write to it is answered by a reset
      queueMicrotask(() => this.writer.error("Reset", "EPIPE"))
      return true
    }
    this.buf.push(data.slice())
    this.bytes += data.length
    this.schedule()
    const ok = this.bytes < this.capacity
    if (!ok) this.needDrain = true
    return ok
  }

  end(done: (e?: undefined) => void): void {
    this.finPending = true
    this.finDone = done
    this.schedule()
  }

  buffered(): number {
    return this.bytes
  }

  /** The writer reset: discard what is in flight and tell the reader. */
  reset(): void {
    this.buf = []
    this.bytes = 0
    this.writerGone = true
    if (!this.readerGone) queueMicrotask(() => this.reader.error("Reset", "ECONNRESET"))
  }

  schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.flush()
    })
  }

  flush(): void {
    if (this.readerGone) {
      this.buf = []
      this.bytes = 0
    }
    while (!this.readerPaused && this.buf.length > 0) {
      const chunk = this.buf.shift()!
      this.bytes -= chunk.length
      const lent = this.reader.borrows()
      this.reader.data(chunk)
      // a lent chunk is this wire's own copy: poison it, so that a consumer that keeps
      // one (against the borrow contract) fails in tests instead of on Deno in production
      if (lent) chunk.fill(POISON)
    }
    if (this.needDrain && this.bytes < this.capacity) {
      this.needDrain = false
      this.writer.drain()
    }
    if (this.finPending && this.buf.length === 0) {
      this.finPending = false
      if (!this.readerGone) this.reader.readEnd()
      const d = this.finDone
      this.finDone = undefined
      d?.()
    }
  }
}

interface Side {
  readonly out: Wire
  readonly inn: Wire
  gone: boolean
}

const makeDriver = (side: Side, events: SocketEvents): SocketDriver => {
  const release = () => {
    if (side.gone) return
    side.gone = true
    side.inn.readerGone = true
    side.out.writerGone = true
    queueMicrotask(() => events.closedByRuntime())
  }
  return {
    write: (data) => side.out.write(data),
    writev: (chunks) => {
      let ok = true
      for (const c of chunks) ok = side.out.write(c)
      return ok
    },
    pause: () => {
      side.inn.readerPaused = true
    },
    resume: () => {
      side.inn.readerPaused = false
      side.inn.schedule()
    },
    end: (done) => side.out.end(done),
    destroy: release,
    reset: () => {
      if (side.gone) return
      side.out.reset()
      release()
    },
    writeBuffered: () => side.out.buffered()
  }
}

/** The refusal of a `tls` option: the in-memory network has no TLS, and plain text must not pass for it. */
const noTls = (side: "client" | "server", address: Address) =>
  new TlsError({ reason: "Other", side, address, code: "ENOTSUP", detail: "the memory transport cannot speak TLS" })

/**
 * Creates an isolated in-memory network and its transport service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (memoryOptions?: MemoryOptions): TransportService => {
  const endpoints = new Map<string, Endpoint>()
  const wireBuffer = memoryOptions?.wireBuffer ?? defaults.readHighWaterMark
  let nextPort = memoryOptions?.firstEphemeralPort ?? 40000
  const usedPorts = new Set<number>()
  const allocPort = () => {
    while (usedPorts.has(nextPort)) nextPort++
    return nextPort++
  }
  const keyOf = (a: Address) => (isUnix(a) ? `unix:${a.path}` : `tcp:${a.port}`)

  const listen = (address: Address, options?: ListenOptions) =>
    scopedListener(
      Effect.suspend(() => {
        if (options?.tls !== undefined) {
          return Effect.fail(
            new ListenError({ reason: "Tls", address, code: "ENOTSUP", cause: noTls("server", address) })
          )
        }
        let bound: Address = address
        if (!isUnix(address)) {
          if (!Number.isInteger(address.port) || address.port < 0 || address.port > 65535) {
            return Effect.fail(new ListenError({ reason: "Other", address, code: "ERR_SOCKET_BAD_PORT" }))
          }
          bound = { host: address.host, port: address.port === 0 ? allocPort() : address.port }
        }
        const key = keyOf(bound)
        if (endpoints.has(key)) {
          return Effect.fail(new ListenError({ reason: "AddressInUse", address, code: "EADDRINUSE" }))
        }
        if (!isUnix(bound)) usedPorts.add(bound.port)
        const handle = makeListener({
          address: bound,
          acceptQueue: options?.acceptQueue,
          options,
          close: () => {
            endpoints.delete(key)
            if (!isUnix(bound)) usedPorts.delete(bound.port)
            const waiting = endpoint.waiting.splice(0)
            for (const w of waiting) w()
          }
        })
        const endpoint: Endpoint = {
          handle,
          backlog: Math.max(1, options?.backlog ?? defaultBacklog),
          options,
          waiting: []
        }
        handle.onAccept(() => {
          const w = endpoint.waiting.shift()
          w?.()
        })
        endpoints.set(key, endpoint)
        return Effect.succeed(handle)
      })
    )

  const link = (endpoint: Endpoint, target: Address, options: ConnectOptions | undefined) => {
    const clientAddr: Address = isUnix(target) ? { path: "" } : { host: (target as TcpAddress).host, port: allocPort() }
    const serverAddr: Address = endpoint.handle.listener.address
    const c2s = new Wire(wireBuffer)
    const s2c = new Wire(wireBuffer)
    const clientSide: Side = { out: c2s, inn: s2c, gone: false }
    const serverSide: Side = { out: s2c, inn: c2s, gone: false }
    const client = makeConnection(
      { localAddress: clientAddr, remoteAddress: serverAddr, options },
      (ev) => {
        c2s.writer = ev
        s2c.reader = ev
        return makeDriver(clientSide, ev)
      }
    )
    const server = makeConnection(
      {
        localAddress: serverAddr,
        remoteAddress: clientAddr,
        options: endpoint.options as ConnectionOptions | undefined
      },
      (ev) => {
        s2c.writer = ev
        c2s.reader = ev
        return makeDriver(serverSide, ev)
      }
    )
    if (!isUnix(clientAddr)) {
      const port = clientAddr.port
      Effect.runFork(Effect.zipRight(client.closed, Effect.sync(() => usedPorts.delete(port))))
    }
    endpoint.handle.offer(server)
    return client
  }

  const connect = (address: Address, options?: ConnectOptions) =>
    scopedConnection(
      Effect.suspend(() => {
        if (options?.tls !== undefined) {
          return Effect.fail(
            new ConnectError({ reason: "Tls", address, code: "ENOTSUP", cause: noTls("client", address) })
          )
        }
        const timeout = options?.timeout ?? defaultConnectTimeout
        const attempt = (): Effect.Effect<ReturnType<typeof link>, ConnectError> =>
          Effect.suspend(() => {
            const endpoint = endpoints.get(keyOf(address))
            if (!endpoint) {
              return Effect.fail(
                new ConnectError({
                  reason: isUnix(address) ? "NotFound" : "Refused",
                  address,
                  code: isUnix(address) ? "ENOENT" : "ECONNREFUSED"
                })
              )
            }
            if (endpoint.handle.pending() < endpoint.backlog) return Effect.succeed(link(endpoint, address, options))
            // backlog full: wait like a dropped SYN, until accept makes room (or the listener goes away)
            return Effect.flatMap(
              Effect.async<void>((resume) => {
                const w = () => resume(Effect.void)
                endpoint.waiting.push(w)
                return Effect.sync(() => {
                  const i = endpoint.waiting.indexOf(w)
                  if (i >= 0) endpoint.waiting.splice(i, 1)
                })
              }),
              attempt
            )
          })
        return attempt().pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () => new ConnectError({ reason: "TimedOut", address, timeout, code: "ETIMEDOUT" })
          })
        )
      })
    )

  return { name: "memory", listen, connect }
}

/**
 * A layer with a fresh, isolated in-memory network.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: MemoryOptions): Layer.Layer<Transport> => Layer.sync(Transport, () => make(options))

/**
 * Renders the endpoints table key of an address (for debugging).
 *
 * @since 0.1.0
 * @category utils
 */
export const describe = (address: Address): string => format(address)
