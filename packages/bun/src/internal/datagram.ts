/// <reference path="../bun-types.d.ts" />
import { Datagram } from "@wirekit/core"
import type { Address } from "@wirekit/core"
import { Effect } from "effect"
import type { Scope } from "effect"
import { isIP } from "node:net"

type TcpAddress = Address.TcpAddress
type UdpSocket = WirekitBun.UdpSocket

// Bind flags of `Bun.udpSocket` (the values Bun's own node:dgram passes).
const reuseAddrFlag = 16
const ipv6OnlyFlag = 8
/** Fail the bind rather than go on without a reuse flag the OS refused. */
const strictReuseFlag = 32

const runtime = (): WirekitBun.Runtime | undefined => (globalThis as { readonly Bun?: WirekitBun.Runtime }).Bun

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { readonly code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * One bound `Bun.udpSocket` seen by the core. Bun calls `data` once per
 * datagram, with a fresh array of exactly its bytes (kept, not copied), and
 * runs the microtask queue after each call, so the end of a wake-up is only
 * seen from a `setImmediate`: each datagram goes to the core's queue at once,
 * and the core hands the wake-up's datagrams to the receiver as one batch at
 * `flush`, from an immediate the first one scheduled (a `batched` socket).
 *
 * Connected mode is the core's emulation: Bun can connect a UDP socket only
 * when it creates it. Bun turns IP_RECVERR on, so ICMP errors (`ECONNREFUSED`
 * after a send to a closed port) come back on unconnected sockets too; they
 * are reported to the core only while the socket is connected, where they
 * concern the one peer it sends to (a server talking to many peers must not
 * see one peer's error fail its next send to another).
 */
class BunDatagramDriver implements Datagram.DatagramDriver {
  events: Datagram.DatagramEvents | undefined = undefined
  socket: UdpSocket | undefined = undefined
  /** The core's socket: its `remoteAddress` says whether it is connected. */
  core: Datagram.DatagramSocket | undefined = undefined
  closed = false
  private flushScheduled = false
  private readonly flush = () => {
    this.flushScheduled = false
    if (!this.closed) this.events?.flush()
  }

  /** Bun's handlers, made once per socket. */
  readonly handlers: WirekitBun.UdpSocketHandler = {
    data: (_socket, data, port, address) => {
      // the core's events are wired before Bun's first wake-up of this socket
      const events = this.events
      if (events === undefined) return
      events.message(data, address, port)
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(this.flush)
      }
    },
    drain: () => {
      if (!this.closed) this.events?.writable()
    },
    error: (error) => {
      if (this.closed || this.events === undefined) return
      if (error.errqueue === true && this.core?.remoteAddress === undefined) return
      this.events.error(error.code, error)
    }
  }

  send(data: Uint8Array, to: TcpAddress | undefined): Datagram.SendOutcome {
    const socket = this.socket
    if (this.closed || socket === undefined) return "closed"
    if (to === undefined) {
      // the core hands the destination itself when it emulates connected mode
      this.events!.error("EDESTADDRREQ", undefined)
      return "sent"
    }
    try {
      return socket.send(data, to.port, to.host) ? "sent" : "retry"
    } catch (error) {
      if (socket.closed) return "closed"
      // a synchronous refusal (the other family, a broadcast without `broadcast: true`,
      // a host name): the next send fails with it
      if (isIP(to.host) === 0) {
        this.events!.error("ENOTSUP", new Error(`Bun sends datagrams to IP addresses only, not to "${to.host}"`))
      } else {
        this.events!.error(codeOf(error), error)
      }
      return "sent"
    }
  }

  joinMulticast(group: string, iface: string | undefined): void {
    this.membership(true, group, iface)
  }

  leaveMulticast(group: string, iface: string | undefined): void {
    this.membership(false, group, iface)
  }

  private membership(join: boolean, group: string, iface: string | undefined): void {
    const socket = this.socket!
    const ok = join ? socket.addMembership(group, iface) : socket.dropMembership(group, iface)
    // Bun throws the OS's refusal; a bare `false` has no code to tell more
    if (!ok) throw new Error(`${join ? "addMembership" : "dropMembership"} ${group} failed`)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.socket?.close()
  }
}

/** Applies the options Bun sets on a bound socket; throws the OS's refusal. */
const applyOptions = (socket: UdpSocket, options: Datagram.ResolvedBindOptions): void => {
  if (options.broadcast) socket.setBroadcast(true)
  const multicast = options.multicast
  if (multicast === undefined) return
  if (multicast.ttl !== undefined) socket.setMulticastTTL(multicast.ttl)
  if (multicast.loopback !== undefined) socket.setMulticastLoopback(multicast.loopback)
  if (multicast.interface !== undefined) socket.setMulticastInterface(multicast.interface)
}

/** Binds a `Bun.udpSocket` and wraps it in a core socket (see `BunDatagram.bind`). */
export const bind = (
  options: Datagram.BindOptions | undefined
): Effect.Effect<Datagram.DatagramSocket, Datagram.DatagramError, Scope.Scope> =>
  Datagram.scopedSocket(Effect.suspend(() => {
    const resolved = Datagram.resolveOptions(options)
    if (resolved instanceof Datagram.DatagramError) return Effect.fail(resolved)
    const address: TcpAddress = { host: resolved.host, port: resolved.port }
    const bun = runtime()
    if (bun === undefined) {
      return Effect.fail(
        new Datagram.DatagramError({
          reason: "Unsupported",
          operation: "bind",
          address,
          detail: "@wirekit/bun needs the Bun runtime (globalThis.Bun is missing); use @wirekit/node on Node"
        })
      )
    }
    return Effect.async<Datagram.DatagramSocket, Datagram.DatagramError>((resume) => {
      const driver = new BunDatagramDriver()
      let abandoned = false
      const flags = strictReuseFlag | (resolved.reuseAddr ? reuseAddrFlag : 0) |
        (resolved.ipv6 && resolved.ipv6Only ? ipv6OnlyFlag : 0)
      let pending: Promise<UdpSocket>
      try {
        pending = bun.udpSocket({
          hostname: resolved.host,
          port: resolved.port,
          binaryType: "uint8array",
          flags,
          socket: driver.handlers
        })
      } catch (cause) {
        resume(Effect.fail(Datagram.fromCause("bind", cause, address)))
        return
      }
      pending.then(
        (socket) => {
          if (abandoned) return socket.close()
          driver.socket = socket
          try {
            applyOptions(socket, resolved)
          } catch (cause) {
            driver.close()
            return resume(Effect.fail(Datagram.fromCause("bind", cause, address)))
          }
          const core = Datagram.makeSocket(
            { address: { host: socket.address.address, port: socket.port }, batched: true, options: resolved },
            (events) => {
              driver.events = events
              return driver
            }
          )
          driver.core = core
          resume(Effect.succeed(core))
        },
        (cause: unknown) => resume(Effect.fail(Datagram.fromCause("bind", cause, address)))
      )
      return Effect.sync(() => {
        abandoned = true
      })
    })
  }))
