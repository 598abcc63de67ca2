/**
 * A connected byte stream: one TCP (or Unix, or in-memory) connection.
 *
 * Reads are pull-based and in order. Bytes the consumer has not pulled are
 * buffered up to `readHighWaterMark`; past it the transport stops reading from
 * the OS, so a flooding peer is held back by TCP flow control, not by memory.
 * End of stream is a normal value ({@link EOF}), never an error; a reset is a
 * {@link ConnectionError} with reason `"Reset"`.
 *
 * Writes complete as soon as the runtime has taken the bytes; past
 * `writeHighWaterMark` of unsent bytes they wait for the socket to drain, so a
 * writer to a slow peer waits instead of growing memory.
 *
 * ```
 *   peer ──TCP──▶ OS buffer ──▶ read buffer (≤ readHighWaterMark) ──read──▶ you
 *   you ──write──▶ write buffer (≤ writeHighWaterMark, then wait) ──▶ OS ──▶ peer
 * ```
 *
 * Inside a server handler the current connection is the {@link Connection}
 * service.
 *
 * @example
 * ```ts
 * import { Connection } from "@wirekit/core"
 * import { Effect } from "effect"
 *
 * // echo until the peer ends its side, then return (the server closes the connection)
 * const echo = Effect.gen(function* () {
 *   const conn = yield* Connection.Connection
 *   while (true) {
 *     const chunk = yield* conn.read
 *     if (chunk === Connection.EOF) return
 *     yield* conn.write(chunk)
 *   }
 * })
 * ```
 * @since 0.1.0
 */
import { Chunk, Context, Data, Effect, Option, Stream } from "effect"
import type { Address } from "./Address.ts"
import * as AddressFmt from "./Address.ts"
import type { ProxyInfo } from "./ProxyProtocol.ts"
import type { StartTlsOptions, TlsError, TlsInfo } from "./Tls.ts"

/**
 * The end-of-stream marker returned by {@link Connection.read}: the peer ended its side.
 *
 * @since 0.1.0
 * @category constants
 */
export const EOF: unique symbol = Symbol.for("@wirekit/core/Connection/EOF")
/**
 * The type of {@link EOF}.
 *
 * @since 0.1.0
 * @category constants
 */
export type EOF = typeof EOF

/**
 * Why a connection operation failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConnectionErrorReason =
  /** The peer reset the connection (RST, ECONNRESET, EPIPE). */
  | "Reset"
  /** The operation came after this side closed, aborted or ended (for writes). */
  | "Closed"
  /** A timeout at the OS level (ETIMEDOUT). */
  | "TimedOut"
  /** Anything else; see `code` and `cause`. */
  | "Other"

/**
 * Maps the error code of a failure on an open connection to its typed reason
 * (shared by every adapter).
 *
 * @since 0.1.0
 * @category errors
 */
export const reasonOf = (code: string | undefined): ConnectionErrorReason => {
  switch (code) {
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
    case "ENOTCONN":
      return "Reset"
    case "ETIMEDOUT":
      return "TimedOut"
    case "EBADF":
    case "EINTR":
    case "ERR_STREAM_DESTROYED":
    case "ERR_STREAM_WRITE_AFTER_END":
      return "Closed"
    default:
      return "Other"
  }
}

/**
 * A failure of an open connection. A clean end of stream is not one.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{
  readonly reason: ConnectionErrorReason
  /** The operation that failed. */
  readonly operation: "read" | "write" | "end"
  /** The peer's address, when known. */
  readonly remoteAddress?: Address | undefined
  /** The OS or runtime error code (e.g. `ECONNRESET`), when there is one. */
  readonly code?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const peer = this.remoteAddress ? ` (peer ${AddressFmt.format(this.remoteAddress)})` : ""
    const code = this.code ? ` [${this.code}]` : ""
    return `${this.operation} failed: ${this.reason}${code}${peer}`
  }
}

/**
 * Live counters of one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionStats {
  /** Bytes received from the peer so far. */
  readonly bytesRead: number
  /** Bytes handed to the runtime for sending so far. */
  readonly bytesWritten: number
  /** Bytes received but not yet pulled by the consumer (bounded by readHighWaterMark plus one OS read). */
  readonly readBuffered: number
  /** Bytes the runtime holds that the OS has not taken yet. */
  readonly writeBuffered: number
  /** Whether reading from the OS is currently paused by backpressure. */
  readonly readPaused: boolean
  /** Chunks received from the runtime (read callbacks). */
  readonly reads: number
  /** Write calls handed to the runtime (a `writeAll` of many chunks is one). */
  readonly writes: number
  /**
   * Bytes discarded by a STARTTLS upgrade: received in plain text and not yet
   * read when {@link Connection.startTls} began, so sent after the upgrade
   * command and before the handshake (never delivered; see `startTls`).
   */
  readonly discardedOnUpgrade: number
}

/**
 * Options of {@link Connection.pump}.
 *
 * @example
 * ```ts
 * // echo without an allocation per read on runtimes that read into their own buffers
 * conn.pump((chunks) => {
 *   conn.unsafeWriteAll(chunks) // writing a lent chunk on this connection is allowed
 * }, { borrow: true })
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface PumpOptions {
  /**
   * Borrow the chunks instead of owning them. Each chunk is valid only until
   * `onData` returns; the transport may then reuse its memory for a later
   * read. Writing a chunk (or a view of it) on THIS connection during the call
   * is allowed: the transport keeps it intact until those writes are sent.
   * Anything else you keep must be copied, including bytes written to another
   * connection. Decoders that copy what spans reads (every `Framing` codec)
   * are safe. Adapters that read into memory of their own (Deno) then skip an
   * allocation per read; the others deliver as usual. Default `false`.
   */
  readonly borrow?: boolean | undefined
}

/**
 * One open connection. All effects are safe to call from any fiber, but reads
 * must not run concurrently with each other (one reader at a time).
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** Process-unique id, increasing in accept/connect order. */
  readonly id: number
  /** Our end; on a connection with a PROXY protocol header, the address the client connected to. */
  readonly localAddress: Address
  /** The peer; on a connection with a PROXY protocol header, the client the proxy relays. */
  readonly remoteAddress: Address
  /**
   * On a connection accepted by a listener with `proxyProtocol`: the header
   * it began with, and the socket's own addresses (the proxy's, ours). See
   * `ProxyProtocol`.
   */
  readonly proxy?: ProxyInfo | undefined
  /**
   * The TLS session and the peer's certificate, on a TLS connection (from
   * the start, or once {@link Connection.startTls} succeeded); `undefined` on
   * a plain one.
   */
  readonly tls?: TlsInfo | undefined
  /**
   * Upgrades this plain connection to TLS in place (STARTTLS, as SMTP, IMAP,
   * POP3, LDAP and Postgres do): the same `Connection` then reads and writes
   * through TLS, and {@link Connection.tls} tells the session. `options` says
   * which side of the handshake this end plays (see `Tls.StartTlsOptions`).
   *
   * In order, when the Effect runs:
   * 1. Reading stops. Bytes received and not yet read are DISCARDED, never
   *    delivered: the peer sent them in plain text after the upgrade command
   *    and before the handshake, and delivering them as if they had come over
   *    TLS is the classic STARTTLS command-injection hole (an attacker on the
   *    path appends commands to the client's `STARTTLS` line). They are
   *    counted in `stats.discardedOnUpgrade` and logged. Call `startTls` right
   *    after writing your last plain-text reply (e.g. `220 Ready to start
   *    TLS`), without waiting for the peer in between: bytes the peer sends
   *    once it has read that reply are its handshake.
   * 2. Everything written before is sent, in plain text.
   * 3. The handshake, on the same socket. Writes made meanwhile wait and go
   *    out through TLS.
   *
   * `handshakeTimeout` bounds steps 2 and 3. A failure (a typed
   * `Tls.TlsError`: the peer's certificate, no common protocol, the timeout,
   * a transport that cannot upgrade, code `ENOTSUP`) resets the connection:
   * it is of no use half upgraded. A connection that can no longer write
   * (closed, ended, failed: its `ConnectionError`) or that is already TLS (a
   * `TlsError` of code `EALREADY`) fails at once, and then nothing changes.
   * Reads must not run concurrently with the upgrade.
   *
   * @example
   * ```ts
   * // server side of a line protocol, after reading "STARTTLS"
   * yield* conn.write(enc.encode("220 Ready to start TLS\r\n"))
   * const info = yield* conn.startTls({ server: { certificates: { cert, key } } })
   * // client side, after reading the server's "220"
   * yield* conn.startTls({ client: { ca, serverName: "mail.example.com" } })
   * ```
   */
  readonly startTls: (options: StartTlsOptions) => Effect.Effect<TlsInfo, TlsError | ConnectionError>
  /** Next chunk of bytes in order, or {@link EOF} once the peer has ended its side. */
  readonly read: Effect.Effect<Uint8Array | EOF, ConnectionError>
  /**
   * Every chunk buffered right now (at least one, waiting if none), or {@link EOF}.
   * One wake-up for a batch: the cheap way to drive a decoder.
   */
  readonly readMany: Effect.Effect<ReadonlyArray<Uint8Array> | EOF, ConnectionError>
  /**
   * Push-mode reading, the fast path for protocol engines: calls `onData`
   * with each batch of received chunks synchronously inside the runtime's
   * read callback, so a read costs a function call, not a fiber wake-up.
   *
   * - `onData` may return an Effect: reading pauses (bytes buffer, then the
   *   socket pauses) until it completes, so order and backpressure hold.
   * - Writes made inside `onData` with {@link Connection.unsafeWrite} that
   *   reach the write high-water mark pause reading until the socket drains.
   * - Completes at end of stream; fails with the connection's error, or with
   *   the failure of an effect `onData` returned. A throw is a defect.
   *
   * Bytes already buffered are delivered first. One reader at a time: do not
   * mix with concurrent `read`/`readMany`.
   *
   * With `{ borrow: true }` the chunks are lent (see {@link PumpOptions}).
   */
  readonly pump: <E = never, R = never>(
    onData: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, E, R> | undefined | void,
    options?: PumpOptions
  ) => Effect.Effect<void, E | ConnectionError, R>
  /**
   * Synchronous write for use inside {@link Connection.pump}'s callback.
   * Returns `false` when the caller should stop: the write buffer is past its
   * high-water mark (the bytes were taken; `pump` waits for drain before
   * delivering more), or the connection can no longer write (the bytes were
   * dropped; the next `write` or the running `pump` fails with the typed error).
   */
  readonly unsafeWrite: (data: Uint8Array) => boolean
  /** {@link Connection.unsafeWrite} for several chunks (one syscall where possible). */
  readonly unsafeWriteAll: (chunks: ReadonlyArray<Uint8Array>) => boolean
  /**
   * Bytes written but not yet taken by the OS, right now. `0` also means the
   * transport holds no reference to any array written so far: its memory may
   * be reused (Node and Bun usually write synchronously; Deno never does).
   *
   * @example
   * ```ts
   * conn.unsafeWrite(scratch.subarray(0, n))
   * if (conn.unsafeWriteBuffered() === 0) n = 0 // sent: reuse `scratch`
   * else scratch = new Uint8Array(scratch.length) // still referenced: let it go
   * ```
   */
  readonly unsafeWriteBuffered: () => number
  /**
   * Hands `data` to the runtime. Completes at once while the write buffer is
   * below `writeHighWaterMark`, otherwise when it has drained. The caller must
   * not mutate `data` afterwards.
   */
  readonly write: (data: Uint8Array) => Effect.Effect<void, ConnectionError>
  /**
   * Completes when the write buffer is below `writeHighWaterMark` (at once if
   * it is): for writers that hand bytes over with `unsafeWrite` and must not
   * run ahead of a slow peer.
   */
  readonly awaitWritable: Effect.Effect<void, ConnectionError>
  /** Writes several chunks as one batch (one syscall where the runtime supports it). */
  readonly writeAll: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, ConnectionError>
  /**
   * Half-close: flushes pending writes, then sends FIN. Reading goes on until
   * the peer ends too. Later writes fail with reason `"Closed"`.
   */
  readonly end: Effect.Effect<void, ConnectionError>
  /**
   * Graceful close: flushes pending writes (up to `closeTimeout`), sends FIN and
   * releases the socket. Idempotent; never fails.
   */
  readonly close: Effect.Effect<void>
  /** Abortive close: discards pending writes and resets the connection (RST). Idempotent. */
  readonly abort: Effect.Effect<void>
  /** Completes when the connection is fully closed (both directions, socket released). */
  readonly closed: Effect.Effect<void>
  /** Counters and buffer levels. */
  readonly stats: Effect.Effect<ConnectionStats>
  /** Sync read of the counters, for hot paths and metrics. */
  readonly unsafeStats: () => ConnectionStats
}

/**
 * The current connection, as a service inside a server handler.
 *
 * @since 0.1.0
 * @category services
 */
export const Connection: Context.Tag<Connection, Connection> = Context.GenericTag<Connection>(
  "@wirekit/core/Connection"
)

/**
 * Options every transport accepts for its connections.
 *
 * @since 0.1.0
 * @category options
 */
export interface ConnectionOptions {
  /** Disable Nagle's algorithm. Default `true` (request/response protocols want it). */
  readonly noDelay?: boolean | undefined
  /** Enable TCP keep-alive probes. Default `false`. */
  readonly keepAlive?: boolean | undefined
  /** Idle time before the first keep-alive probe, in milliseconds. Default: the OS default. */
  readonly keepAliveInitialDelay?: number | undefined
  /**
   * Keep our side writable after the peer ends its side (half-open). Default
   * `true`: the handler decides when to end. With `false` the transport ends our
   * side as soon as the peer's FIN arrives.
   */
  readonly allowHalfOpen?: boolean | undefined
  /** Bytes buffered for an idle reader before the transport pauses OS reads. Default 64 KiB. */
  readonly readHighWaterMark?: number | undefined
  /** Unsent bytes past which writes wait for drain. Default 64 KiB. */
  readonly writeHighWaterMark?: number | undefined
  /** How long `close` waits for pending writes to flush before resetting, in ms. Default 5000. */
  readonly closeTimeout?: number | undefined
}

/**
 * Defaults applied by every transport.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  noDelay: true,
  keepAlive: false,
  allowHalfOpen: true,
  readHighWaterMark: 64 * 1024,
  writeHighWaterMark: 64 * 1024,
  closeTimeout: 5000
} as const

/**
 * True for the {@link EOF} marker.
 *
 * @since 0.1.0
 * @category guards
 */
export const isEOF = (u: unknown): u is EOF => u === EOF

/**
 * The connection's incoming bytes as a Stream, ending at EOF. Pull-based:
 * backpressure flows from the stream's consumer to the socket.
 *
 * @since 0.1.0
 * @category utils
 */
export const toStream = (conn: Connection): Stream.Stream<Uint8Array, ConnectionError> =>
  Stream.repeatEffectChunkOption(
    Effect.matchEffect(conn.readMany, {
      onFailure: (e) => Effect.fail(Option.some(e)),
      onSuccess: (chunks) => chunks === EOF ? Effect.fail(Option.none()) : Effect.succeed(toChunk(chunks))
    })
  )

const toChunk = (chunks: ReadonlyArray<Uint8Array>) => Chunk.unsafeFromArray(chunks as Array<Uint8Array>)

/**
 * Reads until EOF and returns everything received, concatenated. Fails with
 * `limit` exceeded as a defect-free `ConnectionError` of reason "Other" when more
 * than `maxBytes` arrive. For tests and small protocols.
 *
 * @since 0.1.0
 * @category utils
 */
export const readAll = (conn: Connection, maxBytes = 64 * 1024 * 1024): Effect.Effect<Uint8Array, ConnectionError> =>
  Effect.gen(function*() {
    const parts: Array<Uint8Array> = []
    let total = 0
    while (true) {
      const chunks = yield* conn.readMany
      if (chunks === EOF) break
      for (const c of chunks) {
        total += c.length
        if (total > maxBytes) {
          return yield* new ConnectionError({
            reason: "Other",
            operation: "read",
            remoteAddress: conn.remoteAddress,
            code: "LIMIT",
            cause: `more than ${maxBytes} bytes`
          })
        }
        parts.push(c)
      }
    }
    return concat(parts, total)
  })

/**
 * Reads exactly `n` bytes (or fewer if EOF comes first), for tests and handshakes. Extra bytes of the last chunk are returned as `rest`.
 *
 * @since 0.1.0
 * @category utils
 */
export const readExactly = (
  conn: Connection,
  n: number
): Effect.Effect<{ readonly bytes: Uint8Array; readonly rest: Uint8Array }, ConnectionError> =>
  Effect.gen(function*() {
    const parts: Array<Uint8Array> = []
    let total = 0
    while (total < n) {
      const chunk = yield* conn.read
      if (chunk === EOF) break
      parts.push(chunk)
      total += chunk.length
    }
    const all = concat(parts, total)
    return { bytes: all.subarray(0, Math.min(n, total)), rest: all.subarray(Math.min(n, total)) }
  })

/**
 * Concatenates byte arrays (total may be passed when known).
 *
 * @since 0.1.0
 * @category utils
 */
export const concat = (parts: ReadonlyArray<Uint8Array>, total?: number): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const size = total ?? parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(size)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}
