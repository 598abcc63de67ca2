/**
 * @wirekit/testing: the conformance suites adapters run, and test helpers.
 * @module @wirekit/testing
 * @since 0.1.0
 */

/**
 * Blackhole addresses for connect-timeout tests.
 *
 * @since 0.1.0
 */
export * as Blackhole from "./Blackhole.ts"
/**
 * The transport conformance suite.
 *
 * @since 0.1.0
 */
export * as Conformance from "./Conformance.ts"
/**
 * The protocol conformance suite (Protocol, ProtocolServer, Client, Middleware over a transport).
 *
 * @since 0.1.0
 */
export * as ProtocolConformance from "./ProtocolConformance.ts"
/**
 * The `@effect/platform` interop suite (platform Socket, SocketServer, @effect/rpc over wirekit).
 *
 * @since 0.1.0
 */
export * as PlatformConformance from "./PlatformConformance.ts"
/**
 * The hostile-peer suite (peers that never read, never finish a message, trickle bytes).
 *
 * @since 0.1.0
 */
export * as HostileConformance from "./HostileConformance.ts"
/**
 * Certificates for TLS tests, made at test time with the openssl command line tool.
 *
 * @since 0.1.0
 */
export * as Certs from "./Certs.ts"
/**
 * The TLS suite (session info, ALPN, SNI, mutual TLS, typed handshake failures, timeouts, reload, openssl interop).
 *
 * @since 0.1.0
 */
export * as TlsConformance from "./TlsConformance.ts"
/**
 * The PROXY protocol suite (headers v1 and v2 on a listener, trusted peers, timeouts, bad headers).
 *
 * @since 0.1.0
 */
export * as ProxyProtocolConformance from "./ProxyProtocolConformance.ts"
/**
 * The backplane suite (Groups across nodes: broadcasts, order, members everywhere, crashes, outages).
 *
 * @since 0.1.0
 */
export * as BackplaneConformance from "./BackplaneConformance.ts"
/**
 * The datagram (UDP) suite (port 0, echo, boundaries, size limit, address in use, IPv6, connected mode, floods).
 *
 * @since 0.1.0
 */
export * as DatagramConformance from "./DatagramConformance.ts"
