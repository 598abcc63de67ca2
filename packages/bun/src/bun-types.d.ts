/**
 * Minimal ambient declarations for the parts of Bun's socket API that
 * `@wirekit/bun` uses (`@types/bun` is not a dependency). They describe Bun
 * 1.4 as observed, not as once documented; see the notes on `shutdown`.
 *
 * The global `Bun` object is deliberately not declared here, so that this file
 * never conflicts with `@types/bun` in a project that has it: the adapter reads
 * `globalThis.Bun` through {@link WirekitBun.Runtime}.
 */
declare namespace WirekitBun {
  /** An error as Bun reports it: a system error with `code` / `errno` / `syscall`. */
  interface SystemError extends Error {
    readonly code?: string
    readonly errno?: number
    readonly syscall?: string
  }

  /** A connected socket from `Bun.listen` (accepted) or `Bun.connect`. */
  interface Socket<Data = unknown> {
    /** Per-socket user data (`data` option of `Bun.connect`; assignable). */
    data: Data
    /**
     * Writes what the OS takes now, buffers nothing. Returns the number of bytes
     * taken (0 when the send buffer is full, then `drain` follows), or -1 once
     * the socket is closed.
     */
    write(data: Uint8Array, byteOffset?: number, byteLength?: number): number
    /**
     * `shutdown()` is `shutdown(fd, SHUT_WR)`: a write-side half-close (FIN),
     * reading goes on. `shutdown(true)` is `SHUT_RD` (NOT a half-close), whatever
     * older Bun documentation says.
     */
    shutdown(shutdownRead?: boolean): void
    /** Flushes and closes the file descriptor (both directions). `close` follows synchronously. */
    end(): void
    /** SO_LINGER 0 then close: the peer sees a reset (RST). `close` follows synchronously. */
    terminate(): void
    /** Stops reading from the OS. */
    pause(): void
    /** Resumes reading. */
    resume(): void
    setNoDelay(noDelay?: boolean): boolean
    /** `initialDelay` in milliseconds (Bun rounds it down to whole seconds; 0 keeps the OS default). */
    setKeepAlive(enable?: boolean, initialDelay?: number): boolean
    /** -1 once closed. */
    readonly readyState: number

    // ---- TLS sockets (meaningful once the `handshake` handler ran) ----

    /** The negotiated protocol version (`"TLSv1.3"`); on a plain socket `null`. */
    getTLSVersion(): string | null
    /** The negotiated cipher suite. */
    getCipher():
      | { readonly name: string | null; readonly standardName: string | null; readonly version: string | null }
      | undefined
    /** The protocol agreed by ALPN, or `false` when none was. */
    readonly alpnProtocol: string | false | null
    /** The name the client asked for (SNI), on either side; `undefined` when none was sent. */
    getServername(): string | undefined
    /** Whether the peer's certificate was verified (a server sees `false` when it did not ask for one). */
    readonly authorized: boolean
    /** The peer's certificate, in node:tls' shape; `undefined` when there is none. */
    getPeerCertificate(): PeerCertificate | undefined
    readonly localAddress: string
    readonly localPort: number
    readonly remoteAddress: string
    readonly remotePort: number
    /**
     * STARTTLS: starts TLS on this open socket. Returns the socket beneath
     * (`raw`, which keeps this socket's handlers and `data`, and goes on
     * reporting every ciphertext read to its `data` handler) and the TLS
     * socket (`handlers`, `data`), or `undefined` when it cannot. The role
     * follows where the socket came from: an accepted socket is the TLS
     * server, a connected one the client (`isServer` is ignored). The
     * handlers' `open` runs before it returns; `serverName` (SNI) is called
     * as on a listener.
     */
    upgradeTLS<D>(options: {
      readonly tls: TlsOptions
      readonly socket: SocketHandler<D>
      readonly data: D
    }): [raw: Socket<Data>, tls: Socket<D>] | undefined
  }

  /** A certificate as `getPeerCertificate()` reports it (node:tls' `PeerCertificate` fields that are used). */
  interface PeerCertificate {
    readonly subject?: Readonly<Record<string, string | ReadonlyArray<string>>> | null
    readonly issuer?: Readonly<Record<string, string | ReadonlyArray<string>>> | null
    /** OpenSSL's text form, `DNS:a.example, IP Address:127.0.0.1`. */
    readonly subjectaltname?: string | undefined
    /** `"Dec  3 15:43:55 2026 GMT"`. */
    readonly valid_from: string
    readonly valid_to: string
    readonly fingerprint256: string
    readonly serialNumber: string
    /** DER bytes (a Buffer). */
    readonly raw?: Uint8Array | undefined
  }

  /**
   * A native TLS context (one SSL_CTX). Bun's `node:tls` makes them:
   * `tls.createSecureContext(options).context`.
   */
  interface NativeSecureContext {
    readonly addCACert?: unknown
  }

  /**
   * TLS options of `Bun.listen` / `Bun.connect`. PEM as text; `ALPNProtocols`
   * in wire format (each name prefixed by its length). `minVersion` is a
   * protocol number (0x0303 TLS 1.2, 0x0304 TLS 1.3), as Bun's own node:tls
   * passes it; Bun 1.4 refuses older versions by default.
   */
  interface TlsOptions {
    readonly cert?: string | undefined
    readonly key?: string | undefined
    readonly passphrase?: string | undefined
    readonly ca?: ReadonlyArray<string> | undefined
    readonly requestCert?: boolean | undefined
    readonly rejectUnauthorized?: boolean | undefined
    readonly ALPNProtocols?: ArrayBuffer | undefined
    /** Client: the name sent in SNI and checked against the certificate (`""`: no SNI; the address is checked). */
    readonly serverName?: string | undefined
    readonly minVersion?: number | undefined
  }

  /** Handlers shared by every socket of a listener (or of a connect call). */
  interface SocketHandler<Data = unknown> {
    open?(socket: Socket<Data>): void
    /**
     * TLS: the handshake is over. `success` is false when it failed (then
     * `error` says why, e.g. `EPROTO` with OpenSSL's reason in the message) and
     * also on a client whose check of the server's name failed; `error` is
     * otherwise the verification result of the peer's certificate (`null`
     * when verified). With `rejectUnauthorized`, Bun closes a socket whose
     * peer failed verification right after this call.
     */
    handshake?(socket: Socket<Data>, success: boolean, error: SystemError | null | undefined): void
    /**
     * TLS listener: a client asked for `serverName` (SNI); the context returned
     * answers it, `undefined` keeps the listener's own. Not called when the
     * client sends no name. The first argument is the listener's `data`.
     */
    serverName?(listenerData: unknown, serverName: string, handle: unknown): NativeSecureContext | undefined
    /** A fresh buffer per call (not reused by Bun). */
    data?(socket: Socket<Data>, data: Uint8Array): void
    /** The socket became writable again after a short write. Can also fire spuriously. */
    drain?(socket: Socket<Data>): void
    /**
     * The peer's FIN. Not called when our side had already sent its FIN with
     * `shutdown()`: then `close` (without error) reports the peer's FIN.
     */
    end?(socket: Socket<Data>): void
    /** The socket is closed; `error` is set for a reset (ECONNRESET / EPIPE ...). */
    close?(socket: Socket<Data>, error?: SystemError): void
    error?(socket: Socket<Data>, error: SystemError): void
    /** `Bun.connect` failed (the returned promise rejects as well). */
    connectError?(socket: Socket<Data>, error: SystemError): void
    binaryType?: "buffer" | "uint8array" | "arraybuffer"
  }

  interface ListenOptionsBase<Data> {
    readonly socket: SocketHandler<Data>
    readonly allowHalfOpen?: boolean
    readonly tls?: TlsOptions | undefined
  }

  interface TcpListenOptions<Data> extends ListenOptionsBase<Data> {
    readonly hostname: string
    readonly port: number
    readonly reusePort?: boolean
    readonly ipv6Only?: boolean
  }

  interface UnixListenOptions<Data> extends ListenOptionsBase<Data> {
    readonly unix: string
  }

  interface ConnectOptionsBase<Data> {
    readonly socket: SocketHandler<Data>
    readonly data?: Data
    readonly allowHalfOpen?: boolean
    readonly tls?: TlsOptions | undefined
  }

  interface TcpConnectOptions<Data> extends ConnectOptionsBase<Data> {
    readonly hostname: string
    readonly port: number
  }

  interface UnixConnectOptions<Data> extends ConnectOptionsBase<Data> {
    readonly unix: string
  }

  /** A listening socket. Throws synchronously from `Bun.listen` on failure. */
  interface Listener {
    readonly port: number
    readonly hostname: string
    readonly unix?: string
    /** Fills `out` with the bound address. */
    getsockname(out: { family?: string; address?: string; port?: number }): void
    /** Stops listening; open connections stay unless `closeActiveConnections`. */
    stop(closeActiveConnections?: boolean): void
  }

  // ---- UDP (`Bun.udpSocket`), as observed on Bun 1.4 ----

  /** What `data` reports besides the sender: `truncated` when the datagram did not fit Bun's receive buffer. */
  interface UdpReceiveFlags {
    readonly truncated: boolean
    readonly ipv6: boolean
  }

  /**
   * Handlers of a UDP socket. Unlike Bun's documentation says, `error` is
   * called with the error only (the socket is `this`); a socket without an
   * `error` handler turns every reported error into an uncaught exception.
   */
  interface UdpSocketHandler {
    /** One datagram: a fresh array of exactly its bytes (`binaryType: "uint8array"`). */
    data?(socket: UdpSocket, data: Uint8Array, port: number, address: string, flags: UdpReceiveFlags): void
    /** The socket can send again after `send` returned false. Can also fire spuriously. */
    drain?(socket: UdpSocket): void
    /**
     * An error the OS reported: `syscall: "recv"` with `errqueue: true` is an
     * ICMP error read from the error queue (IP_RECVERR is on, so this comes
     * for unconnected sockets too, e.g. `ECONNREFUSED` after a send to a
     * closed port); the socket stays open.
     */
    error?(this: UdpSocket, error: SystemError & { readonly errqueue?: boolean }): void
  }

  /**
   * Options of `Bun.udpSocket`. `flags` is not documented by Bun: the bind
   * flags its own `node:dgram` passes (16 `SO_REUSEADDR`, 8 `IPV6_V6ONLY`,
   * 32 fail rather than fall back when a reuse flag cannot be set).
   */
  interface UdpSocketOptions {
    /** An address, or a name Bun resolves (a failed lookup rejects with `ENOENT`). */
    readonly hostname?: string
    readonly port?: number
    readonly binaryType?: "buffer" | "uint8array" | "arraybuffer"
    readonly flags?: number
    readonly socket?: UdpSocketHandler
  }

  /** A bound UDP socket. Methods throw a `SystemError` on an OS failure. */
  interface UdpSocket {
    readonly address: { readonly address: string; readonly family: string; readonly port: number }
    readonly port: number
    readonly closed: boolean
    /**
     * Sends one datagram to `address`, which must be an IP literal (Bun does
     * no name lookup: anything else throws `ERR_INVALID_ARG_TYPE`). Returns
     * `false` when the OS send buffer was full and the datagram was NOT sent
     * (`drain` follows). Throws on an OS refusal (`EMSGSIZE`, `EACCES` for a
     * broadcast without `setBroadcast`, `EAFNOSUPPORT` for the other family)
     * and once closed (an error without `code`).
     */
    send(data: Uint8Array, port: number, address: string): boolean
    setBroadcast(enabled: boolean): boolean
    setMulticastTTL(ttl: number): number
    setMulticastLoopback(enabled: boolean): boolean
    /** IP_MULTICAST_IF, by a local interface address. */
    setMulticastInterface(address: string): boolean
    addMembership(group: string, iface?: string): boolean
    dropMembership(group: string, iface?: string): boolean
    /** Idempotent. No handler is called. */
    close(): void
  }

  /** The subset of the global `Bun` object used by the adapter. */
  interface Runtime {
    readonly version: string
    listen<Data>(options: TcpListenOptions<Data> | UnixListenOptions<Data>): Listener
    connect<Data>(options: TcpConnectOptions<Data> | UnixConnectOptions<Data>): Promise<Socket<Data>>
    /** Binds a UDP socket; rejects with the bind error (`EADDRINUSE` ...). */
    udpSocket(options: UdpSocketOptions): Promise<UdpSocket>
  }
}
