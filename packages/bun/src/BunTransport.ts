/// <reference path="./bun-types.d.ts" />
/**
 * The wirekit transport on Bun's native sockets (`Bun.listen` / `Bun.connect`,
 * not `node:net`): TCP (IPv4/IPv6) and Unix sockets.
 *
 * Bun's `socket.write` takes what the OS accepts right now and buffers
 * nothing, so each connection keeps a bounded write queue (the core's
 * `Driver.makeSocketWriter`): bytes the OS did not take wait there, in order,
 * and are flushed from the `drain` handler; `write` reports backpressure once
 * the queue reaches `writeHighWaterMark`. Read backpressure uses
 * `socket.pause()` / `resume()`; half-close uses `socket.shutdown()`
 * (SHUT_WR) after the queue is flushed; abort uses
 * `socket.terminate()` (SO_LINGER 0: RST). Error codes map to the core's typed
 * reasons exactly as on Node.
 *
 * TLS: `listen(address, { tls })` and `connect(address, { tls })` (see
 * `Tls.TlsServerOptions` and `Tls.TlsClientOptions`), or {@link layerTls},
 * whose listens and connects speak TLS by default: `Bun.listen({ tls })` and
 * `Bun.connect({ tls })`, with handshake deadlines on the Effect Clock (one
 * timer per listener), SNI through the listener's `serverName` handler, and
 * certificate reload on the running listener.
 *
 * STARTTLS (`connection.startTls`): `socket.upgradeTLS` on the same socket.
 * Bun takes the TLS role from where the socket came from, so an accepted
 * connection upgrades only as the server and a connected one only as the
 * client; the other way fails with a `TlsError` of code `ENOTSUP`.
 *
 * @example
 * ```ts
 * import { Server } from "@wirekit/core"
 * import { BunTransport } from "@wirekit/bun"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(Server.layer({ host: "127.0.0.1", port: 7000 }, handler)).pipe(
 *   Effect.provide(BunTransport.layer)
 * )
 * // the same server over TLS
 * Layer.launch(Server.layer({ host: "0.0.0.0", port: 7443 }, handler, {
 *   tls: { certificates: { cert: certPem, key: keyPem } }
 * })).pipe(Effect.provide(BunTransport.layer))
 * ```
 * @since 0.1.0
 */
import { Address, Connection, Driver, Tls, Transport } from "@wirekit/core"
import { Duration, Effect, Layer, Runtime } from "effect"
import type { Scope } from "effect"
import { isIP } from "node:net"
import * as BunTls from "./internal/tls.ts"

type Socket = WirekitBun.Socket<BunDriver>
type SystemError = WirekitBun.SystemError

/**
 * One native socket, seen by the core as a {@link Driver.SocketDriver}: the
 * translation of Bun's events, and the write side through a core
 * {@link Driver.SocketWriter} (Bun's synchronous `write` is its `send`).
 */
class BunDriver implements Driver.SocketDriver, Driver.WriteTarget {
  socket!: Socket
  events!: Driver.SocketEvents
  writer!: Driver.SocketWriter
  /** Set once the core connection exists (events wired); before that events are ignored. */
  attached = false
  /** While connecting: the callbacks of the pending `connect`. */
  dial: { readonly opened: (s: Socket) => void; readonly failed: (err: SystemError) => void } | undefined = undefined
  /** TLS: which side this socket is (its errors then carry a `Tls.TlsError`). */
  tlsSide: "client" | "server" | undefined = undefined
  /** TLS, until the handshake is over: its outcome, and a close before it. */
  handshake: ((s: Socket, success: boolean, error: SystemError | null | undefined) => void) | undefined = undefined
  closedEarly: ((error: SystemError | undefined) => void) | undefined = undefined
  /** Accepted by a listener (STARTTLS: Bun makes such a socket the TLS server, a connected one the client). */
  accepted = false
  /** STARTTLS as the client: the name to send and check when the options give none (the host dialed). */
  dialedName: string | undefined = undefined

  remoteAddress: Address.Address | undefined = undefined
  private readEnded = false
  private closed = false

  constructor(readonly options: Connection.ConnectionOptions | undefined) {}

  /** Wires the core's events (called from `Driver.makeConnection`). */
  attach(events: Driver.SocketEvents, remoteAddress: Address.Address): this {
    this.events = events
    this.remoteAddress = remoteAddress
    this.writer = Driver.makeSocketWriter(this, events, {
      remoteAddress,
      writeHighWaterMark: this.options?.writeHighWaterMark,
      allowHalfOpen: this.options?.allowHalfOpen
    })
    this.attached = true
    return this
  }

  // ---- WriteTarget --------------------------------------------------------

  send(data: Uint8Array, offset: number, length: number): number {
    return this.socket.write(data, offset, length)
  }

  shutdown(): void {
    // no argument: shutdown(fd, SHUT_WR). `shutdown(true)` would be SHUT_RD in Bun 1.4.
    this.socket.shutdown()
  }

  // ---- SocketDriver -----------------------------------------------------

  write(data: Uint8Array): boolean {
    return this.writer.write(data)
  }

  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    return this.writer.writev(chunks)
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  end(done: (error?: Connection.ConnectionError) => void): void {
    this.writer.end(done)
  }

  destroy(): void {
    // flushes nothing more (the core destroys after end, or after a failure) and
    // closes the descriptor; Bun runs the close handler synchronously
    if (!this.closed) this.socket.end()
  }

  reset(): void {
    // SO_LINGER 0: the queue is dropped by the close handler, which Bun runs synchronously
    if (!this.closed) this.socket.terminate()
  }

  writeBuffered(): number {
    return this.writer.writeBuffered()
  }

  startTls(options: Tls.StartTlsOptions, done: (outcome: Tls.TlsInfo | Tls.TlsError) => void): Driver.SocketDriver {
    return upgradeTls(this, options, done) ?? this
  }

  /** STARTTLS: the TLS socket took over; what the socket beneath still reports (its ciphertext, its close) is ignored. */
  detach(): void {
    this.attached = false
    this.events = inertEvents
  }

  // ---- Bun events ---------------------------------------------------------

  /** The socket is writable again: the writer flushes its queue, then reports drain / finishes a pending end. */
  flush(): void {
    if (this.closed || !this.attached) return
    this.writer.writable()
  }

  onEnd(): void {
    if (this.readEnded || !this.attached) return
    // STARTTLS: the peer gave up during the handshake; its outcome is told first
    this.closedEarly?.(undefined)
    this.readEnded = true
    this.events.readEnd()
    this.writer.peerEnded()
  }

  onError(err: SystemError): void {
    if (this.closed || !this.attached) return
    this.closedEarly?.(err)
    this.reportError(err)
  }

  /** An error of the open connection; a TLS one (an alert after the handshake) carries its `Tls.TlsError`. */
  private reportError(err: SystemError): void {
    if (this.tlsSide !== undefined && BunTls.isTlsFailure(err)) {
      const cause = BunTls.tlsError(err, this.tlsSide, this.remoteAddress)
      return this.events.error(Connection.reasonOf(err.code), cause.code, cause)
    }
    this.events.error(Connection.reasonOf(err.code), err.code, err)
  }

  onClose(err: SystemError | undefined): void {
    if (this.closed) return
    if (!this.attached) {
      // a TLS socket closed during its handshake
      const early = this.closedEarly
      this.closedEarly = undefined
      early?.(err)
      return
    }
    this.closed = true
    // STARTTLS: a close during the handshake fails the upgrade first (the connection is already attached)
    this.closedEarly?.(err)
    const events = this.events
    if (err !== undefined) {
      this.reportError(err)
    } else if (!this.readEnded) {
      // after our own shutdown() Bun reports the peer's FIN as a clean close, not as `end`
      this.readEnded = true
      events.readEnd()
    }
    this.writer.close(
      err === undefined ? undefined : { reason: Connection.reasonOf(err.code), code: err.code, cause: err }
    )
    events.closedByRuntime()
  }
}

/** `ArrayBuffer.prototype.transfer` where the runtime has it (Bun 1.1+). */
type Transferable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }

// Handlers shared by every socket: `socket.data` is the socket's driver.
// The core gets a plain Uint8Array view (once per read): frames are views of chunks, and plain
// views are cheaper than Buffer views. Bun hands us a fresh buffer per read; when the consumer
// only borrowed it and nothing of it waits in our write queue (Bun took every byte written
// synchronously), it is released at once (`transfer(0)` detaches and frees it) instead of
// waiting for a GC: new reads then land in memory that is still in cache (in a process as big
// as Effect's the difference is large; bench/README.md has the figures).
const onData = (s: Socket, chunk: Uint8Array) => {
  const driver = s.data
  const ab = chunk.buffer as Transferable
  const lent = driver.events.borrows()
  driver.events.data(new Uint8Array(ab, chunk.byteOffset, chunk.length))
  if (lent && driver.writeBuffered() === 0 && chunk.byteOffset === 0 && chunk.length === ab.byteLength) {
    ab.transfer?.(0)
  }
}
const onDrain = (s: Socket) => s.data.flush()
const onEnd = (s: Socket) => s.data.onEnd()
const onClose = (s: Socket, err?: SystemError) => s.data?.onClose(err)
const onError = (s: Socket, err: SystemError) => s.data?.onError(err)
const onHandshake = (s: Socket, success: boolean, err: SystemError | null | undefined) =>
  s.data?.handshake?.(s, success, err)

/** Handlers of client sockets: `data` is set by `Bun.connect` before the socket opens. */
const clientHandlers: WirekitBun.SocketHandler<BunDriver> = {
  open: (s) => s.data.dial?.opened(s),
  connectError: (s, err) => s.data?.dial?.failed(err),
  handshake: onHandshake,
  data: onData,
  drain: onDrain,
  end: onEnd,
  close: onClose,
  error: onError
}

/** Where a plain socket's events go once its TLS socket took over (STARTTLS). */
const inertEvents: Driver.SocketEvents = {
  data: () => {},
  borrows: () => false,
  readEnd: () => {},
  error: () => {},
  drain: () => {},
  closedByRuntime: () => {}
}

/** Handlers of a socket upgraded as the TLS server: those of a TLS listener, SNI answered from `sni`. */
const upgradedServerHandlers = (sni: BunTls.SniContexts): WirekitBun.SocketHandler<BunDriver> => ({
  handshake: onHandshake,
  serverName: (_data, name) => Tls.lookupServerName(sni, name),
  data: onData,
  drain: onDrain,
  end: onEnd,
  close: onClose,
  error: onError
})

/**
 * The Bun side of `Connection.startTls`: `socket.upgradeTLS` on the same
 * socket, with the options, handshake checks and typed errors of a TLS listen
 * or connect. The TLS socket gets a driver of its own, wired to the same
 * events; the plain driver is detached, since Bun keeps reporting the
 * ciphertext it reads (and its close) to the plain socket's handlers. Bytes
 * that arrived after `pause()` are still in the kernel: TLS reads them.
 * Undefined when the upgrade could not start (`done` has the error).
 */
const upgradeTls = (
  plain: BunDriver,
  options: Tls.StartTlsOptions,
  done: (outcome: Tls.TlsInfo | Tls.TlsError) => void
): BunDriver | undefined => {
  const side = Tls.startTlsSide(options)
  const remote = plain.remoteAddress
  // Bun 1.4 takes the role from the socket's origin and ignores `isServer`: the other one would hang, not fail
  if ((side === "server") !== plain.accepted) {
    done(
      BunTls.unsupported(
        side,
        `Bun upgrades ${
          plain.accepted ? "an accepted socket only as the TLS server" : "a connected socket only as the TLS client"
        } (socket.upgradeTLS ignores isServer)`,
        remote
      )
    )
    return undefined
  }
  const server = options.server
  const client = options.client
  const requestCert = server?.requestCert ?? false
  const rejectUnauthorized = server !== undefined
    ? requestCert && (server.rejectUnauthorized ?? true)
    : client!.rejectUnauthorized ?? Tls.defaults.rejectUnauthorized
  const serverName = client !== undefined ? client.serverName ?? plain.dialedName : undefined
  let bunTls: WirekitBun.TlsOptions
  let sni: BunTls.SniContexts
  try {
    if (server !== undefined) {
      const source = server.certificates
      const certificates = Tls.isCertificateSource(source) ? source.unsafeGet() : source
      bunTls = BunTls.serverOptions(certificates, server)
      sni = BunTls.sniContexts(certificates, server)
    } else {
      bunTls = BunTls.clientOptions(client!, serverName)
    }
  } catch (err) {
    done(BunTls.tlsError(err, side, remote))
    return undefined
  }
  const driver = new BunDriver(plain.options)
  driver.tlsSide = side
  driver.accepted = plain.accepted
  let settled = false
  const settle = (outcome: Tls.TlsInfo | Tls.TlsError) => {
    if (settled) return
    settled = true
    driver.handshake = undefined
    driver.closedEarly = undefined
    done(outcome)
  }
  driver.closedEarly = (err) =>
    settle(
      err !== undefined
        ? BunTls.tlsError(err, side, remote)
        : new Tls.TlsError({
          reason: "Other",
          side,
          address: remote,
          code: "ECONNRESET",
          detail: "the connection closed during the TLS handshake"
        })
    )
  // the same verdicts as a TLS listener (server) or connect (client); on a failure the core resets the connection
  driver.handshake = (s, success, verified) => {
    if (server !== undefined) {
      if (!success) return settle(BunTls.tlsError(verified ?? new Error("TLS handshake failed"), "server", remote))
      // Bun reports the verification of a client certificate even when none was asked for: it counts only with requestCert
      const peer = requestCert ? BunTls.peerCertificate(s) : undefined
      const authorized = peer !== undefined && (verified === null || verified === undefined)
      if (rejectUnauthorized && !authorized) {
        return settle(
          peer === undefined
            ? new Tls.TlsError({
              reason: "NoCertificate",
              side: "server",
              address: remote,
              code: "PEER_DID_NOT_RETURN_A_CERTIFICATE",
              detail: "the client sent no certificate"
            })
            : BunTls.tlsError(verified, "server", remote)
        )
      }
      const name = s.getServername()
      return settle(
        BunTls.tlsInfo(s, typeof name === "string" && name !== "" ? name : undefined, peer, verified, authorized)
      )
    }
    // a failed handshake (an alert, no common protocol or version), not a certificate check
    if (verified === null || verified === undefined ? !success : !BunTls.isVerifyError(verified)) {
      return settle(BunTls.tlsError(verified ?? new Error("TLS handshake failed"), "client", remote))
    }
    const authorized = success && (verified === null || verified === undefined)
    if (!authorized && rejectUnauthorized) return settle(BunTls.tlsError(verified, "client", remote))
    settle(BunTls.tlsInfo(s, serverName, BunTls.peerCertificate(s), verified, authorized))
  }
  // the TLS socket's events go to the same connection from now on, through a writer of its own
  driver.attach(plain.events, remote!)
  let pair: [raw: Socket, tls: Socket] | undefined
  try {
    pair = plain.socket.upgradeTLS({
      tls: bunTls,
      socket: server !== undefined ? upgradedServerHandlers(sni) : clientHandlers,
      data: driver
    })
  } catch (err) {
    settle(BunTls.tlsError(err, side, remote))
    return undefined
  }
  if (pair === undefined) {
    settle(BunTls.unsupported(side, "socket.upgradeTLS did not upgrade the socket", remote))
    return undefined
  }
  plain.detach()
  driver.socket = pair[1]
  return driver
}

const applyOptions = (s: Socket, options: Connection.ConnectionOptions | undefined) => {
  s.setNoDelay(options?.noDelay ?? Connection.defaults.noDelay)
  if (options?.keepAlive) s.setKeepAlive(true, options.keepAliveInitialDelay ?? 0)
}

/** Builds the core connection around an open socket. */
const wrap = (
  s: Socket,
  driver: BunDriver,
  options: Connection.ConnectionOptions | undefined,
  unixPath: string | undefined,
  tls?: Tls.TlsInfo
): Connection.Connection => {
  driver.socket = s
  s.data = driver
  let localAddress: Address.Address
  let remoteAddress: Address.Address
  if (unixPath !== undefined) {
    localAddress = remoteAddress = { path: unixPath }
  } else {
    applyOptions(s, options)
    localAddress = { host: s.localAddress, port: s.localPort }
    remoteAddress = { host: s.remoteAddress, port: s.remotePort }
  }
  return Driver.makeConnection(
    { localAddress, remoteAddress, options, tls },
    (events) => driver.attach(events, remoteAddress)
  )
}

/** The peer of a socket not wrapped yet (for errors). */
const peerOf = (s: Socket, unixPath: string | undefined): Address.Address =>
  unixPath !== undefined ? { path: unixPath } : { host: s.remoteAddress, port: s.remotePort }

const runtime = (): WirekitBun.Runtime | undefined => (globalThis as { readonly Bun?: WirekitBun.Runtime }).Bun

const notBun = Effect.dieMessage(
  "@wirekit/bun needs the Bun runtime (globalThis.Bun is missing); use @wirekit/node on Node"
)

const errorCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * Listens with `Bun.listen`, over TLS when `options.tls` is set. `backlog` is
 * not supported by Bun (its accept backlog is fixed) and is ignored.
 *
 * @since 0.1.0
 * @category transport
 */
export const listen = (
  address: Address.Address,
  options?: Transport.ListenOptions
): Effect.Effect<Transport.Listener, Transport.ListenError, Scope.Scope> =>
  options?.tls !== undefined ? listenTls(address, options, options.tls) : listenPlain(address, options)

/**
 * Connects with `Bun.connect`, over TLS when `options.tls` is set. The
 * connect timeout is ours: Bun cannot cancel a pending connect, so after a
 * timeout (or an interrupt) the attempt is abandoned and, if it still
 * succeeds later, reset at once.
 *
 * @since 0.1.0
 * @category transport
 */
export const connect = (
  address: Address.Address,
  options?: Transport.ConnectOptions
): Effect.Effect<Connection.Connection, Transport.ConnectError, Scope.Scope> =>
  options?.tls !== undefined ? connectTls(address, options, options.tls) : connectPlain(address, options)

const listenPlain = (
  address: Address.Address,
  options: Transport.ListenOptions | undefined
): Effect.Effect<Transport.Listener, Transport.ListenError, Scope.Scope> =>
  Driver.scopedListener(
    Effect.suspend(() => {
      const bun = runtime()
      if (bun === undefined) return notBun
      const unixPath = Address.isUnix(address) ? address.path : undefined
      let handle: Driver.ListenerHandle | undefined
      const socket: WirekitBun.SocketHandler<BunDriver> = {
        open: (s) => {
          if (handle === undefined) return s.terminate()
          const driver = new BunDriver(options)
          driver.accepted = true
          handle.offer(wrap(s, driver, options, unixPath))
        },
        data: onData,
        drain: onDrain,
        end: onEnd,
        close: onClose,
        error: onError
      }
      let native: WirekitBun.Listener
      try {
        native = unixPath !== undefined
          ? bun.listen<BunDriver>({ unix: unixPath, socket, allowHalfOpen: true })
          : bun.listen<BunDriver>({
            hostname: (address as Address.TcpAddress).host,
            port: (address as Address.TcpAddress).port,
            socket,
            allowHalfOpen: true,
            reusePort: options?.reusePort ?? false,
            ipv6Only: options?.ipv6Only ?? false
          })
      } catch (err) {
        const code = errorCode(err)
        return Effect.fail(
          new Transport.ListenError({ reason: Transport.listenReasonOf(code), address, code, cause: err })
        )
      }
      let bound: Address.Address
      if (unixPath !== undefined) {
        bound = { path: unixPath }
      } else {
        const name: { address?: string; port?: number } = {}
        native.getsockname(name)
        bound = { host: name.address ?? native.hostname, port: name.port ?? native.port }
      }
      handle = Driver.makeListener({
        address: bound,
        acceptQueue: options?.acceptQueue,
        options,
        // open connections stay open; new ones are refused
        close: () => native.stop(false)
      })
      return Effect.succeed(handle)
    })
  )

const connectPlain = (
  address: Address.Address,
  options: Transport.ConnectOptions | undefined
): Effect.Effect<Connection.Connection, Transport.ConnectError, Scope.Scope> =>
  Driver.scopedConnection(
    Effect.suspend(() => {
      const bun = runtime()
      if (bun === undefined) return notBun
      const unixPath = Address.isUnix(address) ? address.path : undefined
      return Driver.connectWithTimeout<Connection.Connection>(
        address,
        { timeout: options?.timeout, errorCode },
        (attempt) => {
          const driver = new BunDriver(options)
          // SNI carries names only: an IP address is not sent (as in a TLS connect)
          driver.dialedName = unixPath !== undefined
            ? "localhost"
            : isIP((address as Address.TcpAddress).host) === 0
            ? (address as Address.TcpAddress).host
            : undefined
          driver.dial = {
            opened: (s) => {
              driver.dial = undefined
              // timed out or interrupted meanwhile: nobody wants this socket
              if (
                !attempt.succeed(() => wrap(s, driver, options, unixPath))
              ) s.terminate()
            },
            failed: (err) => {
              driver.dial = undefined
              attempt.fail(err)
            }
          }
          const pending = unixPath !== undefined
            ? bun.connect<BunDriver>({ unix: unixPath, socket: clientHandlers, data: driver, allowHalfOpen: true })
            : bun.connect<BunDriver>({
              hostname: (address as Address.TcpAddress).host,
              port: (address as Address.TcpAddress).port,
              socket: clientHandlers,
              data: driver,
              allowHalfOpen: true
            })
          // the handlers settle first; this also catches failures without a connectError call
          pending.then(undefined, attempt.fail)
        }
      )
    })
  )

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/** A listen refused for its TLS options (a bad certificate or key, or an option this Bun cannot honour). */
const listenTlsError = (address: Address.Address, err: unknown) => {
  const cause = BunTls.tlsError(err, "server", undefined)
  return new Transport.ListenError({ reason: "Tls", address, code: cause.code, cause })
}

/** True for Bun's error about TLS options rather than about the address (`ERR_OSSL_...`, BoringSSL's reasons). */
const isTlsSetupError = (err: unknown) => {
  if (err instanceof Tls.TlsError) return true
  const code = errorCode(err)
  const message = (err as { message?: unknown } | null)?.message
  return (code !== undefined && (code.startsWith("ERR_OSSL_") || code.startsWith("ERR_SSL_") || Tls.isTlsCode(code))) ||
    (typeof message === "string" && /OPENSSL_internal|TLSOptions/.test(message))
}

const listenTls = (
  address: Address.Address,
  options: Transport.ListenOptions,
  tls: Tls.TlsServerOptions
): Effect.Effect<Transport.Listener, Transport.ListenError, Scope.Scope> =>
  Driver.scopedListener(Effect.flatMap(
    Effect.zip(Effect.clock, Effect.runtime<never>()),
    ([clock, rt]) =>
      Effect.suspend(() => {
        const bun = runtime()
        if (bun === undefined) return notBun
        const unixPath = Address.isUnix(address) ? address.path : undefined
        const source = Tls.isCertificateSource(tls.certificates)
          ? tls.certificates
          : Tls.unsafeMakeCertificateSource(tls.certificates)
        const requestCert = tls.requestCert ?? false
        const rejectUnauthorized = requestCert && (tls.rejectUnauthorized ?? true)
        const timeout = Tls.handshakeTimeoutMillis(tls.handshakeTimeout)
        let bunTls: WirekitBun.TlsOptions
        /** The contexts of the SNI entries, replaced on reload. */
        let sni: BunTls.SniContexts
        try {
          const certificates = source.unsafeGet()
          bunTls = BunTls.serverOptions(certificates, tls)
          sni = BunTls.sniContexts(certificates, tls)
        } catch (err) {
          return Effect.fail(listenTlsError(address, err))
        }
        const counters = Tls.makeListenerCounters()
        const timer = Tls.makeHandshakeTimer(clock, Duration.millis(timeout))
        const log = Runtime.runFork(rt)
        /** Sockets still handshaking: closed with the listener. */
        const handshaking = new Set<Socket>()
        let handle: Driver.ListenerHandle | undefined
        let bound: Address.Address | undefined

        /**
         * A handshake that failed, timed out or was refused: counted, logged, its socket closed, never accepted.
         * Closed, not reset: an alert BoringSSL just sent must reach the client (a reset would discard it).
         */
        const refuse = (s: Socket, error: Tls.TlsError) => {
          counters.failed(error.reason)
          log(
            Effect.logDebug("TLS handshake failed; connection closed", error).pipe(
              Effect.annotateLogs({ listener: bound ? Address.format(bound) : "", reason: error.reason })
            )
          )
          if (s.readyState !== -1) s.end()
        }

        const open = (s: Socket) => {
          if (handle === undefined) return s.terminate()
          const driver = new BunDriver(options)
          driver.accepted = true
          driver.tlsSide = "server"
          s.data = driver
          counters.started()
          handshaking.add(s)
          let settled = false
          /** Ends the handshake phase: false if it was over already. */
          const settle = () => {
            if (settled) return false
            settled = true
            cancel()
            handshaking.delete(s)
            driver.handshake = undefined
            driver.closedEarly = undefined
            return true
          }
          const cancel = timer.start(() => {
            if (!settle()) return
            refuse(
              s,
              new Tls.TlsError({
                reason: "HandshakeTimeout",
                side: "server",
                address: peerOf(s, unixPath),
                code: "ERR_TLS_HANDSHAKE_TIMEOUT",
                timeout
              })
            )
          })
          driver.closedEarly = (err) => {
            if (!settle()) return
            refuse(
              s,
              BunTls.tlsError(
                err ?? new Error("the peer closed the connection during the handshake"),
                "server",
                peerOf(s, unixPath),
                err === undefined ? "Other" : undefined
              )
            )
          }
          driver.handshake = (s, success, verified) => {
            if (!settle()) return
            const remote = peerOf(s, unixPath)
            // a failed handshake: an alert either way, no common protocol or version, a peer that is not TLS
            if (!success) {
              return refuse(s, BunTls.tlsError(verified ?? new Error("TLS handshake failed"), "server", remote))
            }
            // Bun reports the verification of a client certificate even when none was asked for: it counts only with requestCert
            const peer = requestCert ? BunTls.peerCertificate(s) : undefined
            const authorized = peer !== undefined && (verified === null || verified === undefined)
            if (rejectUnauthorized && !authorized) {
              return refuse(
                s,
                peer === undefined
                  ? new Tls.TlsError({
                    reason: "NoCertificate",
                    side: "server",
                    address: remote,
                    code: "PEER_DID_NOT_RETURN_A_CERTIFICATE",
                    detail: "the client sent no certificate"
                  })
                  : BunTls.tlsError(verified, "server", remote)
              )
            }
            counters.succeeded()
            const serverName = s.getServername()
            const info = BunTls.tlsInfo(
              s,
              typeof serverName === "string" && serverName !== "" ? serverName : undefined,
              peer,
              verified,
              authorized
            )
            handle!.offer(wrap(s, driver, options, unixPath, info))
          }
        }

        const socket: WirekitBun.SocketHandler<BunDriver> = {
          open,
          handshake: onHandshake,
          serverName: (_data, name) => Tls.lookupServerName(sni, name),
          data: onData,
          drain: onDrain,
          end: onEnd,
          close: onClose,
          error: onError
        }
        let native: WirekitBun.Listener
        try {
          native = unixPath !== undefined
            ? bun.listen<BunDriver>({ unix: unixPath, socket, allowHalfOpen: true, tls: bunTls })
            : bun.listen<BunDriver>({
              hostname: (address as Address.TcpAddress).host,
              port: (address as Address.TcpAddress).port,
              socket,
              allowHalfOpen: true,
              reusePort: options.reusePort ?? false,
              ipv6Only: options.ipv6Only ?? false,
              tls: bunTls
            })
        } catch (err) {
          if (isTlsSetupError(err)) return Effect.fail(listenTlsError(address, err))
          const code = errorCode(err)
          return Effect.fail(
            new Transport.ListenError({ reason: Transport.listenReasonOf(code), address, code, cause: err })
          )
        }
        // reload: every listener using the source checks the new certificates first, then all switch
        const replaceDefault = BunTls.defaultReplacer()
        const unsubscribe = source.unsafeSubscribe((certificates) => {
          if (typeof replaceDefault !== "function") return replaceDefault
          let next: BunTls.SniContexts
          try {
            BunTls.checkDefault(certificates, tls)
            next = BunTls.sniContexts(certificates, tls)
          } catch (err) {
            return BunTls.tlsError(err, "server", undefined)
          }
          return () => {
            try {
              replaceDefault(native, certificates, tls)
            } catch (err) {
              // checked above, so not expected: the listener keeps its previous default certificate
              log(
                Effect.logWarning(
                  "TLS certificate reload: the default certificate was not replaced",
                  BunTls.tlsError(err, "server", undefined)
                )
              )
            }
            sni = next
          }
        })
        if (unixPath !== undefined) {
          bound = { path: unixPath }
        } else {
          const name: { address?: string; port?: number } = {}
          native.getsockname(name)
          bound = { host: name.address ?? native.hostname, port: name.port ?? native.port }
        }
        const listenerTls: Tls.ListenerTls = { certificates: source, stats: counters.stats }
        const base = Driver.makeListener({
          address: bound,
          acceptQueue: options.acceptQueue,
          options,
          // open connections stay open; new ones, and those still handshaking, are closed
          close: () => {
            native.stop(false)
            unsubscribe()
            timer.close()
            for (const s of handshaking) s.terminate()
            handshaking.clear()
          }
        })
        const l = base.listener
        handle = {
          ...base,
          listener: { address: l.address, accept: l.accept, close: l.close, rejected: l.rejected, tls: listenerTls }
        }
        return Effect.succeed(handle)
      })
  ))

/** What a TLS connect's handshake came to: the connection, or why there is none. */
type Handshaken = { readonly _tag: "Connected"; readonly connection: Connection.Connection } | {
  readonly _tag: "Failed"
  readonly error: Transport.ConnectError
}

const connectTls = (
  address: Address.Address,
  options: Transport.ConnectOptions,
  tls: Tls.TlsClientOptions
): Effect.Effect<Connection.Connection, Transport.ConnectError, Scope.Scope> =>
  Driver.scopedConnection(Effect.suspend(() => {
    const bun = runtime()
    if (bun === undefined) return notBun
    const unixPath = Address.isUnix(address) ? address.path : undefined
    const host = unixPath === undefined ? (address as Address.TcpAddress).host : undefined
    // SNI carries names only: an IP address is checked against the certificate but not sent
    const serverName = tls.serverName ??
      (unixPath !== undefined ? "localhost" : host !== undefined && isIP(host) === 0 ? host : undefined)
    const rejectUnauthorized = tls.rejectUnauthorized ?? Tls.defaults.rejectUnauthorized
    const tlsFailure = (err: unknown, reason?: Tls.TlsErrorReason) => {
      const cause = BunTls.tlsError(err, "client", address, reason)
      return new Transport.ConnectError({ reason: "Tls", address, code: cause.code, cause })
    }
    let bunTls: WirekitBun.TlsOptions
    try {
      bunTls = BunTls.clientOptions(tls, serverName)
    } catch (err) {
      return Effect.fail(tlsFailure(err))
    }
    const timeout = options.timeout ?? Transport.defaultConnectTimeout
    const handshakeTimeout = Tls.handshakeTimeoutMillis(tls.handshakeTimeout)
    const start = Date.now()
    const driver = new BunDriver(options)
    driver.tlsSide = "client"
    // The handshake's outcome is settled in Bun's callback, where the connection is built at once (bytes the
    // server sends right after its handshake then have somewhere to go); the second phase below takes it.
    let outcome: Handshaken | undefined
    let taker: ((outcome: Handshaken) => void) | undefined
    let abandoned = false
    const settle = (s: Socket, handshaken: Handshaken) => {
      driver.handshake = undefined
      driver.closedEarly = undefined
      if (abandoned) {
        if (s.readyState !== -1) s.terminate()
        return
      }
      if (taker !== undefined) taker(handshaken)
      else outcome = handshaken
    }
    driver.handshake = (s, success, verified) => {
      const failed = (error: Transport.ConnectError) => {
        // settled first: closing runs Bun's close handler at once
        settle(s, { _tag: "Failed", error })
        if (s.readyState !== -1) s.end()
      }
      // a failed handshake (an alert, no common protocol or version), not a certificate check
      if (verified === null || verified === undefined ? !success : !BunTls.isVerifyError(verified)) {
        return failed(tlsFailure(verified ?? new Error("TLS handshake failed")))
      }
      const authorized = success && (verified === null || verified === undefined)
      if (!authorized && rejectUnauthorized) return failed(tlsFailure(verified))
      const info = BunTls.tlsInfo(s, serverName, BunTls.peerCertificate(s), verified, authorized)
      settle(s, { _tag: "Connected", connection: wrap(s, driver, options, unixPath, info) })
    }
    driver.closedEarly = (err) => {
      driver.handshake = undefined
      if (abandoned) return
      const error = tlsFailure(
        err ?? new Error("the server closed the connection during the handshake"),
        err === undefined ? "Other" : undefined
      )
      if (taker !== undefined) taker({ _tag: "Failed", error })
      else outcome = { _tag: "Failed", error }
    }
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        // phase 1: the TCP connect (Bun's `open`), under the connect timeout
        const s = yield* restore(Driver.connectWithTimeout<Socket>(address, { timeout, errorCode }, (attempt) => {
          driver.dial = {
            opened: (s) => {
              driver.dial = undefined
              // timed out or interrupted meanwhile: nobody wants this socket
              if (!attempt.succeed(() => s)) {
                abandoned = true
                s.terminate()
              }
            },
            failed: (err) => {
              driver.dial = undefined
              attempt.fail(err)
            }
          }
          const pending = unixPath !== undefined
            ? bun.connect<BunDriver>({
              unix: unixPath,
              socket: clientHandlers,
              data: driver,
              allowHalfOpen: true,
              tls: bunTls
            })
            : bun.connect<BunDriver>({
              hostname: host!,
              port: (address as Address.TcpAddress).port,
              socket: clientHandlers,
              data: driver,
              allowHalfOpen: true,
              tls: bunTls
            })
          pending.then(undefined, attempt.fail)
        }))
        // phase 2: the handshake; the connect timeout covers it too, the handshake timeout bounds it alone
        const left = timeout - (Date.now() - start)
        const connectBound = left < handshakeTimeout
        const limit = Math.max(0, connectBound ? left : handshakeTimeout)
        const handshaken = yield* restore(Effect.async<Handshaken>((resume) => {
          if (outcome !== undefined) return resume(Effect.succeed(outcome))
          taker = (o) => resume(Effect.succeed(o))
          return Effect.sync(() => {
            taker = undefined
          })
        })).pipe(
          Effect.timeoutFail({
            duration: Duration.millis(limit),
            onTimeout: () =>
              connectBound
                ? new Transport.ConnectError({ reason: "TimedOut", address, timeout, code: "ETIMEDOUT" })
                : new Transport.ConnectError({
                  reason: "Tls",
                  address,
                  code: "ERR_TLS_HANDSHAKE_TIMEOUT",
                  cause: new Tls.TlsError({
                    reason: "HandshakeTimeout",
                    side: "client",
                    address,
                    code: "ERR_TLS_HANDSHAKE_TIMEOUT",
                    timeout: handshakeTimeout
                  })
                })
          }),
          Effect.onError(() =>
            Effect.sync(() => {
              // given up (timeout or interrupt): whatever the handshake still brings is closed
              abandoned = true
              if (outcome?._tag === "Connected" || s.readyState !== -1) s.terminate()
            })
          )
        )
        if (handshaken._tag === "Failed") return yield* Effect.fail(handshaken.error)
        return handshaken.connection
      })
    )
  }))

/**
 * The Bun transport service.
 *
 * @since 0.1.0
 * @category transport
 */
export const transport: Transport.TransportService = { name: "bun", listen, connect }

/**
 * Provides {@link Transport.Transport} on Bun's native sockets.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Transport.Transport> = Layer.succeed(Transport.Transport, transport)

/**
 * TLS defaults of a transport (see `Tls.TlsDefaults`).
 *
 * @since 0.1.0
 * @category models
 */
export type TlsDefaults = Tls.TlsDefaults

/**
 * The Bun transport with TLS defaults (see {@link TlsDefaults}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTransport = (defaults: TlsDefaults): Transport.TransportService =>
  Tls.withDefaults(transport, defaults)

/**
 * Provides {@link Transport.Transport} on Bun's native sockets with TLS:
 * listens and connects speak TLS with these defaults unless their own options
 * say otherwise. A whole program (or a conformance suite) then runs over TLS
 * unchanged.
 *
 * @example
 * ```ts
 * const tlsLayer = BunTransport.layerTls({
 *   server: { certificates: { cert, key } },
 *   client: { ca }
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTls = (defaults: TlsDefaults): Layer.Layer<Transport.Transport> =>
  Layer.succeed(Transport.Transport, makeTransport(defaults))
