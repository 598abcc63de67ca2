/**
 * Network addresses understood by every wirekit transport.
 *
 * A TCP address is `{ host, port }` (IPv4 or IPv6 literal, or a host name for
 * `connect`); a Unix domain socket address is `{ path }`.
 *
 * @example
 * ```ts
 * import { Address } from "@wirekit/core"
 * const a = Address.tcp("127.0.0.1", 7000)
 * const u = Address.unix("/tmp/app.sock")
 * Address.format(a) // "127.0.0.1:7000"
 * Address.format(Address.tcp("::1", 80)) // "[::1]:80"
 * ```
 * @since 0.1.0
 */

/**
 * A TCP endpoint. `port: 0` asks the OS (or the in-memory network) for a free port when listening.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpAddress {
  /** An IPv4 or IPv6 literal, or a host name (for `connect`). */
  readonly host: string
  /** The TCP port; `0` asks for a free one when listening. */
  readonly port: number
}

/**
 * A Unix domain socket endpoint (a file system path; on the memory transport, a name).
 *
 * @since 0.1.0
 * @category models
 */
export interface UnixAddress {
  /** The socket file's path (on the memory transport, a name). */
  readonly path: string
}

/**
 * Any address a transport can listen on or connect to.
 *
 * @since 0.1.0
 * @category models
 */
export type Address = TcpAddress | UnixAddress

/**
 * Builds a TCP address.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tcp = (host: string, port: number): TcpAddress => ({ host, port })

/**
 * Builds a Unix domain socket address.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unix = (path: string): UnixAddress => ({ path })

/**
 * True for a Unix domain socket address.
 *
 * @since 0.1.0
 * @category guards
 */
export const isUnix = (address: Address): address is UnixAddress => "path" in address

/**
 * True for a TCP address.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTcp = (address: Address): address is TcpAddress => "port" in address

/**
 * True when `host` is an IPv6 literal (contains a colon).
 *
 * @since 0.1.0
 * @category guards
 */
export const isIPv6 = (host: string): boolean => host.includes(":")

/**
 * Renders an address for logs and errors: `host:port`, `[v6]:port` or `unix:path`.
 *
 * @since 0.1.0
 * @category utils
 */
export const format = (address: Address): string =>
  isUnix(address)
    ? `unix:${address.path}`
    : isIPv6(address.host)
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`

/**
 * Structural equality of two addresses.
 *
 * @since 0.1.0
 * @category utils
 */
export const equals = (a: Address, b: Address): boolean =>
  isUnix(a) ? isUnix(b) && a.path === b.path : isTcp(b) && a.host === b.host && a.port === b.port
