/**
 * The wirekit transport on `node:net` and `node:tls`: TCP (IPv4/IPv6) and Unix
 * sockets, plain or TLS.
 *
 * Read backpressure uses `socket.pause()`/`resume()`; write backpressure uses
 * `write()`'s return value and `'drain'`; half-close uses `allowHalfOpen` and
 * `end()` (over TLS: close_notify, then FIN); abort uses `resetAndDestroy()`
 * on the TCP socket (RST), under TLS too. Error codes map to the core's typed
 * reasons.
 *
 * TLS: `listen(address, { tls })` and `connect(address, { tls })` (see
 * `Tls.TlsServerOptions` and `Tls.TlsClientOptions`), or {@link layerTls},
 * whose listens and connects speak TLS by default. The server side runs on
 * `tls.Server`: handshake deadlines on the Effect Clock (one timer per
 * listener), SNI by `SNICallback`, certificate reload by `setSecureContext`.
 * STARTTLS (`connection.startTls`): a `TLSSocket` on the same TCP socket.
 *
 * @example
 * ```ts
 * import { Server } from "@wirekit/core"
 * import { NodeTransport } from "@wirekit/node"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(Server.layer({ host: "127.0.0.1", port: 7000 }, handler)).pipe(
 *   Effect.provide(NodeTransport.layer)
 * )
 * // the same server over TLS
 * Layer.launch(Server.layer({ host: "0.0.0.0", port: 7443 }, handler, {
 *   tls: { certificates: { cert: certPem, key: keyPem } }
 * })).pipe(Effect.provide(NodeTransport.layer))
 * ```
 * @since 0.1.0
 */
import { Address, Connection, Driver, Tls, Transport } from "@wirekit/core"
import { Duration, Effect, Layer, Runtime } from "effect"
import * as Net from "node:net"
import * as NodeTls from "node:tls"

const toAddress = (
  family: string | undefined,
  host: string | undefined,
  port: number | undefined,
  path?: string
): Address.Address =>
  path !== undefined ? { path } : { host: host ?? (family === "IPv6" ? "::" : "0.0.0.0"), port: port ?? 0 }

/** What a TLS connection adds: the TCP socket beneath (for resets) and its session (not known yet while a STARTTLS handshake runs). */
interface TlsSide {
  readonly raw: Net.Socket
  readonly info?: Tls.TlsInfo | undefined
  readonly side: "client" | "server"
}

/** RST where the socket allows it (TCP); otherwise (a Unix socket, one still opening) a plain destroy. */
const resetSocket = (socket: Net.Socket) => {
  if (socket.destroyed) return
  try {
    if (typeof socket.resetAndDestroy === "function" && socket.readyState !== "opening") {
      return void socket.resetAndDestroy()
    }
  } catch {
    // not a TCP handle
  }
  socket.destroy()
}

/**
 * The graceful close of a TLS socket, once our close_notify and FIN are out
 * and the peer has not ended its side. Releasing the socket now would make
 * the kernel answer anything the peer still sends, such as the session
 * tickets a TLS 1.3 server sends after the handshake, with an RST, and an RST
 * destroys whatever the peer has received and not read yet: the tail of our
 * last writes. So the socket keeps reading (and discarding) until the peer
 * ends, for at most `closeTimeout`, in the background: the connection counts
 * as closed at once, and the lingering socket does not keep the process alive.
 */
const linger = (socket: Net.Socket, closeTimeout: number, events: Driver.SocketEvents) => {
  const timer = setTimeout(() => socket.destroy(), closeTimeout)
  timer.unref()
  socket.once("end", () => socket.destroy())
  socket.once("close", () => clearTimeout(timer))
  socket.on("error", () => {})
  socket.unref()
  socket.resume()
  events.closedByRuntime()
}

/**
 * RST under TLS. Resetting the TCP socket itself would close its handle while
 * the TLS layer still uses it (node crashes). Instead the TCP socket is told to
 * reset when it closes (node's own flag behind `resetAndDestroy`), and the TLS
 * socket is destroyed: it releases its TLS state, then closes the TCP socket
 * beneath, which sends the RST.
 */
const resetTls = (socket: NodeTls.TLSSocket, tcp: Net.Socket) => {
  if (socket.destroyed) return
  const handle = (tcp as unknown as { _handle?: { reset?: unknown } | null })._handle
  if (typeof handle?.reset === "function") (tcp as unknown as { resetAndClosing: boolean }).resetAndClosing = true
  socket.destroy()
}

/**
 * The driver of one socket. Its methods live on the prototype: a connection
 * that waits for its peer holds one small object, not a closure per method.
 */
class NodeDriver implements Driver.SocketDriver {
  constructor(
    private readonly socket: Net.Socket,
    private readonly writeHWM: number,
    private readonly events: Driver.SocketEvents,
    private readonly options: Connection.ConnectionOptions | undefined,
    private readonly tls: TlsSide | undefined
  ) {}

  // Wait for drain only when node itself asked for it (so a 'drain' event is
  // guaranteed) and its buffer is past our high-water mark.
  private accepted(ret: boolean): boolean {
    return ret || this.socket.writableLength < this.writeHWM
  }

  write(data: Uint8Array): boolean {
    return this.accepted(this.socket.write(data))
  }

  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    const socket = this.socket
    let ret = true
    socket.cork()
    for (const c of chunks) ret = socket.write(c)
    socket.uncork()
    return this.accepted(ret)
  }

  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  end(done: (error?: Connection.ConnectionError) => void): void {
    if (this.socket.writableFinished) return done()
    this.socket.end(() => done())
  }

  destroy(): void {
    const socket = this.socket
    if (this.tls === undefined) return void socket.destroy()
    if (socket.destroyed) return
    // our close_notify and FIN are out but the peer has not ended: linger (see below)
    if (socket.writableFinished && !socket.readableEnded) {
      return linger(socket, this.options?.closeTimeout ?? Connection.defaults.closeTimeout, this.events)
    }
    socket.destroy()
  }

  reset(): void {
    if (this.tls === undefined) resetSocket(this.socket)
    else resetTls(this.socket as NodeTls.TLSSocket, this.tls.raw)
  }

  writeBuffered(): number {
    return this.socket.writableLength
  }

  startTls(options: Tls.StartTlsOptions, done: (outcome: Tls.TlsInfo | Tls.TlsError) => void): Driver.SocketDriver {
    return upgrade(this.socket, this.events, this.options, options, done) ?? this
  }
}

/**
 * Plain sockets upgraded to TLS (STARTTLS): from then on the TLS stream on
 * top reports their end, errors and close (it re-emits the errors of the
 * socket beneath).
 */
const upgraded = new WeakSet<Net.Socket>()

/** Reports the socket's events to `events`; returns its driver. */
const attach = (
  socket: Net.Socket,
  options: Connection.ConnectionOptions | undefined,
  events: Driver.SocketEvents,
  remote: Address.Address | undefined,
  tls: TlsSide | undefined
) => {
  // hand the core a plain Uint8Array view (once per read): frames are views of
  // chunks, and a plain typed-array view is far cheaper to make than a Buffer's
  socket.on("data", (chunk: Buffer) => events.data(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)))
  socket.on("end", () => {
    if (!upgraded.has(socket)) events.readEnd()
  })
  socket.on("drain", () => events.drain())
  socket.on("error", (err: NodeJS.ErrnoException) => {
    // a TLS alert after the handshake (TLS 1.3: a server refusing our certificate) carries a TlsError
    if (!upgraded.has(socket)) {
      events.error(
        Connection.reasonOf(err.code),
        err.code,
        tls && Tls.isTlsCode(err.code) ? tlsError(err, tls.side, remote) : err
      )
    }
  })
  socket.on("close", () => {
    if (!upgraded.has(socket)) events.closedByRuntime()
  })
  return new NodeDriver(socket, options?.writeHighWaterMark ?? 64 * 1024, events, options, tls)
}

const wrap = (
  socket: Net.Socket,
  options: Connection.ConnectionOptions | undefined,
  local: Address.Address,
  remote: Address.Address,
  tls?: TlsSide
) => {
  socket.setNoDelay(options?.noDelay ?? true)
  if (options?.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelay ?? 0)
  return Driver.makeConnection(
    { localAddress: local, remoteAddress: remote, options, tls: tls?.info },
    (events) => attach(socket, options, events, remote, tls)
  )
}

const socketAddresses = (socket: Net.Socket, unixPath: string | undefined) => {
  if (unixPath !== undefined) return { local: { path: unixPath }, remote: { path: unixPath } }
  return {
    local: toAddress(socket.localFamily, socket.localAddress, socket.localPort),
    remote: toAddress(socket.remoteFamily, socket.remoteAddress, socket.remotePort)
  }
}

const unixPathOf = (address: Address.Address) => ("path" in address ? address.path : undefined)

/** Where a listen ended up, from node's report. */
const boundAddress = (server: Net.Server, address: Address.Address): Address.Address => {
  const a = server.address()
  return typeof a === "string" || a === null
    ? { path: (address as Address.UnixAddress).path }
    : { host: a.address, port: a.port }
}

/** Starts listening (TCP or Unix); `onListening` runs once bound, `onError` if binding failed. */
const bind = (
  server: Net.Server,
  address: Address.Address,
  options: Transport.ListenOptions | undefined,
  onListening: () => void,
  onFailure: (error: Transport.ListenError) => void
) => {
  const onError = (err: NodeJS.ErrnoException) => {
    server.close()
    onFailure(
      new Transport.ListenError({ reason: Transport.listenReasonOf(err.code), address, code: err.code, cause: err })
    )
  }
  server.once("error", onError)
  server.once("listening", () => {
    server.off("error", onError)
    server.on("error", () => {})
    onListening()
  })
  const backlog = options?.backlog ?? Transport.defaultBacklog
  const path = unixPathOf(address)
  if (path !== undefined) server.listen({ path, backlog })
  else {
    const tcp = address as Address.TcpAddress
    server.listen(
      {
        host: tcp.host,
        port: tcp.port,
        backlog,
        ipv6Only: options?.ipv6Only ?? false,
        reusePort: options?.reusePort ?? false
      } as Net.ListenOptions
    )
  }
}

const listenPlain = (address: Address.Address, options: Transport.ListenOptions | undefined) =>
  Driver.scopedListener(
    Effect.async<Driver.ListenerHandle, Transport.ListenError>((resume) => {
      const server = Net.createServer({
        allowHalfOpen: options?.allowHalfOpen ?? true,
        highWaterMark: options?.writeHighWaterMark ?? 64 * 1024
      } as Net.ServerOpts)
      let handle: Driver.ListenerHandle | undefined
      const unixPath = unixPathOf(address)
      server.on("connection", (socket) => {
        if (!handle) return socket.destroy()
        const { local, remote } = socketAddresses(socket, unixPath)
        handle.offer(wrap(socket, options, local, remote))
      })
      bind(server, address, options, () => {
        handle = Driver.makeListener({
          address: boundAddress(server, address),
          acceptQueue: options?.acceptQueue,
          close: () => server.close(),
          options
        })
        resume(Effect.succeed(handle))
      }, (error) => resume(Effect.fail(error)))
      return Effect.sync(() => server.close())
    })
  )

/**
 * Listens with `node:net`, or with `node:tls` when `options.tls` is set.
 *
 * @since 0.1.0
 * @category transport
 */
export const listen = (address: Address.Address, options?: Transport.ListenOptions) =>
  options?.tls !== undefined ? listenTls(address, options, options.tls) : listenPlain(address, options)

/**
 * Connects with `node:net`, or with `node:tls` when `options.tls` is set.
 *
 * @since 0.1.0
 * @category transport
 */
export const connect = (address: Address.Address, options?: Transport.ConnectOptions) =>
  options?.tls !== undefined ? connectTls(address, options, options.tls) : connectPlain(address, options)

const errorCode = (cause: unknown) => (cause as NodeJS.ErrnoException | undefined)?.code

/** The TCP (or Unix) connect, with the connect timeout; `make` runs synchronously once connected. */
const connectSocket = <A>(
  address: Address.Address,
  options: Transport.ConnectOptions | undefined,
  make: (socket: Net.Socket) => A
) =>
  Driver.connectWithTimeout<A>(address, { timeout: options?.timeout, errorCode }, (attempt) => {
    const path = unixPathOf(address)
    const allowHalfOpen = options?.allowHalfOpen ?? true
    const socket = path !== undefined
      ? Net.connect({ path, allowHalfOpen })
      : Net.connect({
        host: (address as Address.TcpAddress).host,
        port: (address as Address.TcpAddress).port,
        allowHalfOpen
      })
    const onError = (err: NodeJS.ErrnoException) => {
      socket.destroy()
      attempt.fail(err)
    }
    socket.once("error", onError)
    socket.once("connect", () => {
      socket.off("error", onError)
      if (!attempt.succeed(() => make(socket))) socket.destroy()
    })
    return () => socket.destroy()
  })

const connectPlain = (address: Address.Address, options: Transport.ConnectOptions | undefined) =>
  Driver.scopedConnection(connectSocket(address, options, (socket) => {
    const { local, remote } = socketAddresses(socket, unixPathOf(address))
    return wrap(socket, options, local, remote)
  }))

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

const buffer = (
  pem: Tls.Pem
): string | Buffer => (typeof pem === "string" ? pem : Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength))
const buffers = (pem: Tls.Pem | ReadonlyArray<Tls.Pem>): string | Buffer | Array<string | Buffer> =>
  Array.isArray(pem) ? (pem as ReadonlyArray<Tls.Pem>).map(buffer) : buffer(pem as Tls.Pem)

/** Secure-context options of one certificate (and the CAs that verify peers). */
const contextOptions = (
  pair: Tls.KeyPair | undefined,
  ca: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined,
  minVersion: Tls.TlsVersion
): NodeTls.SecureContextOptions => {
  const options: { -readonly [K in keyof NodeTls.SecureContextOptions]: NodeTls.SecureContextOptions[K] } = {
    minVersion
  }
  if (pair !== undefined) {
    options.cert = buffers(pair.cert)
    options.key = buffer(pair.key)
    if (pair.passphrase !== undefined) options.passphrase = pair.passphrase
  }
  if (ca !== undefined) options.ca = buffers(ca)
  return options
}

/** A TlsError from an error node reported (or threw). */
const tlsError = (
  err: unknown,
  side: "client" | "server",
  address: Address.Address | undefined,
  reason?: Tls.TlsErrorReason
) => {
  const e = err as NodeJS.ErrnoException | undefined
  const code = typeof e?.code === "string" ? e.code : undefined
  const detail = typeof e?.message === "string" ? e.message : String(err)
  return new Tls.TlsError({ reason: reason ?? Tls.reasonOf(code, detail), side, address, code, detail, cause: err })
}

const toDistinguishedName = (dn: object | undefined): Tls.DistinguishedName => {
  const out: Record<string, string | ReadonlyArray<string>> = {}
  if (dn) { for (const [k, v] of Object.entries(dn)) out[k] = Array.isArray(v) ? [...(v as Array<string>)] : String(v) }
  return out
}

const toPeerCertificate = (c: NodeTls.PeerCertificate): Tls.PeerCertificate => ({
  subject: toDistinguishedName(c.subject),
  issuer: toDistinguishedName(c.issuer),
  subjectAltName: Tls.parseSubjectAltName(c.subjectaltname),
  validFrom: new Date(c.valid_from),
  validTo: new Date(c.valid_to),
  fingerprint256: c.fingerprint256,
  serialNumber: c.serialNumber.toUpperCase(),
  raw: new Uint8Array(c.raw.buffer, c.raw.byteOffset, c.raw.byteLength)
})

/** The session of a TLS socket whose handshake is done. */
const tlsInfo = (socket: NodeTls.TLSSocket, serverName: string | undefined, withPeer: boolean): Tls.TlsInfo => {
  const cert = withPeer ? socket.getPeerCertificate(false) : undefined
  const cipher = socket.getCipher()
  const alpn = socket.alpnProtocol
  const authError = socket.authorizationError as unknown
  return {
    protocol: socket.getProtocol() ?? "unknown",
    cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
    alpnProtocol: typeof alpn === "string" ? alpn : undefined,
    serverName,
    authorized: socket.authorized === true,
    authorizationError: authError === undefined || authError === null
      ? undefined
      : typeof authError === "string"
      ? authError
      : (authError as { code?: string }).code ?? String(authError),
    peerCertificate: cert !== undefined && cert !== null && cert.raw !== undefined ? toPeerCertificate(cert) : undefined
  }
}

/** The TCP socket a server-side TLS socket wraps (node keeps it as `_parent`). */
const tcpOf = (socket: NodeTls.TLSSocket): Net.Socket | undefined =>
  (socket as unknown as { _parent?: Net.Socket })._parent

/** The secure contexts of a listener's certificates: node's options for the default one, built contexts by server name. */
interface Contexts {
  readonly options: NodeTls.SecureContextOptions
  readonly sni: Readonly<Record<string, NodeTls.SecureContext>> | undefined
}

const buildContexts = (certificates: Tls.ServerCertificates, minVersion: Tls.TlsVersion): Contexts => {
  const options = contextOptions(certificates, certificates.ca, minVersion)
  let sni: Record<string, NodeTls.SecureContext> | undefined
  if (certificates.sni !== undefined) {
    sni = {}
    // the CAs go into every context: a context chosen by SNI verifies client certificates with its own store
    for (const [name, pair] of Object.entries(certificates.sni)) {
      sni[name] = NodeTls.createSecureContext(contextOptions(pair, certificates.ca, minVersion))
    }
  }
  return { options, sni }
}

/** The largest delay node's timers take. */
const maxTimer = 2 ** 31 - 1

const listenTls = (address: Address.Address, options: Transport.ListenOptions, tls: Tls.TlsServerOptions) =>
  Driver.scopedListener(Effect.flatMap(
    Effect.zip(Effect.clock, Effect.runtime<never>()),
    ([clock, runtime]) =>
      Effect.async<Driver.ListenerHandle, Transport.ListenError>((resume) => {
        const source = Tls.isCertificateSource(tls.certificates)
          ? tls.certificates
          : Tls.unsafeMakeCertificateSource(tls.certificates)
        const minVersion = tls.minVersion ?? Tls.defaults.minVersion
        const requestCert = tls.requestCert ?? false
        const timeout = Tls.handshakeTimeoutMillis(tls.handshakeTimeout)
        const failListen = (err: unknown) =>
          resume(
            Effect.fail(
              new Transport.ListenError({
                reason: "Tls",
                address,
                code: errorCode(err),
                cause: tlsError(err, "server", undefined)
              })
            )
          )
        let contexts: Contexts
        let server: NodeTls.Server
        try {
          contexts = buildContexts(source.unsafeGet(), minVersion)
          server = NodeTls.createServer({
            ...contexts.options,
            allowHalfOpen: options.allowHalfOpen ?? true,
            highWaterMark: options.writeHighWaterMark ?? 64 * 1024,
            // from accept on, not once wrapped: the handshake's own small writes (the session
            // tickets after the client's Finished) must not wait for an ACK under Nagle
            noDelay: options.noDelay ?? true,
            requestCert,
            rejectUnauthorized: requestCert && (tls.rejectUnauthorized ?? true),
            ...(tls.alpnProtocols !== undefined ? { ALPNProtocols: [...tls.alpnProtocols] } : {}),
            SNICallback: (name, cb) => cb(null, Tls.lookupServerName(contexts.sni, name)),
            // node's own timeout counts idle time only: ours (below) is the real one; node's stays as a backstop
            handshakeTimeout: Math.min(timeout + 1000, maxTimer)
          } as NodeTls.TlsOptions)
        } catch (err) {
          return failListen(err)
        }
        const counters = Tls.makeListenerCounters()
        const timer = Tls.makeHandshakeTimer(clock, Duration.millis(timeout))
        const log = Runtime.runFork(runtime)
        const unixPath = unixPathOf(address)
        /** TCP sockets still handshaking, with the function that cancels their deadline. */
        const handshaking = new Map<Net.Socket, () => void>()
        const timedOut = new WeakSet<Net.Socket>()
        let handle: Driver.ListenerHandle | undefined
        let bound: Address.Address | undefined

        /** Ends the handshake phase of `tcp`: false if it was over already. */
        const settle = (tcp: Net.Socket | undefined) => {
          const cancel = tcp === undefined ? undefined : handshaking.get(tcp)
          if (cancel === undefined) return false
          handshaking.delete(tcp!)
          cancel()
          return true
        }

        server.on("connection", (tcp: Net.Socket) => {
          counters.started()
          handshaking.set(
            tcp,
            timer.start(() => {
              timedOut.add(tcp)
              tcp.destroy()
            })
          )
        })
        server.on("secureConnection", (socket: NodeTls.TLSSocket) => {
          const tcp = tcpOf(socket)
          if (settle(tcp)) counters.succeeded()
          if (!handle || tcp === undefined) return socket.destroy()
          // the same addresses, asked of the socket beneath: the TLS socket forwards each query to it
          const { local, remote } = socketAddresses(tcp, unixPath)
          const serverName = typeof socket.servername === "string" ? socket.servername : undefined
          handle.offer(
            wrap(socket, options, local, remote, {
              raw: tcp,
              info: tlsInfo(socket, serverName, requestCert),
              side: "server"
            })
          )
        })
        server.on("tlsClientError", (err: NodeJS.ErrnoException, socket: NodeTls.TLSSocket) => {
          const tcp = tcpOf(socket)
          if (!settle(tcp)) return
          const authError = socket.authorizationError as unknown
          // node closes a client whose certificate failed verification without an error of its own
          const reason: Tls.TlsErrorReason = tcp !== undefined && timedOut.has(tcp)
            ? "HandshakeTimeout"
            : typeof authError === "string" && err.code === "ECONNRESET"
            ? Tls.reasonOf(authError)
            : Tls.reasonOf(err.code, err.message)
          counters.failed(reason)
          const remote = socketAddresses(socket, unixPath).remote
          const error = reason === "HandshakeTimeout"
            ? new Tls.TlsError({
              reason,
              side: "server",
              address: remote,
              code: "ERR_TLS_HANDSHAKE_TIMEOUT",
              timeout,
              cause: err
            })
            : tlsError(err, "server", remote, reason)
          log(
            Effect.logDebug("TLS handshake failed; connection closed", error).pipe(
              Effect.annotateLogs({ listener: bound ? Address.format(bound) : "", reason })
            )
          )
        })
        const unsubscribe = source.unsafeSubscribe((certificates) => {
          let next: Contexts
          try {
            next = buildContexts(certificates, minVersion)
            NodeTls.createSecureContext(next.options) // refuse what setSecureContext would throw on, before anything changes
          } catch (err) {
            return tlsError(err, "server", undefined)
          }
          return () => {
            server.setSecureContext(next.options)
            contexts = next
          }
        })
        bind(server, address, options, () => {
          bound = boundAddress(server, address)
          const listenerTls: Tls.ListenerTls = { certificates: source, stats: counters.stats }
          const base = Driver.makeListener({
            address: bound,
            acceptQueue: options.acceptQueue,
            options,
            close: () => {
              server.close()
              unsubscribe()
              timer.close()
              for (const tcp of handshaking.keys()) tcp.destroy()
            }
          })
          const l = base.listener
          handle = {
            ...base,
            listener: { address: l.address, accept: l.accept, close: l.close, rejected: l.rejected, tls: listenerTls }
          }
          resume(Effect.succeed(handle))
        }, (error) => {
          unsubscribe()
          timer.close()
          resume(Effect.fail(error))
        })
        return Effect.sync(() => {
          server.close()
          unsubscribe()
          timer.close()
        })
      })
  ))

/** Client contexts, built once per options object (node would otherwise parse the CAs on every connect). */
const clientContexts = new WeakMap<Tls.TlsClientOptions, NodeTls.SecureContext>()

const clientContext = (tls: Tls.TlsClientOptions): NodeTls.SecureContext => {
  let context = clientContexts.get(tls)
  if (context === undefined) {
    context = NodeTls.createSecureContext(
      contextOptions(tls.certificate, tls.ca, tls.minVersion ?? Tls.defaults.minVersion)
    )
    clientContexts.set(tls, context)
  }
  return context
}

// ---------------------------------------------------------------------------
// STARTTLS
// ---------------------------------------------------------------------------

/** The contexts a STARTTLS server side uses, built once per certificates object and minimum version. */
const upgradeContexts = new WeakMap<
  Tls.ServerCertificates,
  Map<Tls.TlsVersion, { readonly context: NodeTls.SecureContext; readonly sni: Contexts["sni"] }>
>()

const upgradeContext = (certificates: Tls.ServerCertificates, minVersion: Tls.TlsVersion) => {
  let byVersion = upgradeContexts.get(certificates)
  if (byVersion === undefined) {
    byVersion = new Map()
    upgradeContexts.set(certificates, byVersion)
  }
  let built = byVersion.get(minVersion)
  if (built === undefined) {
    const contexts = buildContexts(certificates, minVersion)
    built = { context: NodeTls.createSecureContext(contexts.options), sni: contexts.sni }
    byVersion.set(minVersion, built)
  }
  return built
}

const remoteOf = (socket: Net.Socket): Address.Address | undefined =>
  typeof socket.remoteAddress === "string"
    ? toAddress(socket.remoteFamily, socket.remoteAddress, socket.remotePort)
    : undefined

/**
 * The Node side of `Connection.startTls`: a TLS stream on the same TCP socket
 * (`new TLSSocket(socket, { isServer: true })` as a server, `tls.connect({
 * socket })` as a client). Node hands the bytes the socket holds unread (the
 * peer's first handshake record, arrived after the core paused) to TLS. The
 * socket's own listeners stop reporting (see `upgraded`); the TLS stream's
 * driver keeps the reset and linger behaviour of TLS connections. Undefined
 * when the stream could not even be made (`done` has the error).
 */
const upgrade = (
  tcp: Net.Socket,
  events: Driver.SocketEvents,
  connectionOptions: Connection.ConnectionOptions | undefined,
  options: Tls.StartTlsOptions,
  done: (outcome: Tls.TlsInfo | Tls.TlsError) => void
): Driver.SocketDriver | undefined => {
  const side = Tls.startTlsSide(options)
  const remote = remoteOf(tcp)
  let socket: NodeTls.TLSSocket
  let serverName: string | undefined
  const server = options.server
  const requestCert = server?.requestCert ?? false
  const rejectUnauthorized = requestCert && (server?.rejectUnauthorized ?? true)
  try {
    if (server !== undefined) {
      const source = server.certificates
      const certificates = Tls.isCertificateSource(source) ? source.unsafeGet() : source
      const { context, sni } = upgradeContext(certificates, server.minVersion ?? Tls.defaults.minVersion)
      socket = new NodeTls.TLSSocket(tcp, {
        isServer: true,
        secureContext: context,
        requestCert,
        rejectUnauthorized,
        ...(server.alpnProtocols !== undefined ? { ALPNProtocols: [...server.alpnProtocols] } : {}),
        SNICallback: (name, cb) => cb(null, Tls.lookupServerName(sni, name))
      })
    } else {
      const client = options.client!
      // the host the socket was connected to (node keeps it), as a TLS connect would check it
      const connectedTo = (tcp as unknown as { _host?: unknown })._host
      const host = typeof connectedTo === "string" ? connectedTo : tcp.remoteAddress
      serverName = client.serverName ?? (host !== undefined && Net.isIP(host) === 0 ? host : undefined)
      socket = NodeTls.connect({
        socket: tcp,
        secureContext: clientContext(client),
        rejectUnauthorized: client.rejectUnauthorized ?? Tls.defaults.rejectUnauthorized,
        ...(host !== undefined ? { host } : {}),
        ...(serverName !== undefined ? { servername: serverName } : {}),
        ...(client.alpnProtocols !== undefined ? { ALPNProtocols: [...client.alpnProtocols] } : {})
      })
    }
  } catch (err) {
    done(tlsError(err, side, remote))
    return undefined
  }
  // the plain socket reports nothing more: its data and drain go to TLS, the rest through the TLS stream
  upgraded.add(tcp)
  tcp.removeAllListeners("data")
  tcp.removeAllListeners("drain")
  let settled = false
  const secureEvent = side === "server" ? "secure" : "secureConnect"
  const settle = (outcome: Tls.TlsInfo | Tls.TlsError) => {
    if (settled) return
    settled = true
    socket.off(secureEvent, onSecure)
    socket.off("error", onError)
    socket.off("end", onEnd)
    socket.off("close", onClose)
    done(outcome)
  }
  const onSecure = () => {
    if (side === "client") return settle(tlsInfo(socket, serverName, true))
    // a bare server TLSSocket leaves the verdict on a client certificate to its user (tls.Server's part)
    if (requestCert) {
      const verifyError =
        (socket as unknown as { _handle?: { verifyError?: () => NodeJS.ErrnoException | null } | null })._handle
          ?.verifyError?.()
      if (verifyError) {
        ;(socket as unknown as { authorizationError: unknown }).authorizationError = verifyError.code
        if (rejectUnauthorized) {
          settle(tlsError(verifyError, "server", remote, Tls.reasonOf(verifyError.code, verifyError.message)))
          return void socket.destroy()
        }
      } else {
        socket.authorized = true
      }
    }
    settle(tlsInfo(socket, typeof socket.servername === "string" ? socket.servername : undefined, requestCert))
  }
  const onError = (err: unknown) => settle(tlsError(err, side, remote))
  const ended = (detail: string) => () =>
    settle(new Tls.TlsError({ reason: "Other", side, address: remote, code: "ECONNRESET", detail }))
  // a peer that gives up without an alert (node's client refusing a certificate) just closes
  const onEnd = ended("the peer ended the connection during the TLS handshake")
  const onClose = ended("the connection closed during the TLS handshake")
  // before the driver's own listeners: the handshake's outcome is told first
  socket.once(secureEvent, onSecure)
  socket.once("error", onError)
  socket.once("end", onEnd)
  socket.once("close", onClose)
  // a TLS stream on a socket it did not open does not close that socket (a reset flagged by resetTls applies here)
  socket.once("close", () => tcp.destroy())
  return attach(socket, connectionOptions, events, remote, { raw: tcp, side })
}

const connectTls = (address: Address.Address, options: Transport.ConnectOptions, tls: Tls.TlsClientOptions) =>
  Driver.scopedConnection(Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const timeout = options.timeout ?? Transport.defaultConnectTimeout
      const handshakeTimeout = Tls.handshakeTimeoutMillis(tls.handshakeTimeout)
      const start = Date.now()
      const unixPath = unixPathOf(address)
      const tcp = yield* restore(connectSocket(address, options, (socket) => {
        // errors until the TLS socket takes over are the handshake's
        socket.on("error", () => {})
        return socket
      }))
      // the connect timeout covers the handshake too; the handshake timeout bounds it alone
      const left = timeout - (Date.now() - start)
      const connectBound = left < handshakeTimeout
      const limit = Math.max(0, connectBound ? left : handshakeTimeout)
      return yield* restore(handshake(address, options, tls, tcp, unixPath)).pipe(
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
        Effect.onError(() => Effect.sync(() => tcp.destroy()))
      )
    })
  ))

const handshake = (
  address: Address.Address,
  options: Transport.ConnectOptions,
  tls: Tls.TlsClientOptions,
  tcp: Net.Socket,
  unixPath: string | undefined
) =>
  Effect.async<Connection.Connection, Transport.ConnectError>((resume) => {
    const fail = (err: unknown) => {
      const cause = tlsError(err, "client", address)
      resume(Effect.fail(new Transport.ConnectError({ reason: "Tls", address, code: cause.code, cause })))
    }
    const host = unixPath === undefined ? (address as Address.TcpAddress).host : undefined
    // SNI carries names only: an IP address is checked against the certificate but not sent
    const serverName = tls.serverName ?? (host !== undefined && Net.isIP(host) === 0 ? host : undefined)
    const { local, remote } = socketAddresses(tcp, unixPath)
    let socket: NodeTls.TLSSocket
    try {
      socket = NodeTls.connect({
        socket: tcp,
        secureContext: clientContext(tls),
        rejectUnauthorized: tls.rejectUnauthorized ?? Tls.defaults.rejectUnauthorized,
        // allowHalfOpen comes from the TCP socket
        ...(host !== undefined ? { host } : {}),
        ...(serverName !== undefined ? { servername: serverName } : {}),
        ...(tls.alpnProtocols !== undefined ? { ALPNProtocols: [...tls.alpnProtocols] } : {})
      })
    } catch (err) {
      return fail(err)
    }
    const onError = (err: NodeJS.ErrnoException) => {
      socket.destroy()
      fail(err)
    }
    socket.once("error", onError)
    socket.once("secureConnect", () => {
      socket.off("error", onError)
      const info = tlsInfo(socket, serverName, true)
      resume(Effect.succeed(wrap(socket, options, local, remote, { raw: tcp, info, side: "client" })))
    })
    return Effect.sync(() => socket.destroy())
  })

/**
 * The Node transport service.
 *
 * @since 0.1.0
 * @category transport
 */
export const transport: Transport.TransportService = { name: "node", listen, connect }

/**
 * Provides {@link Transport.Transport} on `node:net`.
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
 * The Node transport with TLS defaults (see {@link TlsDefaults}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTransport = (defaults: TlsDefaults): Transport.TransportService =>
  Tls.withDefaults(transport, defaults)

/**
 * Provides {@link Transport.Transport} on `node:tls`: listens and connects
 * speak TLS with these defaults unless their own options say otherwise. A
 * whole program (or a conformance suite) then runs over TLS unchanged.
 *
 * @example
 * ```ts
 * const tlsLayer = NodeTransport.layerTls({
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
