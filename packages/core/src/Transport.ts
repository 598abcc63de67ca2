/**
 * The transport contract: how wirekit listens and connects. `@wirekit/core`
 * knows no runtime; `@wirekit/node`, `@wirekit/bun`, `@wirekit/deno` and the
 * in-memory transport each provide this service, so swapping the runtime is
 * swapping one Layer.
 *
 * @example
 * ```ts
 * import { Transport, Connection } from "@wirekit/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const transport = yield* Transport.Transport
 *   const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 })
 *   const client = yield* transport.connect(listener.address, { timeout: 1000 })
 *   yield* client.write(new TextEncoder().encode("hi"))
 * }))
 * ```
 * @since 0.1.0
 */
import { Context, Data } from "effect"
import type { Effect, Scope } from "effect"
import type { Address } from "./Address.ts"
import { format } from "./Address.ts"
import type { Connection, ConnectionOptions } from "./Connection.ts"
import type { Options as ProxyProtocolOptions } from "./ProxyProtocol.ts"
import type { ListenerTls, TlsClientOptions, TlsServerOptions } from "./Tls.ts"

/**
 * Why listening failed (or why `accept` ended).
 *
 * @since 0.1.0
 * @category errors
 */
export type ListenErrorReason =
  /** EADDRINUSE: something already listens there. */
  | "AddressInUse"
  /** EACCES / EPERM: e.g. a port below 1024 without privileges, or a Unix path in a read-only directory. */
  | "PermissionDenied"
  /** EADDRNOTAVAIL: the host is not an address of this machine. */
  | "AddressNotAvailable"
  /** `accept` on a listener that has been closed. */
  | "Closed"
  /** The TLS options were refused (bad PEM, a key that does not match its certificate); `cause` is the `Tls.TlsError`. */
  | "Tls"
  /** Anything else; see `code` and `cause`. */
  | "Other"

/**
 * Listening on `address` failed, with the OS code when there is one.
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  /** Why it failed. */
  readonly reason: ListenErrorReason
  /** The address asked for. */
  readonly address: Address
  /** The OS or runtime error code (e.g. `EADDRINUSE`), when there is one. */
  readonly code?: string | undefined
  /** The runtime's own error, or the `Tls.TlsError` for reason `Tls`. */
  readonly cause?: unknown
}> {
  override get message(): string {
    return `listen on ${format(this.address)} failed: ${this.reason}${this.code ? ` [${this.code}]` : ""}`
  }
}

/**
 * Why connecting failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConnectErrorReason =
  /** ECONNREFUSED: nothing listens there (or a Unix socket file with no listener). */
  | "Refused"
  /** The connect timeout elapsed (or the OS timed out). */
  | "TimedOut"
  /** EHOSTUNREACH / ENETUNREACH: no route. */
  | "Unreachable"
  /** ENOENT / ENOTFOUND: no such Unix socket path or host name. */
  | "NotFound"
  /** The TLS handshake failed; `cause` is the `Tls.TlsError` (its reason, code and message), `code` its code. */
  | "Tls"
  /** Anything else; see `code` and `cause`. */
  | "Other"

/**
 * Connecting to `address` failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  /** Why it failed. */
  readonly reason: ConnectErrorReason
  /** The address connected to. */
  readonly address: Address
  /** The OS or runtime error code (e.g. `ECONNREFUSED`), when there is one. */
  readonly code?: string | undefined
  /** The timeout in milliseconds, for `TimedOut`. */
  readonly timeout?: number | undefined
  /** The runtime's own error, or the `Tls.TlsError` for reason `Tls`. */
  readonly cause?: unknown
}> {
  override get message(): string {
    const t = this.reason === "TimedOut" && this.timeout !== undefined ? ` after ${this.timeout}ms` : ""
    return `connect to ${format(this.address)} failed: ${this.reason}${t}${this.code ? ` [${this.code}]` : ""}`
  }
}

/**
 * Maps an OS / runtime error code of a failed listen to its typed reason
 * (shared by every adapter: POSIX names, plus Deno's `ERR_NOT_CAPABLE`).
 *
 * @since 0.1.0
 * @category errors
 */
export const listenReasonOf = (code: string | undefined): ListenErrorReason => {
  switch (code) {
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
    case "EPERM":
    case "ERR_NOT_CAPABLE":
      return "PermissionDenied"
    case "EADDRNOTAVAIL":
      return "AddressNotAvailable"
    default:
      return "Other"
  }
}

/**
 * Maps the error code of a failed connect to its typed reason (shared by every adapter).
 *
 * @since 0.1.0
 * @category errors
 */
export const connectReasonOf = (code: string | undefined): ConnectErrorReason => {
  switch (code) {
    case "ECONNREFUSED":
      return "Refused"
    case "ETIMEDOUT":
      return "TimedOut"
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "Unreachable"
    case "ENOENT":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "NotFound"
    default:
      return "Other"
  }
}

/**
 * Options for {@link TransportService.listen}; they also apply to every accepted connection.
 *
 * @since 0.1.0
 * @category options
 */
export interface ListenOptions extends ConnectionOptions {
  /** The OS accept backlog. Default 511. */
  readonly backlog?: number | undefined
  /**
   * Accepted connections waiting for `accept` past which new ones are closed at
   * once (counted in `Listener.rejected`). Default 1024.
   */
  readonly acceptQueue?: number | undefined
  /**
   * Let several processes listen on one port (SO_REUSEPORT), where the runtime
   * supports it: Bun, and Deno with `--unstable-net`. Node 20's `net` ignores
   * it (a second listen on the port is EADDRINUSE); Node's workers share a
   * port through `node:cluster` instead (see `Workers`).
   */
  readonly reusePort?: boolean | undefined
  /** For an IPv6 host: refuse IPv4-mapped connections. Default `false`. */
  readonly ipv6Only?: boolean | undefined
  /**
   * Speak TLS on every accepted connection: `accept` hands out connections
   * whose handshake succeeded; failed handshakes are closed and counted in
   * `Listener.tls`. A transport's layer may supply a default.
   */
  readonly tls?: TlsServerOptions | undefined
  /**
   * Read a PROXY protocol header (v1 or v2) from every accepted connection
   * before `accept` hands it out: behind HAProxy (`send-proxy`,
   * `send-proxy-v2`), nginx (`proxy_protocol on`) or a cloud load balancer,
   * `remoteAddress` is then the client's, not the proxy's. Headers are taken
   * from `trusted` peers only; see `ProxyProtocol.Options`. Not with `tls`.
   */
  readonly proxyProtocol?: ProxyProtocolOptions | undefined
}

/**
 * Options for {@link TransportService.connect}.
 *
 * @since 0.1.0
 * @category options
 */
export interface ConnectOptions extends ConnectionOptions {
  /** Connect timeout in milliseconds, TLS handshake included. Default 10000. */
  readonly timeout?: number | undefined
  /**
   * Speak TLS: the connection is handed out once the handshake succeeded; a
   * failed one is a `ConnectError` of reason `"Tls"`. A transport's layer may
   * supply a default.
   */
  readonly tls?: TlsClientOptions | undefined
}

/**
 * Default connect timeout (ms).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultConnectTimeout = 10_000
/**
 * Default OS backlog.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBacklog = 511
/**
 * Default accept queue length.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultAcceptQueue = 1024

/**
 * A bound, listening socket. Closing its scope closes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  /** The bound address: for port 0, the port the OS chose. */
  readonly address: Address
  /**
   * The next accepted connection, in accept order. The connection is closed
   * when the calling scope closes. Fails with reason `"Closed"` once the
   * listener is closed.
   */
  readonly accept: Effect.Effect<Connection, ListenError, Scope.Scope>
  /** Stops accepting: new connections are refused; queued ones are closed. Open ones are untouched. */
  readonly close: Effect.Effect<void>
  /** Connections closed at once because the accept queue was full. */
  readonly rejected: () => number
  /** On a TLS listener: its certificates (replaceable) and handshake counters. */
  readonly tls?: ListenerTls | undefined
}

/**
 * The transport service.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportService {
  /** A short name for logs: "node", "bun", "deno", "memory". */
  readonly name: string
  /** Binds and listens. The listener lives as long as the scope. */
  readonly listen: (address: Address, options?: ListenOptions) => Effect.Effect<Listener, ListenError, Scope.Scope>
  /** Connects. The connection lives as long as the scope (closed gracefully when it ends). */
  readonly connect: (address: Address, options?: ConnectOptions) => Effect.Effect<Connection, ConnectError, Scope.Scope>
}

/**
 * The transport, as a service. Provide it with a runtime's layer (e.g. `NodeTransport.layer`).
 *
 * @since 0.1.0
 * @category services
 */
export class Transport extends Context.Tag("@wirekit/core/Transport")<Transport, TransportService>() {}
