import { Duration, Effect } from "effect"
import type { TcpAddress } from "../../Address.ts"
import { isIPv6 } from "../../Address.ts"
import type { BindOptions, DatagramDriver, DatagramEvents, ResolvedBindOptions, SendOutcome } from "../../Datagram.ts"
import { DatagramError } from "../../Datagram.ts"
import type { FaultStats, MemoryDatagramOptions, MemoryNetwork } from "../../MemoryDatagram.ts"
import { formatIPv6, parseIPv6 } from "../ip.ts"
import { makeSocket, resolveOptions, scopedSocket } from "./socket.ts"

/**
 * mulberry32: a tiny PRNG with a 32-bit state, plenty for fault injection and
 * reproducible from its seed on every runtime.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The one spelling of an address on this network (RFC 5952 for IPv6,
 * "localhost" as the loopback address), so that every form of an address
 * reaches the same socket.
 */
const canonical = (host: string, ipv6: boolean): string => {
  if (host === "localhost") return ipv6 ? "::1" : "127.0.0.1"
  if (!isIPv6(host)) return host
  const bytes = parseIPv6(host)
  return bytes === undefined ? host : formatIPv6(bytes)
}

const isWildcard = (host: string) => host === "0.0.0.0" || host === "::"
const isMulticast = (host: string) => {
  if (isIPv6(host)) return host.toLowerCase().startsWith("ff")
  const first = Number(host.split(".")[0])
  return first >= 224 && first <= 239
}
const isBroadcast = (host: string) => host === "255.255.255.255"

const probability = (name: string, p: number | undefined): number => {
  if (p === undefined) return 0
  if (!(p >= 0 && p <= 1)) throw new RangeError(`MemoryDatagram: ${name} must be a probability in 0..1, got ${p}`)
  return p
}

/** One bound socket of the network. */
interface Endpoint {
  readonly host: string
  readonly port: number
  readonly ipv6: boolean
  readonly options: ResolvedBindOptions
  readonly events: DatagramEvents
  readonly groups: Set<string>
  remote: TcpAddress | undefined
  /** Datagrams sent and not yet on the wire (bounded by `sendBuffer`). */
  inFlight: number
  full: boolean
  /** Datagrams were delivered to it in the current wake-up. */
  touched: boolean
  closed: boolean
}

/** A datagram on its way. */
interface Packet {
  readonly from: Endpoint
  readonly to: TcpAddress
  readonly data: Uint8Array
}

/**
 * The network's logic; `later` runs an effect in the background under the
 * network's runtime (its Clock), interrupted when the network's scope closes.
 */
export function makeNetwork(
  options: MemoryDatagramOptions | undefined,
  later: (effect: Effect.Effect<void>) => void
): MemoryNetwork {
  const loss = probability("loss", options?.loss)
  const duplicate = probability("duplicate", options?.duplicate)
  const reorder = probability("reorder", options?.reorder)
  const delay = options?.delay
  const minDelay = delay === undefined ? 0 : typeof delay === "number" ? delay : delay.min
  const maxDelay = delay === undefined ? 0 : typeof delay === "number" ? delay : delay.max
  if (!(minDelay >= 0 && maxDelay >= minDelay)) {
    throw new RangeError(`MemoryDatagram: delay must be >= 0 with min <= max`)
  }
  const random = prng(options?.seed ?? 1)
  const sendBuffer = options?.sendBuffer ?? 256
  const firstPort = options?.firstEphemeralPort ?? 50000
  let nextPort = firstPort

  /** The sockets bound to each port, per family: a datagram looks at its port's only. */
  const byPort = new Map<number, Array<Endpoint>>()
  const keyOf = (port: number, ipv6: boolean) => ipv6 ? -port - 1 : port
  const boundTo = (port: number, ipv6: boolean): ReadonlyArray<Endpoint> => byPort.get(keyOf(port, ipv6)) ?? []
  const stats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    delayed: 0,
    overflowed: 0,
    undeliverable: 0
  }
  const maxDelayed = options?.maxDelayed ?? 65_536
  let delaying = 0

  const portUsed = (port: number, ipv6: boolean) => {
    return boundTo(port, ipv6).length > 0
  }
  const allocPort = (ipv6: boolean): number => {
    for (let i = 0; i < 65536 - firstPort; i++) {
      const port = nextPort
      nextPort = nextPort >= 65535 ? firstPort : nextPort + 1
      if (!portUsed(port, ipv6)) return port
    }
    return -1
  }
  const conflicts = (host: string, port: number, ipv6: boolean, reuse: boolean) => {
    for (const e of boundTo(port, ipv6)) {
      if (e.host !== host && !isWildcard(e.host) && !isWildcard(host)) continue
      if (!(reuse && e.options.reuseAddr)) return true
    }
    return false
  }
  /** Whether `e` receives what is sent to `to`. */
  const accepts = (e: Endpoint, to: TcpAddress) => {
    if (e.closed || e.port !== to.port || e.ipv6 !== isIPv6(to.host)) return false
    if (isMulticast(to.host)) return e.groups.has(to.host)
    if (isBroadcast(to.host)) return e.options.broadcast || isWildcard(e.host)
    return e.host === to.host || isWildcard(e.host)
  }
  /** The address a datagram from `e` comes from, as receivers see it. */
  const sourceOf = (e: Endpoint): TcpAddress =>
    isWildcard(e.host) ? { host: e.ipv6 ? "::1" : "127.0.0.1", port: e.port } : { host: e.host, port: e.port }

  // ---- the wire: a batch per microtask, then the fault model --------------

  let wire: Array<Packet> = []
  let scheduled = false
  let heldBack: Packet | undefined

  const transmit = (packet: Packet) => {
    stats.sent++
    if (loss > 0 && random() < loss) {
      stats.lost++
      return
    }
    // a duplicate has bytes of its own: each arrival is handed to its receiver
    const twin = duplicate > 0 && random() < duplicate ? { ...packet, data: packet.data.slice() } : undefined
    if (twin !== undefined) stats.duplicated++
    if (reorder > 0 && heldBack === undefined && random() < reorder) {
      // held back: it arrives right after the next datagram (or at the end of this batch)
      stats.reordered++
      heldBack = packet
      if (twin !== undefined) schedule(twin)
      return
    }
    schedule(packet)
    if (twin !== undefined) schedule(twin)
    const held = heldBack
    if (held !== undefined) {
      heldBack = undefined
      schedule(held)
    }
  }

  const schedule = (packet: Packet) => {
    if (maxDelay <= 0) return arrive(packet)
    const ms = minDelay + random() * (maxDelay - minDelay)
    if (delaying >= maxDelayed) {
      // a router's queue is finite too: past it the datagram is lost
      stats.overflowed++
      return
    }
    stats.delayed++
    delaying++
    later(Effect.zipRight(
      Effect.sleep(Duration.millis(ms)),
      Effect.sync(() => {
        delaying--
        arrive(packet)
        endWakeUp()
      })
    ))
  }

  const arrive = (packet: Packet) => {
    const to = packet.to
    const source = sourceOf(packet.from)
    let delivered = false
    const bound = boundTo(to.port, isIPv6(to.host))
    const group = isMulticast(to.host) || isBroadcast(to.host)
    // to several receivers: a copy, as one of them may close a socket while it is handed the datagram
    for (const e of group ? [...bound] : bound) {
      if (!accepts(e, to)) continue
      if (e === packet.from && isMulticast(to.host) && packet.from.options.multicast?.loopback === false) continue
      // a connected socket takes only its peer's datagrams, as the OS filters them
      if (e.remote !== undefined && (e.remote.port !== source.port || e.remote.host !== source.host)) continue
      stats.delivered++
      // each receiver owns its bytes, as from a kernel: the first takes the packet's (copied at send)
      e.events.message(delivered ? packet.data.slice() : packet.data, source.host, source.port)
      if (!e.touched) {
        e.touched = true
        touched.push(e)
      }
      delivered = true
      // unicast reaches one socket, as with SO_REUSEADDR on Linux
      if (!isMulticast(to.host) && !isBroadcast(to.host)) break
    }
    if (!delivered) {
      stats.undeliverable++
      // an ICMP port unreachable: a connected sender hears of it
      const from = packet.from
      if (from.remote !== undefined && !from.closed && !isMulticast(to.host) && !isBroadcast(to.host)) {
        from.events.error("ECONNREFUSED", new Error(`nothing bound at ${to.host}:${to.port}`))
      }
    }
  }

  /** Receivers of the datagrams delivered in this wake-up of the wire. */
  let touched: Array<Endpoint> = []
  /** The wire's wake-up is over: each receiver gets what arrived as one batch. */
  const endWakeUp = () => {
    if (touched.length === 0) return
    const receivers = touched
    touched = []
    for (const e of receivers) {
      e.touched = false
      e.events.flush()
    }
  }

  const flush = () => {
    scheduled = false
    const batch = wire
    wire = []
    for (const packet of batch) {
      packet.from.inFlight--
      transmit(packet)
    }
    const held = heldBack
    if (held !== undefined) {
      heldBack = undefined
      schedule(held)
    }
    endWakeUp()
    // senders whose buffer was full have room again
    for (const packet of batch) {
      const e = packet.from
      if (e.full && !e.closed && e.inFlight < sendBuffer) {
        e.full = false
        e.events.writable()
      }
    }
  }

  const bind = (bindOptions?: BindOptions) =>
    scopedSocket(Effect.suspend(() => {
      const resolved = resolveOptions(bindOptions)
      if (resolved instanceof DatagramError) return Effect.fail(resolved)
      const ipv6 = resolved.ipv6
      const host = canonical(resolved.host, ipv6)
      const address = { host: resolved.host, port: resolved.port }
      const port = resolved.port === 0 ? allocPort(ipv6) : resolved.port
      if (port < 0 || conflicts(host, port, ipv6, resolved.reuseAddr)) {
        return Effect.fail(
          new DatagramError({
            reason: "AddressInUse",
            operation: "bind",
            address,
            code: "EADDRINUSE"
          })
        )
      }
      const bound = { host, port }
      return Effect.succeed(
        makeSocket({ address: bound, options: resolved, batched: true }, (events): DatagramDriver => {
          const endpoint: Endpoint = {
            host,
            port,
            ipv6,
            options: resolved,
            events,
            groups: new Set(),
            remote: undefined,
            inFlight: 0,
            full: false,
            touched: false,
            closed: false
          }
          const key = keyOf(port, ipv6)
          const list = byPort.get(key)
          if (list === undefined) byPort.set(key, [endpoint])
          else list.push(endpoint)
          return {
            send: (data, to): SendOutcome => {
              if (endpoint.closed) return "closed"
              const dest = to === undefined
                ? endpoint.remote!
                : { host: canonical(to.host, isIPv6(to.host)), port: to.port }
              if (isBroadcast(dest.host) && !resolved.broadcast) {
                events.error("EACCES", new Error("broadcast without the broadcast option"))
                return "sent"
              }
              // the kernel copies on send: the caller may reuse its memory
              wire.push({ from: endpoint, to: dest, data: data.slice() })
              endpoint.inFlight++
              if (!scheduled) {
                scheduled = true
                queueMicrotask(flush)
              }
              if (endpoint.inFlight >= sendBuffer) {
                endpoint.full = true
                return "full"
              }
              return "sent"
            },
            connect: (to, done) => {
              if (isIPv6(to.host) !== ipv6) return done({ code: "EAFNOSUPPORT" })
              endpoint.remote = { host: canonical(to.host, ipv6), port: to.port }
              done()
            },
            disconnect: () => {
              endpoint.remote = undefined
            },
            joinMulticast: (group) => {
              if (!isMulticast(group) || isIPv6(group) !== ipv6) {
                throw Object.assign(new Error(`not a multicast group: ${group}`), { code: "EINVAL" })
              }
              endpoint.groups.add(group)
            },
            leaveMulticast: (group) => {
              if (!endpoint.groups.delete(group)) {
                throw Object.assign(new Error(`not a member of ${group}`), { code: "EADDRNOTAVAIL" })
              }
            },
            close: () => {
              endpoint.closed = true
              const list = byPort.get(keyOf(port, ipv6))!
              list.splice(list.indexOf(endpoint), 1)
              if (list.length === 0) byPort.delete(keyOf(port, ipv6))
            }
          }
        })
      )
    }))

  return { name: "memory", bind, faults: (): FaultStats => ({ ...stats }) }
}
