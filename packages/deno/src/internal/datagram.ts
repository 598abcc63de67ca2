import { Datagram } from "@wirekit/core"
import type { Address } from "@wirekit/core"
import { Effect } from "effect"
import type { Scope } from "effect"
import { errorCode } from "../DenoTransport.ts"
import { ipBytes } from "./reset.ts"

type TcpAddress = Address.TcpAddress

// ---------------------------------------------------------------------------
// The slice of Deno's unstable UDP API used here (Deno 2.x, `--unstable-net`;
// checked against `deno types --unstable-net` of Deno 2.9.5 and by experiment)
// ---------------------------------------------------------------------------

/** A UDP endpoint as Deno takes and reports it. */
interface UdpAddr {
  readonly transport: "udp"
  readonly hostname: string
  readonly port: number
}

/** Membership of an IPv4 group; `setTTL` sets IP_MULTICAST_TTL of the whole socket. */
interface MulticastV4Membership {
  leave(): Promise<void>
  setTTL(ttl: number): Promise<void>
}

/** Membership of an IPv6 group. */
interface MulticastV6Membership {
  leave(): Promise<void>
}

/** `Deno.DatagramConn` over UDP. */
interface DatagramConn {
  /**
   * The next datagram. Into `p` when given (a view of `p`, silently cut to its
   * length), else into a fresh 65507-byte buffer per datagram. Concurrent
   * calls are allowed. Rejects with `Interrupted` when the socket is closed.
   */
  receive(p?: Uint8Array): Promise<[Uint8Array, UdpAddr]>
  /**
   * Sends `p` (kept, not copied, until the promise settles) to `addr`, whose
   * hostname may be a name (looked up). Rejects with the OS error
   * (`EMSGSIZE`, `EAFNOSUPPORT`) or `BadResource` once closed.
   */
  send(p: Uint8Array, addr: UdpAddr): Promise<number>
  /** Throws `BadResource` when already closed. */
  close(): void
  readonly addr: UdpAddr
  joinMulticastV4(group: string, iface: string): Promise<MulticastV4Membership>
  /** `iface` is an interface index (0: the default one). */
  joinMulticastV6(group: string, iface: number): Promise<MulticastV6Membership>
}

/**
 * Options of `Deno.listenDatagram` for UDP. Deno sets SO_BROADCAST on every
 * UDP socket and binds `::` dual-stack (no IPV6_V6ONLY option).
 */
interface UdpListenOptions {
  readonly transport: "udp"
  readonly hostname: string
  readonly port: number
  /** SO_REUSEADDR. */
  readonly reuseAddress?: boolean
  /** IP_MULTICAST_LOOP; Deno's default is `false`. */
  readonly loopback?: boolean
}

/** `Deno.listenDatagram`: undefined without `--unstable-net`. Throws the bind error. */
type ListenDatagram = (options: UdpListenOptions) => DatagramConn

const listenDatagram = (): ListenDatagram | undefined => {
  const deno = (globalThis as { readonly Deno?: { readonly listenDatagram?: unknown } }).Deno
  const f = deno?.listenDatagram
  return typeof f === "function" ? (f as ListenDatagram).bind(deno) : undefined
}

// ---------------------------------------------------------------------------

/**
 * Receives pending at once, each into its own buffer. Deno completes at most
 * one `receive` per call and event-loop turn, so with one pending a burst
 * costs a turn (and a `pump` call) per datagram; with several, a turn
 * delivers up to this many, in order (pending receives take the datagrams in
 * the order their completions run, which is the order they are handed on),
 * and they reach the receiver as one batch: the core is told the turn's
 * receives are over from a microtask queued after their completions.
 */
const receivers = 4

/**
 * Datagrams of at most `smallDatagram` bytes are copied into a shared slab
 * (only ever appended to): one allocation per many small datagrams instead of
 * one each. A datagram kept by a consumer keeps its slab (`slabSize`) alive.
 */
const smallDatagram = 2 * 1024
const slabSize = 32 * 1024
let slab = new Uint8Array(0)
let slabUsed = 0

/** A copy of `view` that the core may keep. */
const copyOut = (view: Uint8Array): Uint8Array => {
  const n = view.length
  if (n > smallDatagram) return view.slice()
  if (slabUsed + n > slab.length) {
    slab = new Uint8Array(slabSize)
    slabUsed = 0
  }
  const out = slab.subarray(slabUsed, slabUsed + n)
  out.set(view)
  slabUsed += (n + 7) & ~7
  return out
}

const failure = (operation: Datagram.DatagramOperation, cause: unknown, address: TcpAddress | undefined) => {
  const code = errorCode(cause)
  return new Datagram.DatagramError({ reason: Datagram.reasonOf(code), operation, address, code, cause })
}

const unsupported = (address: TcpAddress, detail: string) =>
  new Datagram.DatagramError({ reason: "Unsupported", operation: "bind", address, code: "ENOTSUP", detail })

/** An error with a `code`, as the core maps it (thrown from multicast calls). */
const coded = (code: string, message: string) => Object.assign(new Error(message), { code })

const membershipKey = (group: string, iface: string | undefined) => `${group}%${iface ?? ""}`

/**
 * One `Deno.DatagramConn` seen by the core:
 *
 * - `receivers` receive loops, each into a buffer of its own of
 *   `maxDatagramSize + 1` bytes (Deno would otherwise allocate 64 KiB per
 *   datagram), each datagram copied out at its size and handed to the core;
 * - sends in order, one in flight: Deno runs concurrent sends last first
 *   (ten sends made in one turn arrive reversed), so the others wait in a
 *   queue here. Once `sendQueue` datagrams are in Deno's hands (queued or in
 *   flight) the core waits, until at most half of that are. A send Deno
 *   rejects fails the next `send` (`events.error`);
 * - connected mode: the core's emulation (Deno cannot connect a UDP socket);
 *   Deno reports no ICMP errors, so `Refused` is never heard.
 */
class DenoDatagramDriver implements Datagram.DatagramDriver {
  events!: Datagram.DatagramEvents
  private closed = false
  /** Settles once the receive loop is over: Deno releases the port only when the pending receive has failed. */
  readonly released: Promise<void>
  private release!: () => void
  // sends waiting for their turn (one in flight: Deno runs concurrent sends last first)
  private queue: Array<Uint8Array | undefined> = []
  private queueTo: Array<UdpAddr | undefined> = []
  private head = 0
  private sending = false
  private full = false
  private readonly resumeAt: number
  /** The last destination and its Deno form: replies to one peer reuse it. */
  private lastTo: TcpAddress | undefined = undefined
  private lastAddr: UdpAddr | undefined = undefined
  private readonly memberships = new Map<string, Promise<MulticastV4Membership | MulticastV6Membership>>()
  private flushScheduled = false
  /** The end of a turn's receives: the core hands them on as one batch. */
  private readonly flush = () => {
    this.flushScheduled = false
    if (!this.closed) this.events.flush()
  }
  private readonly sent = () => this.sendNext()
  private readonly failed = (error: unknown) => {
    if (!this.closed) this.events.error(errorCode(error), error)
    this.sendNext()
  }

  constructor(readonly conn: DatagramConn, readonly options: Datagram.ResolvedBindOptions) {
    this.resumeAt = options.sendQueue >>> 1
    this.released = new Promise((resolve) => {
      this.release = resolve
    })
  }

  start(events: Datagram.DatagramEvents): this {
    this.events = events
    const loops: Array<Promise<void>> = []
    for (let k = 0; k < receivers; k++) loops.push(this.receiveLoop())
    Promise.all(loops).then(() => this.release(), () => {
      // a defect past the core's own containment: release the socket rather than leave it half alive
      this.release()
      if (this.closed) return
      this.close()
      this.events.closedByRuntime()
    })
    return this
  }

  private async receiveLoop(): Promise<void> {
    // one byte more than the largest datagram accepted: a longer one shows as too long, and the core drops it
    const buffer = new Uint8Array(this.options.maxDatagramSize + 1)
    const conn = this.conn
    while (!this.closed) {
      let received: [Uint8Array, UdpAddr]
      try {
        received = await conn.receive(buffer)
      } catch (error) {
        if (this.closed) return
        const code = errorCode(error)
        if (code === "EINTR" || code === "EBADF") {
          // closed under us
          this.closed = true
          return this.events.closedByRuntime()
        }
        this.events.error(code, error)
        continue
      }
      if (this.closed) return
      const from = received[1]
      this.events.message(copyOut(received[0]), from.hostname, from.port)
      if (!this.flushScheduled) {
        this.flushScheduled = true
        queueMicrotask(this.flush)
      }
    }
  }

  private get queued(): number {
    return this.queue.length - this.head
  }

  /** Starts the next queued send, if any (the one in flight, if any, is done); tells the core when there is room. */
  private sendNext(): void {
    if (this.closed) return
    if (this.full && this.queued <= this.resumeAt) {
      this.full = false
      this.events.writable()
      if (this.closed) return
    }
    const i = this.head
    if (i === this.queue.length) {
      this.sending = false
      this.queue.length = 0
      this.queueTo.length = 0
      this.head = 0
      return
    }
    const data = this.queue[i]!
    const addr = this.queueTo[i]!
    this.queue[i] = undefined
    this.queueTo[i] = undefined
    this.head = i + 1
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.queueTo = this.queueTo.slice(this.head)
      this.head = 0
    }
    this.sending = true
    try {
      this.conn.send(data, addr).then(this.sent, this.failed)
    } catch (error) {
      queueMicrotask(() => this.failed(error))
    }
  }

  send(data: Uint8Array, to: TcpAddress | undefined): Datagram.SendOutcome {
    if (this.closed) return "closed"
    if (to === undefined) {
      // the core hands the destination itself when it emulates connected mode
      this.events.error("EDESTADDRREQ", undefined)
      return "sent"
    }
    let addr = this.lastAddr
    if (to !== this.lastTo || addr === undefined) {
      addr = this.lastAddr = { transport: "udp", hostname: to.host, port: to.port }
      this.lastTo = to
    }
    this.queue.push(data)
    this.queueTo.push(addr)
    if (!this.sending) this.sendNext()
    // in Deno's hands: the queue and the send in flight
    if (this.queued + 1 >= this.options.sendQueue) {
      this.full = true
      return "full"
    }
    return "sent"
  }

  joinMulticast(group: string, iface: string | undefined): Promise<void> {
    const key = membershipKey(group, iface)
    if (this.memberships.has(key)) return Promise.reject(coded("EADDRINUSE", `already a member of ${group}`))
    let joined: Promise<MulticastV4Membership | MulticastV6Membership>
    if (group.includes(":")) {
      if (iface !== undefined && !/^\d+$/.test(iface)) {
        return Promise.reject(
          coded("ENOTSUP", "Deno joins IPv6 groups by interface index: give the index as a string, or no interface")
        )
      }
      joined = this.conn.joinMulticastV6(group, iface === undefined ? 0 : Number(iface))
    } else {
      const ttl = this.options.multicast?.ttl
      joined = this.conn.joinMulticastV4(group, iface ?? "0.0.0.0").then(async (membership) => {
        if (ttl !== undefined) await membership.setTTL(ttl)
        return membership
      })
    }
    this.memberships.set(key, joined)
    return joined.then(
      () => undefined,
      (error: unknown) => {
        this.memberships.delete(key)
        throw withCode(error)
      }
    )
  }

  leaveMulticast(group: string, iface: string | undefined): Promise<void> {
    const key = membershipKey(group, iface)
    const membership = this.memberships.get(key)
    if (membership === undefined) return Promise.reject(coded("EADDRNOTAVAIL", `not a member of ${group}`))
    this.memberships.delete(key)
    return membership.then((m) => m.leave()).catch((error: unknown) => {
      throw withCode(error)
    })
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    try {
      this.conn.close()
    } catch {
      // already closed
    }
  }
}

/** Deno's error with the code the core maps (some Deno errors carry only a class name). */
const withCode = (error: unknown): unknown => {
  const code = errorCode(error)
  return code === undefined || (error as { readonly code?: unknown } | null)?.code === code
    ? error
    : coded(code, error instanceof Error ? error.message : String(error))
}

const isWildcardV6 = (host: string) => {
  const b = ipBytes(host)
  return b !== undefined && b.length === 16 && b.every((x) => x === 0)
}

/** What Deno cannot honour among the resolved options, as a bind error. */
const refusal = (address: TcpAddress, options: Datagram.ResolvedBindOptions): Datagram.DatagramError | undefined => {
  if (options.ipv6Only && isWildcardV6(options.host)) {
    return unsupported(address, "Deno.listenDatagram has no IPV6_V6ONLY option: it binds :: dual-stack")
  }
  const multicast = options.multicast
  if (multicast?.interface !== undefined) {
    return unsupported(
      address,
      "Deno has no IP_MULTICAST_IF: multicast leaves by the routing table; leave multicast.interface out"
    )
  }
  const ttl = multicast?.ttl
  if (ttl !== undefined && ttl !== 1 && !(multicast?.groups ?? []).some((g) => !g.includes(":"))) {
    return unsupported(
      address,
      "Deno sets the multicast TTL only through an IPv4 group membership: join a group in multicast.groups"
    )
  }
  return undefined
}

/** Binds a `Deno.listenDatagram` socket and wraps it in a core socket (see `DenoDatagram.bind`). */
export const bind = (
  options: Datagram.BindOptions | undefined
): Effect.Effect<Datagram.DatagramSocket, Datagram.DatagramError, Scope.Scope> =>
  Effect.suspend(() => {
    let driver: DenoDatagramDriver | undefined
    // Finalizers run last added first: this one runs after the socket's close and waits
    // until Deno has released the port, so the address is free once the scope is closed.
    return Effect.zipRight(
      Effect.addFinalizer(() => driver === undefined ? Effect.void : Effect.promise(() => driver!.released)),
      scopedBind(options, (d) => {
        driver = d
      })
    )
  })

const scopedBind = (
  options: Datagram.BindOptions | undefined,
  onDriver: (driver: DenoDatagramDriver) => void
): Effect.Effect<Datagram.DatagramSocket, Datagram.DatagramError, Scope.Scope> =>
  Datagram.scopedSocket(Effect.suspend(() => {
    const resolved = Datagram.resolveOptions(options)
    if (resolved instanceof Datagram.DatagramError) return Effect.fail(resolved)
    const address: TcpAddress = { host: resolved.host, port: resolved.port }
    const listen = listenDatagram()
    if (listen === undefined) {
      return Effect.fail(unsupported(
        address,
        "Deno's UDP sockets (Deno.listenDatagram) are unstable: run deno with the --unstable-net flag"
      ))
    }
    const refused = refusal(address, resolved)
    if (refused !== undefined) return Effect.fail(refused)
    let conn: DatagramConn
    try {
      conn = listen({
        transport: "udp",
        hostname: resolved.host,
        port: resolved.port,
        reuseAddress: resolved.reuseAddr,
        // the contract's default is the OS's (loop back), not Deno's
        loopback: resolved.multicast?.loopback ?? true
      })
    } catch (cause) {
      return Effect.fail(failure("bind", cause, address))
    }
    const driver = new DenoDatagramDriver(conn, resolved)
    onDriver(driver)
    return Effect.succeed(Datagram.makeSocket(
      { address: { host: conn.addr.hostname, port: conn.addr.port }, batched: true, options: resolved },
      (events) => driver.start(events)
    ))
  }))
