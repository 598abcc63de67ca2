/**
 * The datagram (UDP) contract: bind a socket, send datagrams to any peer or
 * to a connected one, and receive them as a pull (`take`, `takeBatch`,
 * `receive`) or a push (`pump`) stream of `{ data, from }`.
 *
 * `@wirekit/core` knows no runtime: `@wirekit/node`, `@wirekit/bun`,
 * `@wirekit/deno` and `MemoryDatagram` each provide
 * the {@link DatagramTransport} service, so swapping the runtime is swapping
 * one Layer. Adapters wrap the runtime's socket in a {@link DatagramDriver}
 * (see {@link makeSocket}); queueing, the drop policy, batching, connected
 * mode checks, size limits and counters live here, once, for every runtime.
 *
 * Datagrams are lossy by nature, and so is this contract, in a bounded way:
 *
 * ```
 *  peer ──UDP──▶ OS buffer ──▶ receive queue (≤ receiveQueue datagrams and
 *                              ≤ receiveQueueBytes bytes; past them the
 *                              overflow policy drops and counts) ──▶ you
 *  you ──send──▶ runtime's send buffer (full: send waits) ──▶ OS ──▶ peer
 * ```
 *
 * A datagram is delivered whole or not at all: never split, never merged.
 *
 * @example
 * ```ts
 * import { Datagram } from "@wirekit/core"
 * import { Effect } from "effect"
 *
 * // a UDP echo server: every batch of datagrams goes back to its senders.
 * // The Effect returned for a batch runs in place, inside the runtime's
 * // receive callback, unless it must wait (a full send buffer): then
 * // delivery pauses until it completes.
 * const echo = Effect.scoped(Effect.gen(function* () {
 *   const udp = yield* Datagram.DatagramTransport
 *   const socket = yield* udp.bind({ host: "127.0.0.1", port: 7000 })
 *   yield* socket.pump((batch) =>
 *     Effect.forEach(batch, (d) => socket.send(d.data, d.from), { discard: true })
 *   )
 * }))
 *
 * // a client: send, then wait for the answer
 * const ask = Effect.scoped(Effect.gen(function* () {
 *   const udp = yield* Datagram.DatagramTransport
 *   const socket = yield* udp.bind({ host: "127.0.0.1", port: 0 })
 *   yield* socket.send(new TextEncoder().encode("ping"), { host: "127.0.0.1", port: 7000 })
 *   const { data, from } = yield* socket.take
 * }))
 * ```
 * @since 0.1.0
 */
import { Context, Data } from "effect"
import type { Effect, Scope, Stream } from "effect"
import type { TcpAddress } from "./Address.ts"
import { format } from "./Address.ts"
import * as internal from "./internal/datagram/socket.ts"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * Why a datagram operation failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type DatagramErrorReason =
  /** EADDRINUSE: another socket is bound to that address (without `reuseAddr` on both). */
  | "AddressInUse"
  /** EADDRNOTAVAIL: the host is not an address of this machine (or not a usable multicast interface). */
  | "AddressNotAvailable"
  /** EACCES / EPERM: a privileged port, or a broadcast send without `broadcast: true`. */
  | "PermissionDenied"
  /** The datagram is larger than `maxDatagramSize` (`size`, `limit`), or the OS said EMSGSIZE. */
  | "MessageTooLarge"
  /** EHOSTUNREACH / ENETUNREACH: no route to the peer, where the OS reports it. */
  | "Unreachable"
  /** ECONNREFUSED: the connected peer has no socket on that port (an ICMP port unreachable came back). */
  | "Refused"
  /** The runtime cannot do it (e.g. Deno without `--unstable-net`, or an option the runtime lacks); `detail` says what. */
  | "Unsupported"
  /** Options out of range (e.g. `maxDatagramSize` past the UDP limit); `detail` says which. */
  | "InvalidOptions"
  /** `send` without a destination on a socket that is not connected. */
  | "NotConnected"
  /** `send` with a destination, or `connect` again, on a connected socket. */
  | "AlreadyConnected"
  /** The socket is closed. */
  | "Closed"
  /** Anything else; see `code` and `cause`. */
  | "Other"

/**
 * The operation that failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type DatagramOperation = "bind" | "send" | "connect" | "receive" | "multicast"

/**
 * A datagram operation failed, with the facts: the address concerned, the
 * size and limit of an oversize datagram, the OS code when there is one.
 *
 * @since 0.1.0
 * @category errors
 */
export class DatagramError extends Data.TaggedError("DatagramError")<{
  /** Why it failed. */
  readonly reason: DatagramErrorReason
  /** What failed. */
  readonly operation: DatagramOperation
  /** The bind address, the destination of a send, the connect target or the multicast group. */
  readonly address?: TcpAddress | undefined
  /** For `MessageTooLarge`: the datagram's size in bytes. */
  readonly size?: number | undefined
  /** For `MessageTooLarge`: the largest datagram allowed. */
  readonly limit?: number | undefined
  /** The OS or runtime error code (e.g. `EADDRINUSE`). */
  readonly code?: string | undefined
  /** A human explanation, for `Unsupported` and `InvalidOptions`. */
  readonly detail?: string | undefined
  /** The runtime's error, when there is one. */
  readonly cause?: unknown
}> {
  override get message(): string {
    const at = this.address ? ` ${format(this.address)}` : ""
    const size = this.size !== undefined ? ` (${this.size} bytes, limit ${this.limit})` : ""
    const detail = this.detail ? `: ${this.detail}` : ""
    const code = this.code ? ` [${this.code}]` : ""
    return `datagram ${this.operation}${at} failed: ${this.reason}${size}${detail}${code}`
  }
}

/**
 * Maps an OS / runtime error code to its typed reason (shared by every
 * adapter: POSIX names, plus Deno's `ERR_NOT_CAPABLE`).
 *
 * @since 0.1.0
 * @category errors
 */
export const reasonOf: (code: string | undefined) => DatagramErrorReason = internal.reasonOf

/**
 * Builds the typed error of a runtime failure: the reason from the cause's
 * `code` (see {@link reasonOf}), the code and the cause kept. For adapters.
 *
 * @example
 * ```ts
 * native.once("error", (cause) => fail(Datagram.fromCause("bind", cause, { host, port })))
 * ```
 * @since 0.1.0
 * @category errors
 */
export const fromCause: (
  operation: DatagramOperation,
  cause: unknown,
  address?: TcpAddress | undefined
) => DatagramError = internal.fromCause

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * The largest UDP payload over IPv4 (65535 - 8 bytes of UDP header - 20 of IP
 * header): the default and the upper bound of `maxDatagramSize` on IPv4.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxIPv4DatagramSize = 65_507

/**
 * The largest UDP payload over IPv6 without jumbograms (65535 - 8): the upper
 * bound of `maxDatagramSize` on IPv6.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxIPv6DatagramSize = 65_527

/**
 * Default bounds and limits of {@link BindOptions}.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: {
  /** Every IPv4 interface. */
  readonly host: string
  /** The largest UDP payload over IPv4. */
  readonly maxDatagramSize: number
  /** Datagrams in the receive queue. */
  readonly receiveQueue: number
  /** Bytes in the receive queue (4 MiB). */
  readonly receiveQueueBytes: number
  /** Datagrams handed to the runtime and not yet sent. */
  readonly sendQueue: number
  /** Drop what arrives at a full queue. */
  readonly overflow: OverflowPolicy
} = {
  host: "0.0.0.0",
  maxDatagramSize: maxIPv4DatagramSize,
  receiveQueue: 4096,
  receiveQueueBytes: 4 * 1024 * 1024,
  sendQueue: 1024,
  overflow: "dropNewest"
}

/**
 * What happens to a datagram that arrives when the receive queue is full
 * (`receiveQueue` datagrams or `receiveQueueBytes` bytes):
 *
 * - `"dropNewest"` (default): the arriving datagram is dropped, as a kernel
 *   drops what does not fit its socket buffer; what is queued is delivered.
 * - `"dropOldest"`: the oldest queued datagrams are dropped until the new one
 *   fits; the consumer sees the most recent traffic (telemetry, state updates).
 *
 * Either way the drop is counted in {@link DatagramStats.dropped} and memory
 * stays bounded.
 *
 * @since 0.1.0
 * @category options
 */
export type OverflowPolicy = "dropNewest" | "dropOldest"

/**
 * Multicast options applied at bind.
 *
 * @since 0.1.0
 * @category options
 */
export interface MulticastOptions {
  /** IP_MULTICAST_TTL: hops of outgoing multicast datagrams. Default 1 (the local network). */
  readonly ttl?: number | undefined
  /** IP_MULTICAST_LOOP: whether this host receives its own multicast datagrams. Default `true`. */
  readonly loopback?: boolean | undefined
  /** The local interface address outgoing multicast leaves from (IP_MULTICAST_IF). */
  readonly interface?: string | undefined
  /** Groups to join at bind, as {@link DatagramSocket.joinMulticast} would. */
  readonly groups?: ReadonlyArray<string> | undefined
}

/**
 * Options of {@link DatagramTransportService.bind}.
 *
 * @since 0.1.0
 * @category options
 */
export interface BindOptions {
  /** The local address to bind: an IPv4 or IPv6 literal. Default `"0.0.0.0"` (every IPv4 interface). */
  readonly host?: string | undefined
  /** The local port; `0` (default) lets the OS (or the memory network) choose a free one: see `address`. */
  readonly port?: number | undefined
  /** SO_REUSEADDR: let several sockets bind the same address (multicast receivers). Default `false`. */
  readonly reuseAddr?: boolean | undefined
  /** For an IPv6 host: IPv6 only, no IPv4-mapped traffic. Default `false`. */
  readonly ipv6Only?: boolean | undefined
  /** SO_BROADCAST: allow sends to a broadcast address. Default `false`. */
  readonly broadcast?: boolean | undefined
  /** Multicast TTL, loopback, interface and groups to join. */
  readonly multicast?: MulticastOptions | undefined
  /**
   * The largest datagram this socket sends or accepts, in bytes. A larger
   * `send` fails with `MessageTooLarge` before it reaches the OS; a larger
   * datagram received is dropped and counted. Default and upper bound
   * {@link maxIPv4DatagramSize} ({@link maxIPv6DatagramSize} on IPv6).
   */
  readonly maxDatagramSize?: number | undefined
  /** Datagrams received and not yet taken, at most. Default 4096. */
  readonly receiveQueue?: number | undefined
  /** Bytes of datagrams received and not yet taken, at most. Default 4 MiB. */
  readonly receiveQueueBytes?: number | undefined
  /** What a full receive queue does with a new datagram. Default `"dropNewest"`. */
  readonly overflow?: OverflowPolicy | undefined
  /**
   * Datagrams handed to the runtime and not yet sent, past which `send`
   * waits (for runtimes that queue sends without a bound of their own, as
   * `node:dgram` does). Default 1024.
   */
  readonly sendQueue?: number | undefined
  /** SO_RCVBUF, where the runtime can set it (ignored elsewhere). */
  readonly receiveBufferSize?: number | undefined
  /** SO_SNDBUF, where the runtime can set it (ignored elsewhere). */
  readonly sendBufferSize?: number | undefined
}

// ---------------------------------------------------------------------------
// The socket
// ---------------------------------------------------------------------------

/**
 * One received datagram: its bytes (owned by the receiver, whole) and its sender.
 *
 * @since 0.1.0
 * @category models
 */
export interface Datagram {
  /** The payload, whole. */
  readonly data: Uint8Array
  /** The sender's address (the socket it sent from). */
  readonly from: TcpAddress
}

/**
 * Live counters of one socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface DatagramStats {
  /** Datagrams the runtime delivered to this socket, dropped ones included. */
  readonly received: number
  /** Their bytes. */
  readonly receivedBytes: number
  /** Datagrams handed to the runtime for sending. */
  readonly sent: number
  /** Their bytes. */
  readonly sentBytes: number
  /**
   * Received datagrams dropped: by the overflow policy of a full receive
   * queue, for being larger than `maxDatagramSize`, or from another peer than
   * the connected one (where the core, not the OS, filters).
   */
  readonly dropped: number
  /** Their bytes. */
  readonly droppedBytes: number
  /** Datagrams given to `unsafeSend` while the send buffer was full and past what it keeps meanwhile, dropped. */
  readonly sendDropped: number
  /** Datagrams in the receive queue now. */
  readonly queued: number
  /** Their bytes. */
  readonly queuedBytes: number
  /** Errors the runtime reported after a send had been handed over (each fails the next `send` or `awaitWritable`). */
  readonly errors: number
}

/**
 * A bound UDP socket. Closing its scope closes it. One receiver at a time:
 * do not mix concurrent `take`, `takeBatch`, `receive` and `pump`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DatagramSocket {
  /** The bound address: for port 0, the port the OS chose. */
  readonly address: TcpAddress
  /** The connected peer, once {@link DatagramSocket.connect} succeeded. */
  readonly remoteAddress: TcpAddress | undefined
  /** The largest datagram this socket sends or accepts. */
  readonly maxDatagramSize: number
  /**
   * Sends one datagram: to `to`, or without it to the connected peer.
   * Completes once the runtime has taken it (not when it arrived: UDP says
   * nothing of that); waits while the runtime's send buffer is full. Fails
   * with `MessageTooLarge` past `maxDatagramSize`, `NotConnected` /
   * `AlreadyConnected` for a destination that does not fit the mode,
   * `Closed` after close, and with an error the runtime reported since the
   * previous send (e.g. `Refused` on a connected socket).
   */
  readonly send: (data: Uint8Array, to?: TcpAddress) => Effect.Effect<void, DatagramError>
  /**
   * Synchronous send for the `pump` callback. Returns `false` when the caller
   * should stop: the datagram was taken but the send buffer is full (call
   * {@link DatagramSocket.awaitWritable} before more), or it was not sent:
   * refused (oversize, wrong mode, closed: `send` would fail and say why),
   * or an error the runtime reported is pending (`awaitWritable` fails with
   * it). While the buffer is full, datagrams given anyway are kept, up to
   * `sendQueue` or `receiveQueue` of them, whichever is larger (so an answer
   * to each datagram of a batch is kept), and sent in order when there is
   * room; past that they are dropped and counted in `sendDropped`.
   */
  readonly unsafeSend: (data: Uint8Array, to?: TcpAddress) => boolean
  /**
   * Completes when the runtime's send buffer has room (at once if it has).
   * Fails with `Closed` after close, and with an error the runtime reported
   * since the previous send (which then no longer fails that send).
   */
  readonly awaitWritable: Effect.Effect<void, DatagramError>
  /**
   * Connected mode: `send` without a destination goes to `to`, only
   * datagrams from `to` are received (others are dropped and counted), and
   * the OS may report `Refused` when nothing listens there. Where the
   * runtime cannot connect a socket (the core then does it: see
   * {@link DatagramDriver.connect}), `to` must be an IP address.
   */
  readonly connect: (to: TcpAddress) => Effect.Effect<void, DatagramError>
  /** Leaves connected mode. */
  readonly disconnect: Effect.Effect<void, DatagramError>
  /** The next datagram, waiting if none; fails with `Closed` once the socket is closed. */
  readonly take: Effect.Effect<Datagram, DatagramError>
  /** Every queued datagram (at least one, waiting if none): one wake-up for a batch. */
  readonly takeBatch: Effect.Effect<ReadonlyArray<Datagram>, DatagramError>
  /** The received datagrams as a stream (a chunk per wake-up); ends when the socket closes. */
  readonly receive: Stream.Stream<Datagram, DatagramError>
  /**
   * Push-mode receiving, the fast path: calls `onBatch` synchronously from
   * the runtime's callbacks with what arrived in one wake-up of the runtime
   * (where the adapter batches, as Node's does; each datagram otherwise), or, after
   * a pause, with everything queued meanwhile, so a datagram costs a function
   * call, not a fiber wake-up. Answering with `unsafeSend` keeps it so;
   * returning an Effect costs one fiber wake-up per batch.
   *
   * - `onBatch` may return an Effect. It runs in place, inside the receive
   *   callback, as far as it goes without waiting; if it must wait (a full
   *   send buffer, a timer), the rest runs on a fiber and delivery pauses
   *   until it completes (datagrams queue meanwhile, under the queue bounds
   *   and overflow policy). It runs like a request handler: it gets a
   *   `Scope` of its own, closed when it completes, and fibers it forks end
   *   with it; fork longer work into a `FiberSet` (or `Effect.forkIn` a
   *   scope of yours).
   * - Sends made with {@link DatagramSocket.unsafeSend} that fill the send
   *   buffer pause delivery until it has room.
   * - Completes when the socket closes; fails with the failure of an effect
   *   `onBatch` returned. A throw is a defect.
   */
  readonly pump: <E = never, R = never>(
    onBatch: (batch: ReadonlyArray<Datagram>) => Effect.Effect<void, E, R> | undefined | void
  ) => Effect.Effect<void, E, R>
  /** Joins a multicast group (on `iface`, a local interface address, or the default one). */
  readonly joinMulticast: (group: string, iface?: string) => Effect.Effect<void, DatagramError>
  /** Leaves a multicast group. */
  readonly leaveMulticast: (group: string, iface?: string) => Effect.Effect<void, DatagramError>
  /** Counters and queue levels. */
  readonly stats: Effect.Effect<DatagramStats>
  /** Sync read of the counters, for hot paths and metrics. */
  readonly unsafeStats: () => DatagramStats
  /** Closes the socket: queued datagrams are discarded, waiting receivers end. Idempotent. */
  readonly close: Effect.Effect<void>
  /** Completes once the socket is closed. */
  readonly closed: Effect.Effect<void>
}

/**
 * The datagram transport service.
 *
 * @since 0.1.0
 * @category models
 */
export interface DatagramTransportService {
  /** A short name for logs: "node", "bun", "deno", "memory". */
  readonly name: string
  /** Binds a socket. It lives as long as the scope. */
  readonly bind: (options?: BindOptions) => Effect.Effect<DatagramSocket, DatagramError, Scope.Scope>
}

/**
 * The datagram transport, as a service. Provide it with a runtime's layer
 * (e.g. `NodeDatagram.layer`) or `MemoryDatagram.layer()`.
 *
 * @since 0.1.0
 * @category tags
 */
export class DatagramTransport extends Context.Tag("@wirekit/core/Datagram/DatagramTransport")<
  DatagramTransport,
  DatagramTransportService
>() {}

// ---------------------------------------------------------------------------
// The adapter contract
// ---------------------------------------------------------------------------

/**
 * What {@link DatagramDriver.send} tells the core.
 *
 * - `"sent"`: the runtime took the datagram and can take more.
 * - `"full"`: the runtime took it, but its buffer is now full: the core sends
 *   nothing more until {@link DatagramEvents.writable}.
 * - `"retry"`: the runtime did NOT take it (its buffer is full): the core
 *   hands it again after {@link DatagramEvents.writable}.
 * - `"closed"`: the socket is gone; the datagram is dropped.
 *
 * @since 0.1.0
 * @category adapter
 */
export type SendOutcome = "sent" | "full" | "retry" | "closed"

/**
 * Actions on a runtime's UDP socket, implemented by an adapter. No method
 * may throw, except where said.
 *
 * @since 0.1.0
 * @category adapter
 */
export interface DatagramDriver {
  /**
   * Hands one datagram to the runtime: to `to`, or to the connected peer
   * when `to` is `undefined`. The core has checked its size and the mode.
   * The runtime may keep `data` (the core never reuses it). Errors the
   * runtime reports later go to {@link DatagramEvents.error}.
   */
  send(data: Uint8Array, to: TcpAddress | undefined): SendOutcome
  /**
   * Connects the socket at the OS level; `done` once, with nothing or with
   * the error's code and cause. Optional: without it the core emulates
   * connected mode (default destination, filtering by sender, which needs
   * an IP address: a host name fails with `Unsupported`), and `Refused` is
   * reported only if the runtime reports ICMP errors on its own.
   */
  connect?(
    to: TcpAddress,
    done: (error?: { readonly code?: string | undefined; readonly cause?: unknown }) => void
  ): void
  /** Undoes `connect` (required with it). May throw; the core maps the error. */
  disconnect?(): void
  /** Joins a multicast group. May throw or reject (with a `code`); the core maps the error. */
  joinMulticast?(group: string, iface: string | undefined): void | PromiseLike<void>
  /** Leaves a multicast group. May throw or reject; the core maps the error. */
  leaveMulticast?(group: string, iface: string | undefined): void | PromiseLike<void>
  /** Releases the socket. Called once. The core considers it closed at once. */
  close(): void
}

/**
 * Events an adapter reports to the core.
 *
 * @since 0.1.0
 * @category adapter
 */
export interface DatagramEvents {
  /**
   * A datagram arrived from `host`:`port`. The core keeps `data` (no copy):
   * the adapter must not reuse its memory. Synchronous and cheap: it queues
   * (or drops, and counts) or calls the `pump` consumer.
   */
  message(data: Uint8Array, host: string, port: number): void
  /** The runtime's send buffer has room again (after a `"full"` or `"retry"`). */
  writable(): void
  /**
   * The runtime reported an error on the socket that does not close it (an
   * ICMP error on a connected socket, a failed send): the next `send` fails
   * with it, counted in `errors`.
   */
  error(code: string | undefined, cause: unknown): void
  /** The runtime closed the socket on its own (a fatal error): receivers end, sends fail with `Closed`. */
  closedByRuntime(): void
  /**
   * For an adapter that says {@link SocketInfo.batched}: the runtime's
   * wake-up is over. The datagrams reported since the last `flush` (queued
   * meanwhile, under the queue bounds) go to a `pump` as one batch, or wake
   * a waiting `take`/`takeBatch` once. Ignored when nothing is queued.
   */
  flush(): void
}

/**
 * What the core must know to build a socket: its bound address and the
 * options it was bound with.
 *
 * @since 0.1.0
 * @category adapter
 */
export interface SocketInfo {
  /** The bound address as the runtime reports it (the real port for port 0). */
  readonly address: TcpAddress
  /**
   * The adapter calls {@link DatagramEvents.flush} at the end of each
   * runtime wake-up in which it reported datagrams (e.g. from a
   * `setImmediate` scheduled by the first one): receivers then get a wake-up's
   * datagrams as one batch, so a `pump` consumer that returns an Effect costs
   * one fiber wake-up per batch, not per datagram. Without it (default
   * `false`) each datagram is delivered as it is reported.
   */
  readonly batched?: boolean | undefined
  /** From {@link resolveOptions}. */
  readonly options: ResolvedBindOptions
}

/**
 * The bind options with every default filled in and checked, as adapters
 * and the core use them.
 *
 * @since 0.1.0
 * @category adapter
 */
export interface ResolvedBindOptions {
  /** See {@link BindOptions.host}. */
  readonly host: string
  /** See {@link BindOptions.port}. */
  readonly port: number
  /** Whether `host` is an IPv6 literal: bind a `udp6` socket. */
  readonly ipv6: boolean
  /** See {@link BindOptions.reuseAddr}. */
  readonly reuseAddr: boolean
  /** See {@link BindOptions.ipv6Only}. */
  readonly ipv6Only: boolean
  /** See {@link BindOptions.broadcast}. */
  readonly broadcast: boolean
  /** See {@link BindOptions.multicast}. */
  readonly multicast: MulticastOptions | undefined
  /** See {@link BindOptions.maxDatagramSize}. */
  readonly maxDatagramSize: number
  /** See {@link BindOptions.receiveQueue}. */
  readonly receiveQueue: number
  /** See {@link BindOptions.receiveQueueBytes}. */
  readonly receiveQueueBytes: number
  /** See {@link BindOptions.overflow}. */
  readonly overflow: OverflowPolicy
  /** See {@link BindOptions.sendQueue}. */
  readonly sendQueue: number
  /** See {@link BindOptions.receiveBufferSize}. */
  readonly receiveBufferSize: number | undefined
  /** See {@link BindOptions.sendBufferSize}. */
  readonly sendBufferSize: number | undefined
}

/**
 * Fills in and checks bind options: an adapter calls it first and fails the
 * bind with the `InvalidOptions` error it returns.
 *
 * @since 0.1.0
 * @category adapter
 */
export const resolveOptions: (options: BindOptions | undefined) => ResolvedBindOptions | DatagramError =
  internal.resolveOptions

/**
 * Builds a core {@link DatagramSocket} around a runtime's bound socket:
 * `open` receives the events sink (wire the socket's events to it) and
 * returns the driver. The core joins `multicast.groups` itself (through the
 * driver) in {@link scopedSocket}.
 *
 * @example
 * ```ts
 * // sketch of an adapter's bind, once the runtime's socket is bound
 * const socket = Datagram.makeSocket({ address, options }, (events) => {
 *   native.on("message", (data, rinfo) => events.message(data, rinfo.address, rinfo.port))
 *   return { send: (data, to) => ..., close: () => native.close() }
 * })
 * ```
 * @since 0.1.0
 * @category adapter
 */
export const makeSocket: (info: SocketInfo, open: (events: DatagramEvents) => DatagramDriver) => DatagramSocket =
  internal.makeSocket

/**
 * Acquires a socket in a scope: closes it when the scope closes, and joins
 * the groups of `multicast.groups` first (closing the socket if that fails).
 *
 * @since 0.1.0
 * @category adapter
 */
export const scopedSocket: <E>(
  acquire: Effect.Effect<DatagramSocket, E>
) => Effect.Effect<DatagramSocket, E | DatagramError, Scope.Scope> = internal.scopedSocket
