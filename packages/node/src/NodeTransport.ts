/**
 * The wirekit transport on `node:net`: TCP (IPv4/IPv6) and Unix sockets.
 *
 * Read backpressure uses `socket.pause()`/`resume()`; write backpressure uses
 * `write()`'s return value and `'drain'`; half-close uses `allowHalfOpen` and
 * `end()`; abort uses `resetAndDestroy()` (RST). Error codes map to the
 * core's typed reasons.
 *
 * @example
 * ```ts
 * import { Server } from "@wirekit/core"
 * import { NodeTransport } from "@wirekit/node"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(Server.layer({ host: "127.0.0.1", port: 7000 }, handler)).pipe(
 *   Effect.provide(NodeTransport.layer)
 * )
 * ```
 * @since 0.1.0
 */
import { Connection, Driver, Transport } from "@wirekit/core"
import type { Address } from "@wirekit/core"
import { Effect, Layer } from "effect"
import * as Net from "node:net"

const toAddress = (family: string | undefined, host: string | undefined, port: number | undefined, path?: string): Address.Address =>
  path !== undefined ? { path } : { host: host ?? (family === "IPv6" ? "::" : "0.0.0.0"), port: port ?? 0 }

const wrap = (socket: Net.Socket, options: Connection.ConnectionOptions | undefined, local: Address.Address, remote: Address.Address) => {
  const writeHWM = options?.writeHighWaterMark ?? 64 * 1024
  socket.setNoDelay(options?.noDelay ?? true)
  if (options?.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelay ?? 0)
  // Wait for drain only when node itself asked for it (so a 'drain' event is
  // guaranteed) and its buffer is past our high-water mark.
  const accepted = (ret: boolean) => ret || socket.writableLength < writeHWM
  return Driver.makeConnection({ localAddress: local, remoteAddress: remote, options }, (events) => {
    // hand the core a plain Uint8Array view (once per read): frames are views of
    // chunks, and a plain typed-array view is far cheaper to make than a Buffer's
    socket.on("data", (chunk: Buffer) => events.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)))
    socket.on("end", () => events.readEnd())
    socket.on("drain", () => events.drain())
    socket.on("error", (err: NodeJS.ErrnoException) => events.error(Connection.reasonOf(err.code), err.code, err))
    socket.on("close", () => events.closedByRuntime())
    return {
      write: (data) => accepted(socket.write(data)),
      writev: (chunks) => {
        let ret = true
        socket.cork()
        for (const c of chunks) ret = socket.write(c)
        socket.uncork()
        return accepted(ret)
      },
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      end: (done) => {
        if (socket.writableFinished) return done()
        socket.end(() => done())
      },
      destroy: () => socket.destroy(),
      reset: () => {
        if (socket.destroyed) return
        if (typeof socket.resetAndDestroy === "function" && socket.readyState !== "opening") socket.resetAndDestroy()
        else socket.destroy()
      },
      writeBuffered: () => socket.writableLength
    }
  })
}

const socketAddresses = (socket: Net.Socket, unixPath: string | undefined) => {
  if (unixPath !== undefined) return { local: { path: unixPath }, remote: { path: unixPath } }
  return {
    local: toAddress(socket.localFamily, socket.localAddress, socket.localPort),
    remote: toAddress(socket.remoteFamily, socket.remoteAddress, socket.remotePort)
  }
}

/** Listens with `node:net`. */
export const listen = (address: Address.Address, options?: Transport.ListenOptions) =>
  Driver.scopedListener(
    Effect.async<Driver.ListenerHandle, Transport.ListenError>((resume) => {
      const server = Net.createServer({
        allowHalfOpen: options?.allowHalfOpen ?? true,
        highWaterMark: options?.writeHighWaterMark ?? 64 * 1024
      } as Net.ServerOpts)
      let handle: Driver.ListenerHandle | undefined
      const isUnixAddr = "path" in address
      server.on("connection", (socket) => {
        if (!handle) return socket.destroy()
        const { local, remote } = socketAddresses(socket, isUnixAddr ? (address as Address.UnixAddress).path : undefined)
        handle.offer(wrap(socket, options, local, remote))
      })
      const onError = (err: NodeJS.ErrnoException) => {
        server.close()
        resume(Effect.fail(new Transport.ListenError({ reason: Transport.listenReasonOf(err.code), address, code: err.code, cause: err })))
      }
      server.once("error", onError)
      server.once("listening", () => {
        server.off("error", onError)
        server.on("error", () => {})
        const a = server.address()
        const bound: Address.Address = typeof a === "string" || a === null
          ? { path: (address as Address.UnixAddress).path }
          : { host: a.address, port: a.port }
        handle = Driver.makeListener({ address: bound, acceptQueue: options?.acceptQueue, close: () => server.close() })
        resume(Effect.succeed(handle))
      })
      const backlog = options?.backlog ?? Transport.defaultBacklog
      if (isUnixAddr) server.listen({ path: (address as Address.UnixAddress).path, backlog })
      else {
        const tcp = address as Address.TcpAddress
        server.listen({ host: tcp.host, port: tcp.port, backlog, ipv6Only: options?.ipv6Only ?? false, reusePort: options?.reusePort ?? false } as Net.ListenOptions)
      }
      return Effect.sync(() => server.close())
    })
  )

/** Connects with `node:net`. */
export const connect = (address: Address.Address, options?: Transport.ConnectOptions) =>
  Driver.scopedConnection(
    Effect.async<Connection.Connection, Transport.ConnectError>((resume) => {
      const timeout = options?.timeout ?? Transport.defaultConnectTimeout
      const isUnixAddr = "path" in address
      const socket = isUnixAddr
        ? Net.connect({ path: (address as Address.UnixAddress).path, allowHalfOpen: options?.allowHalfOpen ?? true })
        : Net.connect({
          host: (address as Address.TcpAddress).host,
          port: (address as Address.TcpAddress).port,
          allowHalfOpen: options?.allowHalfOpen ?? true
        })
      let done = false
      const timer = setTimeout(() => {
        if (done) return
        done = true
        socket.destroy()
        resume(Effect.fail(new Transport.ConnectError({ reason: "TimedOut", address, timeout, code: "ETIMEDOUT" })))
      }, timeout)
      const onError = (err: NodeJS.ErrnoException) => {
        if (done) return
        done = true
        clearTimeout(timer)
        socket.destroy()
        resume(Effect.fail(new Transport.ConnectError({ reason: Transport.connectReasonOf(err.code), address, code: err.code, cause: err })))
      }
      socket.once("error", onError)
      socket.once("connect", () => {
        if (done) return
        done = true
        clearTimeout(timer)
        socket.off("error", onError)
        const { local, remote } = socketAddresses(socket, isUnixAddr ? (address as Address.UnixAddress).path : undefined)
        resume(Effect.succeed(wrap(socket, options, local, remote)))
      })
      return Effect.sync(() => {
        if (done) return
        done = true
        clearTimeout(timer)
        socket.destroy()
      })
    })
  )

/** The Node transport service. */
export const transport: Transport.TransportService = { name: "node", listen, connect }

/** Provides {@link Transport.Transport} on `node:net`. */
export const layer: Layer.Layer<Transport.Transport> = Layer.succeed(Transport.Transport, transport)
