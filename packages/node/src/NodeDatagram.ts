/**
 * The wirekit datagram (UDP) transport on `node:dgram`, IPv4 and IPv6.
 *
 * A thin driver: the core's `Datagram.makeSocket` does the queueing, the
 * drop policy, batching, connected-mode checks and counters. Here:
 *
 * - bind: `udp4` or `udp6` by the host, `reuseAddr`, `ipv6Only`, socket
 *   buffer sizes, then broadcast and multicast options once bound;
 * - receiving: the datagrams of one turn of the event loop reach the core
 *   together (a `setImmediate` after the turn's I/O), so a `pump` gets them
 *   as one batch;
 * - send backpressure: `node:dgram` queues every send without a bound, so
 *   the driver counts the sends it handed over and whose callback has not
 *   come yet; at `sendQueue` of them the core waits, until half have
 *   completed;
 * - connected mode: the OS's (`socket.connect`), so a peer with nothing on
 *   its port is reported as `Refused` (the ICMP error comes back on a later
 *   send or receive and fails the next `send`);
 * - errors: EADDRINUSE, EMSGSIZE, ECONNREFUSED, EHOSTUNREACH and the others
 *   map to the core's typed reasons.
 *
 * @example
 * ```ts
 * import { Datagram } from "@wirekit/core"
 * import { NodeDatagram } from "@wirekit/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const udp = yield* Datagram.DatagramTransport
 *   const socket = yield* udp.bind({ host: "127.0.0.1", port: 0 })
 *   yield* socket.send(new TextEncoder().encode("ping"), { host: "127.0.0.1", port: 9999 })
 * })).pipe(Effect.provide(NodeDatagram.layer))
 * ```
 * @since 0.1.0
 */
import { Datagram } from "@wirekit/core"
import type { Address } from "@wirekit/core"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as Dgram from "node:dgram"
import * as Dns from "node:dns"
import { isIP } from "node:net"

type TcpAddress = Address.TcpAddress

/**
 * `node:dgram` resolves every destination, an IP literal too, through
 * `dns.lookup`, which answers a tick later: a send would cost a tick and a
 * closure before it reaches the OS. Literals are answered at once here (the
 * send then happens inside `socket.send`); names still go to `dns.lookup`.
 */
const lookup = (
  host: string,
  options: Dns.LookupOneOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void
): void => {
  const family = isIP(host)
  if (family !== 0) return callback(null, host, family)
  Dns.lookup(host, options, callback)
}

/** Applies the options `node:dgram` takes only on a bound socket; throws the first refusal. */
const applyBoundOptions = (socket: Dgram.Socket, options: Datagram.ResolvedBindOptions): void => {
  if (options.broadcast) socket.setBroadcast(true)
  const multicast = options.multicast
  if (multicast !== undefined) {
    if (multicast.ttl !== undefined) socket.setMulticastTTL(multicast.ttl)
    if (multicast.loopback !== undefined) socket.setMulticastLoopback(multicast.loopback)
    if (multicast.interface !== undefined) socket.setMulticastInterface(multicast.interface)
  }
}

/** The driver of one bound socket: hands datagrams to `node:dgram` and bounds what it queues. */
const makeDriver = (
  socket: Dgram.Socket,
  options: Datagram.ResolvedBindOptions,
  events: Datagram.DatagramEvents
): Datagram.DatagramDriver => {
  const bound = options.sendQueue
  const resumeAt = bound >>> 1
  let inFlight = 0
  let full = false
  let closed = false
  // one callback for every send: no closure per datagram
  const sent = (error: Error | null) => {
    inFlight--
    if (error !== null && !closed) events.error((error as NodeJS.ErrnoException).code, error)
    if (full && inFlight <= resumeAt) {
      full = false
      if (!closed) events.writable()
    }
  }
  // node:dgram calls back once per datagram, several times per turn of the
  // event loop: they are handed over as one batch, after the turn's I/O
  let flushing = false
  const flush = () => {
    flushing = false
    if (!closed) events.flush()
  }
  socket.on("message", (data, rinfo) => {
    events.message(data, rinfo.address, rinfo.port)
    if (!flushing) {
      flushing = true
      setImmediate(flush)
    }
  })
  // receive-side errors (an ICMP error on a connected socket) do not close a UDP socket
  socket.on("error", (error) => {
    if (!closed) events.error((error as NodeJS.ErrnoException).code, error)
  })
  socket.on("close", () => {
    closed = true
    events.closedByRuntime()
  })
  return {
    send: (data, to) => {
      if (closed) return "closed"
      inFlight++
      try {
        if (to === undefined) socket.send(data, sent)
        else socket.send(data, to.port, to.host, sent)
      } catch (error) {
        // a synchronous refusal (a bad port, a socket closed meanwhile): no callback comes
        inFlight--
        events.error((error as NodeJS.ErrnoException).code, error)
        return "sent"
      }
      if (inFlight >= bound) {
        full = true
        return "full"
      }
      return "sent"
    },
    connect: (to, done) => {
      try {
        socket.connect(
          to.port,
          to.host,
          (error?: Error) => error ? done({ code: (error as NodeJS.ErrnoException).code, cause: error }) : done()
        )
      } catch (cause) {
        done({ code: (cause as NodeJS.ErrnoException).code, cause })
      }
    },
    disconnect: () => socket.disconnect(),
    joinMulticast: (group, iface) => socket.addMembership(group, iface),
    leaveMulticast: (group, iface) => socket.dropMembership(group, iface),
    close: () => {
      if (closed) return
      closed = true
      try {
        socket.close()
      } catch {
        // already closed by node
      }
    }
  }
}

/**
 * Binds a `node:dgram` socket. It lives as long as the scope.
 *
 * @since 0.1.0
 * @category transport
 */
export const bind = (
  options?: Datagram.BindOptions
): Effect.Effect<Datagram.DatagramSocket, Datagram.DatagramError, Scope.Scope> =>
  Datagram.scopedSocket(
    Effect.suspend(() => {
      const resolved = Datagram.resolveOptions(options)
      if (resolved instanceof Datagram.DatagramError) return Effect.fail(resolved)
      const address: TcpAddress = { host: resolved.host, port: resolved.port }
      return Effect.async<Datagram.DatagramSocket, Datagram.DatagramError>((resume) => {
        let socket: Dgram.Socket
        try {
          socket = Dgram.createSocket({
            type: resolved.ipv6 ? "udp6" : "udp4",
            lookup,
            reuseAddr: resolved.reuseAddr,
            ipv6Only: resolved.ipv6Only,
            ...(resolved.receiveBufferSize !== undefined ? { recvBufferSize: resolved.receiveBufferSize } : {}),
            ...(resolved.sendBufferSize !== undefined ? { sendBufferSize: resolved.sendBufferSize } : {})
          })
        } catch (cause) {
          return resume(Effect.fail(Datagram.fromCause("bind", cause, address)))
        }
        let done = false
        const onError = (cause: Error) => {
          if (done) return
          done = true
          socket.close()
          resume(Effect.fail(Datagram.fromCause("bind", cause, address)))
        }
        socket.once("error", onError)
        socket.once("listening", () => {
          if (done) return
          done = true
          socket.off("error", onError)
          try {
            applyBoundOptions(socket, resolved)
          } catch (cause) {
            socket.close()
            return resume(Effect.fail(Datagram.fromCause("bind", cause, address)))
          }
          const local = socket.address()
          resume(Effect.succeed(Datagram.makeSocket(
            { address: { host: local.address, port: local.port }, options: resolved, batched: true },
            (events) => makeDriver(socket, resolved, events)
          )))
        })
        try {
          socket.bind({ port: resolved.port, address: resolved.host })
        } catch (cause) {
          onError(cause as Error)
        }
        return Effect.sync(() => {
          if (done) return
          done = true
          socket.close()
        })
      })
    })
  )

/**
 * The datagram transport service on `node:dgram`.
 *
 * @since 0.1.0
 * @category transport
 */
export const transport: Datagram.DatagramTransportService = { name: "node", bind }

/**
 * The datagram transport as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Datagram.DatagramTransport> = Layer.succeed(Datagram.DatagramTransport, transport)
