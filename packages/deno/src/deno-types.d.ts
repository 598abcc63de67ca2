/**
 * Minimal declarations of the Deno runtime APIs `@wirekit/deno` uses (Deno 2.x;
 * checked against `deno types` of Deno 2.9.5). No `@types/deno` is installed in
 * this monorepo, and the package must also typecheck under `deno check`, where
 * the real `Deno` namespace exists: so these are module-scoped interfaces (no
 * global `declare namespace Deno`, which would collide with Deno's own lib),
 * and the code reads the runtime object as `globalThis.Deno` typed as
 * {@link DenoNamespace}.
 * @since 0.1.0
 */

/** The address of a TCP endpoint. */
export interface NetAddr {
  readonly transport: "tcp" | "udp"
  readonly hostname: string
  readonly port: number
}

/**
 * The address of a Unix domain socket endpoint. Deno reports `path: null` for
 * an unnamed socket (the client side of a connection), though its own
 * declarations say `string`.
 */
export interface UnixAddr {
  readonly transport: "unix" | "unixpacket"
  readonly path: string | null
}

/** Any address Deno reports for a stream connection or listener. */
export type Addr = NetAddr | UnixAddr

/** `Deno.Conn`: a stream connection. */
export interface Conn<A extends Addr = Addr> {
  /** Reads into `p`; resolves to the byte count, or `null` at EOF. 0 is not EOF. */
  read(p: Uint8Array): Promise<number | null>
  /** Writes (part of) `p`; resolves to the byte count taken by the OS. */
  write(p: Uint8Array): Promise<number>
  /** `shutdown(SHUT_WR)` then `close(2)`; pending reads and writes reject with `Interrupted`. */
  close(): void
  /** `shutdown(SHUT_WR)`: sends FIN after the bytes already written. */
  closeWrite(): Promise<void>
  readonly localAddr: A
  readonly remoteAddr: A
}

/** `Deno.TcpConn`. */
export interface TcpConn extends Conn<NetAddr> {
  /** Sets or clears `TCP_NODELAY`. Deno does not set it by default. */
  setNoDelay(noDelay?: boolean): void
  /** Sets or clears `SO_KEEPALIVE` (no idle-time argument). */
  setKeepAlive(keepAlive?: boolean): void
}

/** `Deno.UnixConn`. */
export type UnixConn = Conn<UnixAddr>

/** `Deno.Listener`. */
export interface Listener<C extends Conn = Conn, A extends Addr = Addr> {
  /** The next connection; rejects with `BadResource` once the listener is closed. */
  accept(): Promise<C>
  /**
   * Closes the listener. With an accept pending, the socket is released only
   * when that accept has rejected (one event-loop turn later).
   */
  close(): void
  readonly addr: A
}

/** Options of `Deno.listen` for TCP. */
export interface TcpListenOptions {
  readonly transport?: "tcp"
  readonly hostname?: string
  readonly port?: number
  /** The `listen(2)` backlog. Default 511. */
  readonly tcpBacklog?: number
  /**
   * `SO_REUSEPORT` (Linux only, ignored elsewhere). Unstable: passing `true`
   * without `--unstable-net` terminates the process, so test for it first.
   */
  readonly reusePort?: boolean
}

/** Options of `Deno.listen` for a Unix socket (no backlog option: Deno uses 1024). */
export interface UnixListenOptions {
  readonly transport: "unix"
  readonly path: string
}

/** Options of `Deno.connect` for TCP. */
export interface ConnectOptions {
  readonly transport?: "tcp"
  readonly hostname?: string
  readonly port: number
  /** Aborts a pending connect; the promise rejects with an `AbortError`. */
  readonly signal?: AbortSignal
}

/** Options of `Deno.connect` for a Unix socket (no `signal`). */
export interface UnixConnectOptions {
  readonly transport: "unix"
  readonly path: string
}

/** What `TlsConn.handshake()` reports: the ALPN protocol only (no version, cipher or server name). */
export interface TlsHandshakeInfo {
  readonly alpnProtocol: string | null
}

/**
 * `Deno.TlsConn`. Unlike `TcpConn` it has no `setNoDelay`/`setKeepAlive`:
 * socket options must be set on the TCP connection before `startTls`.
 */
export interface TlsConn extends Conn<NetAddr> {
  /** Runs the handshake if it has not run yet (otherwise it runs on the first read or write). */
  handshake(): Promise<TlsHandshakeInfo>
}

/** A certificate chain and its key, PEM (no encrypted keys). */
export interface TlsCertifiedKeyPem {
  readonly cert: string
  readonly key: string
}

/**
 * Options of `Deno.listenTls`: no client-certificate request, no CA, no
 * protocol version bounds. Besides `cert`/`key`, Deno reads a certificate
 * resolver under `Symbol.for("unstableSniResolver")`: called with the server
 * name the client asked for (`""` for none), once per name for the life of
 * the listener (Deno caches the answer).
 */
export interface ListenTlsOptions extends TcpListenOptions {
  readonly alpnProtocols?: ReadonlyArray<string>
  readonly cert?: string
  readonly key?: string
  readonly [sniResolver: symbol]: ((serverName: string) => Promise<TlsCertifiedKeyPem>) | string | undefined
}

/**
 * Options of `Deno.connectTls`. The chain is always verified against
 * `caCerts` (there is no way to skip it); `hostname` is both where to
 * connect and the name to verify, unless `Symbol.for("unstableServerName")`
 * names another one.
 */
export interface ConnectTlsOptions {
  readonly hostname?: string
  readonly port: number
  readonly caCerts?: ReadonlyArray<string>
  readonly alpnProtocols?: ReadonlyArray<string>
  readonly unsafelyDisableHostnameVerification?: boolean
  /** A client certificate (both or neither). */
  readonly cert?: string
  readonly key?: string
  readonly [serverName: symbol]: string | undefined
}

/** Options of `Deno.startTls` (no client certificate). */
export interface StartTlsOptions {
  /** The name sent in SNI and verified (an IP literal: no SNI, the address is verified). */
  readonly hostname?: string
  readonly caCerts?: ReadonlyArray<string>
  readonly alpnProtocols?: ReadonlyArray<string>
  readonly unsafelyDisableHostnameVerification?: boolean
}

/** The state of a permission. */
export interface PermissionStatus {
  readonly state: "granted" | "denied" | "prompt"
}

/** The permission descriptors we query. */
export type PermissionDescriptor =
  | { readonly name: "ffi"; readonly path?: string }
  | { readonly name: "read"; readonly path?: string }

/** FFI value types we use. */
export type NativeType = "i32" | "u32" | "buffer"

/** One foreign function of a `Deno.dlopen` library. */
export interface ForeignFunction {
  readonly parameters: ReadonlyArray<NativeType>
  readonly result: NativeType
}

/** A call to a foreign function: numbers for `i32`/`u32`, typed arrays for `buffer`. */
export type ForeignCall = (...args: Array<number | ArrayBufferView | null>) => number

/** What `Deno.dlopen` returns. */
export interface DynamicLibrary<S extends Record<string, ForeignFunction>> {
  readonly symbols: { readonly [K in keyof S]: ForeignCall }
  close(): void
}

/** The slice of the `Deno` global used by `@wirekit/deno`. */
export interface DenoNamespace {
  listen(options: TcpListenOptions): Listener<TcpConn, NetAddr>
  listen(options: UnixListenOptions): Listener<UnixConn, UnixAddr>
  /** A TLS listener (TCP only); connections are accepted before their handshake. */
  listenTls(options: ListenTlsOptions): Listener<TlsConn, NetAddr>
  /** TCP connect, then TLS (the handshake runs on `handshake()` or the first read or write). */
  connectTls(options: ConnectTlsOptions): Promise<TlsConn>
  /** TLS client over an open TCP connection, which it consumes (a Unix connection is refused). */
  startTls(conn: TcpConn, options?: StartTlsOptions): Promise<TlsConn>
  /**
   * The key of Deno's internal hooks (`Deno[Deno.internal]`), not a public API:
   * its `getPeerCertificate` is the key of a `TlsConn` method returning the
   * peer's certificate in node's shape, or null.
   */
  readonly internal?: symbol
  connect(options: ConnectOptions): Promise<TcpConn>
  connect(options: UnixConnectOptions): Promise<UnixConn>
  readDirSync(path: string): Iterable<{ readonly name: string }>
  /** Needs `--allow-ffi` (stable since Deno 2). */
  dlopen<S extends Record<string, ForeignFunction>>(filename: string, symbols: S): DynamicLibrary<S>
  readonly permissions: {
    /** Never prompts. */
    querySync(desc: PermissionDescriptor): PermissionStatus
  }
  readonly build: { readonly os: string; readonly arch: string }
  /** Present only with `--unstable-net` (used to detect that flag). */
  readonly listenDatagram?: unknown
  /** Registers an OS signal handler (used by `DenoRuntime.runMain`). */
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void
  /** Removes a handler added with `addSignalListener`. */
  removeSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void
  /** Exits the process with `code`. */
  exit(code?: number): never
}
