import { Effect, FiberId, Runtime } from "effect"
import type { Fiber } from "effect"
import type { Address } from "../Address.ts"
import { format } from "../Address.ts"
import type { Connection, ConnectionError } from "../Connection.ts"
import { EOF } from "../Connection.ts"
import type { Header, ListenerStats, Options, ProxyInfo, ProxyProtocolErrorReason } from "../ProxyProtocol.ts"
import { ProxyProtocolError } from "../ProxyProtocol.ts"
import { ConnectionImpl } from "./connection.ts"
import type { ResolvedOptions } from "./proxyProtocol.ts"
import { HeaderParser, listenerStats, resolveOptions } from "./proxyProtocol.ts"

/**
 * The PROXY protocol stage of a listener made with `proxyProtocol` (see
 * `ProxyProtocol.Options`): every accepted connection passes through it
 * before it is queued for `accept`. A trusted peer's header is read on a
 * fiber of its own (its timeout on the Clock, its refusal logged, through
 * the runtime of the fiber that accepts: a server's, a test's TestClock);
 * untrusted peers are refused or passed on as they are.
 *
 * The runtime is known from the first `accept` on: connections offered
 * before it wait (an OS accept backlog would hold them too).
 */
export class ProxyStage {
  private runtime: Runtime.Runtime<never> | undefined = undefined
  private waiting: Array<Connection> = []
  /** Connections whose header is being read, with their fiber once it is known. */
  private readonly reading = new Map<Connection, Fiber.RuntimeFiber<void> | undefined>()
  private closed = false
  private proxied = 0
  private local = 0
  private direct = 0
  private refused = 0
  private failed = 0

  constructor(
    private readonly options: ResolvedOptions,
    /** Queues a connection whose header was read (or a direct one) for `accept`. */
    private readonly ready: (conn: Connection) => void
  ) {}

  /** Registers the counters of the listener whose `accept` this is (`ProxyProtocol.stats`). */
  register(accept: object): void {
    listenerStats.set(accept, () => this.stats())
  }

  get started(): boolean {
    return this.runtime !== undefined
  }

  /** Connections offered and not yet queued (they count against the accept queue). */
  inFlight(): number {
    return this.waiting.length + this.reading.size
  }

  offer(conn: Connection): void {
    if (this.runtime === undefined) this.waiting.push(conn)
    else this.begin(conn, this.runtime)
  }

  /** The runtime of the first accepting fiber: connections waiting for it begin. */
  start(runtime: Runtime.Runtime<never>): void {
    if (this.runtime !== undefined || this.closed) return
    this.runtime = runtime
    const waiting = this.waiting
    this.waiting = []
    for (const conn of waiting) this.begin(conn, runtime)
  }

  /** The listener closed: headers being read are abandoned, their connections reset. */
  close(): void {
    this.closed = true
    const waiting = this.waiting
    this.waiting = []
    for (const conn of waiting) Effect.runFork(conn.abort)
    for (const [conn, fiber] of this.reading) {
      if (fiber !== undefined) fiber.unsafeInterruptAsFork(FiberId.none)
      else Effect.runFork(conn.abort)
    }
  }

  private stats(): ListenerStats {
    return {
      proxied: this.proxied,
      local: this.local,
      direct: this.direct,
      refused: this.refused,
      failed: this.failed,
      pending: this.inFlight()
    }
  }

  private begin(conn: Connection, runtime: Runtime.Runtime<never>): void {
    const peer = conn.remoteAddress
    if (!this.options.trusts(peer)) {
      if (this.options.direct) {
        this.direct++
        this.ready(conn)
        return
      }
      this.refused++
      const error = new ProxyProtocolError({
        reason: "Untrusted",
        peer,
        bytes: 0,
        detail: `${format(peer)} is not in the trusted list, and untrusted peers are refused`
      })
      Runtime.runFork(runtime)(Effect.zipRight(logRefusal(conn, error), conn.close))
      return
    }
    this.reading.set(conn, undefined)
    const fiber = Runtime.runFork(runtime)(this.readHeader(conn))
    if (this.reading.has(conn)) this.reading.set(conn, fiber)
  }

  private readHeader(conn: Connection): Effect.Effect<void> {
    const peer = conn.remoteAddress
    const parser = new HeaderParser(
      this.options,
      (reason, detail, bytes) => new ProxyProtocolError({ reason, peer, bytes, detail })
    )
    const fail = (reason: ProxyProtocolErrorReason, detail: string, cause?: ConnectionError) =>
      Effect.fail(new ProxyProtocolError({ reason, peer, bytes: parser.seen(), detail, cause }))
    const step: Effect.Effect<void, ProxyProtocolError> = Effect.flatMap(
      Effect.catchAll(
        conn.read,
        (error) => fail("Truncated", `the connection failed before the header's end: ${error.message}`, error)
      ),
      (chunk) => {
        if (chunk === EOF) {
          return fail(
            "Truncated",
            parser.seen() === 0
              ? "the peer ended the connection without sending anything"
              : "the peer ended the connection inside the header"
          )
        }
        const result = parser.feed(chunk)
        if (result._tag === "NeedMore") return step
        if (result._tag === "Failed") return Effect.fail(result.error)
        return Effect.sync(() => this.apply(conn, result.header, chunk.subarray(result.consumed)))
      }
    )
    const timeout = this.options.timeoutMillis
    // interruptible whatever the flags of the runtime it was lent: closing the listener interrupts it
    return Effect.interruptible(step).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new ProxyProtocolError({
            reason: "Timeout",
            peer,
            bytes: parser.seen(),
            timeout,
            detail: "the whole header did not arrive in time"
          })
      }),
      Effect.catchAll((error) => {
        this.failed++
        return Effect.zipRight(logRefusal(conn, error), conn.close)
      }),
      Effect.onInterrupt(() => conn.abort),
      Effect.ensuring(Effect.sync(() => this.reading.delete(conn)))
    )
  }

  private apply(conn: Connection, header: Header, rest: Uint8Array): void {
    if (!(conn instanceof ConnectionImpl)) {
      throw new TypeError("a listener's connection not made by Driver.makeConnection")
    }
    const info: ProxyInfo = { header, peer: conn.remoteAddress, local: conn.localAddress }
    const client = header.command === "PROXY" && header.source !== undefined && header.destination !== undefined
    if (client) this.proxied++
    else this.local++
    conn.proxied(
      info,
      client ? header.destination! : conn.localAddress,
      client ? header.source! : conn.remoteAddress,
      rest
    )
    if (this.closed) Effect.runFork(conn.abort)
    else this.ready(conn)
  }
}

/**
 * A peer that connects and leaves without a byte is a proxy's plain TCP
 * health check (HAProxy's `check` without `check-send-proxy`): Debug. The
 * rest, a proxy or a client that is wrong, is worth a Warning.
 */
const logRefusal = (conn: Connection, error: ProxyProtocolError): Effect.Effect<void> =>
  (error.reason === "Truncated" && error.bytes === 0 ? Effect.logDebug : Effect.logWarning)(
    "PROXY protocol: connection refused",
    error
  ).pipe(Effect.annotateLogs({ connection: conn.id, peer: formatSafe(conn.remoteAddress) }))

const formatSafe = (address: Address): string => {
  try {
    return format(address)
  } catch {
    return "unknown"
  }
}

/**
 * The stage for a listener's options, or why the listen must fail (`undefined`
 * without `proxyProtocol`).
 */
export const makeStage = (
  options: { readonly proxyProtocol?: Options | undefined; readonly tls?: unknown } | undefined,
  ready: (conn: Connection) => void
): ProxyStage | ProxyProtocolError | undefined => {
  const proxyProtocol = options?.proxyProtocol
  if (proxyProtocol === undefined) return undefined
  const invalid = (detail: string) => new ProxyProtocolError({ reason: "InvalidOptions", bytes: 0, detail })
  if (options?.tls !== undefined) {
    return invalid(
      "proxyProtocol on a TLS listener: the proxy sends its header before the TLS handshake, which the transport runs first (terminate TLS at the proxy, or listen in plain text and upgrade after the header with Connection.startTls)"
    )
  }
  const resolved = resolveOptions(proxyProtocol)
  if (typeof resolved === "string") return invalid(resolved)
  return new ProxyStage(resolved, ready)
}
