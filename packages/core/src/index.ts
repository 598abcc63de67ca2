/**
 * @wirekit/core: the runtime-free heart of wirekit.
 * @module @wirekit/core
 * @since 0.1.0
 */

/**
 * Network addresses (TCP and Unix).
 *
 * @since 0.1.0
 */
export * as Address from "./Address.ts"
/**
 * One open connection: pull-based reads, drain-aware writes, half-close.
 *
 * @since 0.1.0
 */
export * as Connection from "./Connection.ts"
/**
 * The adapter contract for runtime packages.
 *
 * @since 0.1.0
 */
export * as Driver from "./Driver.ts"
/**
 * Datagrams (UDP): bind, send, receive as a pull or push stream, bounded queues, typed errors, the adapter contract.
 *
 * @since 0.1.0
 */
export * as Datagram from "./Datagram.ts"
/**
 * The in-memory datagram network, with seeded fault injection (loss, duplication, reordering, delay).
 *
 * @since 0.1.0
 */
export * as MemoryDatagram from "./MemoryDatagram.ts"
/**
 * The in-memory transport.
 *
 * @since 0.1.0
 */
export * as MemoryTransport from "./MemoryTransport.ts"
/**
 * The server runner.
 *
 * @since 0.1.0
 */
export * as Server from "./Server.ts"
/**
 * The transport service and its errors.
 *
 * @since 0.1.0
 */
export * as Transport from "./Transport.ts"
/**
 * TLS options, session and peer certificate info, handshake errors, certificate reload.
 *
 * @since 0.1.0
 */
export * as Tls from "./Tls.ts"
/**
 * A growable output buffer: encoders write into it; one take() is one socket write.
 *
 * @since 0.1.0
 */
export * as ByteBuffer from "./ByteBuffer.ts"
/**
 * Codecs: per-connection decoders (bytes → items) and encoders (items → bytes).
 *
 * @since 0.1.0
 */
export * as Codec from "./Codec.ts"
/**
 * Framing: the decoder/encoder contract and its errors.
 *
 * @since 0.1.0
 */
export * as Framing from "./Framing.ts"
/**
 * Line framing (LF or CRLF-or-LF).
 *
 * @since 0.1.0
 */
export * as Lines from "./Lines.ts"
/**
 * Delimiter framing (one or several byte delimiters).
 *
 * @since 0.1.0
 */
export * as Delimiter from "./Delimiter.ts"
/**
 * Length-field framing with every option.
 *
 * @since 0.1.0
 */
export * as LengthField from "./LengthField.ts"
/**
 * Fixed-length framing.
 *
 * @since 0.1.0
 */
export * as FixedLength from "./FixedLength.ts"
/**
 * Varint (unsigned LEB128) length-prefix framing.
 *
 * @since 0.1.0
 */
export * as Varint from "./Varint.ts"
/**
 * Pass-through framing: every chunk is a frame.
 *
 * @since 0.1.0
 */
export * as PassThrough from "./PassThrough.ts"
/**
 * Message codecs over frames: text, JSON, Schema.
 *
 * @since 0.1.0
 */
export * as MessageCodec from "./MessageCodec.ts"
/**
 * A server-wide bound on input held for incomplete messages.
 *
 * @since 0.1.0
 */
export * as InputBudget from "./InputBudget.ts"
/**
 * Framed connections: frames in, frames out, one write per turn.
 *
 * @since 0.1.0
 */
export * as Framed from "./Framed.ts"
/**
 * Protocol definitions: framing + codecs + correlation (in order or by id), Schema envelope helper.
 *
 * @since 0.1.0
 */
export * as Protocol from "./Protocol.ts"
/**
 * Typed protocol servers: handlers, limits, graceful shutdown.
 *
 * @since 0.1.0
 */
export * as ProtocolServer from "./ProtocolServer.ts"
/**
 * Typed protocol clients: request, one-way send, pushes, pool, reconnect.
 *
 * @since 0.1.0
 */
export * as Client from "./Client.ts"
/**
 * Handler middleware (logging, timeout, load shedding, rate limit, metrics, tracing, auth) and connection middleware.
 *
 * @since 0.1.0
 */
export * as Middleware from "./Middleware.ts"
/**
 * The server's view of one protocol connection, with typed per-connection state.
 *
 * @since 0.1.0
 */
export * as Session from "./Session.ts"
/**
 * Named broadcast groups of sessions.
 *
 * @since 0.1.0
 */
export * as Groups from "./Groups.ts"
/**
 * The PROXY protocol (v1, v2): the real client's address behind a TCP load balancer.
 *
 * @since 0.1.0
 */
export * as ProxyProtocol from "./ProxyProtocol.ts"
/**
 * Backplanes: broadcast groups across processes and machines (pub/sub, membership, node liveness).
 *
 * @since 0.1.0
 */
export * as Backplane from "./Backplane.ts"
/**
 * N worker processes of one program on one address: identity, supervision, rolling restart.
 *
 * @since 0.1.0
 */
export * as Workers from "./Workers.ts"
