/// <reference path="./bun-types.d.ts" />
/**
 * The wirekit datagram (UDP) transport on Bun's native `Bun.udpSocket`
 * (not `node:dgram`), IPv4 and IPv6.
 *
 * A thin driver: the core's `Datagram.makeSocket` does the queueing, the
 * drop policy, batching, connected-mode checks and counters. Here:
 *
 * - receiving: Bun calls back once per datagram with a fresh array of
 *   exactly its bytes, which goes to the core as is (no copy). The datagrams
 *   Bun reads in one wake-up reach the receiver together right after it
 *   (from a `setImmediate`): one `pump` call per wake-up, not per datagram;
 * - send backpressure: `send` is synchronous and queues nothing; when the
 *   OS send buffer is full the datagram is not taken, the core holds it and
 *   hands it again on Bun's `drain`;
 * - connected mode: emulated by the core (Bun connects a UDP socket only
 *   when it creates it), but still reports `Refused`: Bun reads ICMP errors
 *   from the socket's error queue, and while connected they concern the one
 *   peer, so the next `send` fails with them;
 * - options: `reuseAddr` and `ipv6Only` at bind, then `broadcast` and the
 *   multicast TTL, loopback and interface. Bun has no way to set the socket
 *   buffer sizes: `receiveBufferSize` and `sendBufferSize` are ignored.
 *
 * Destinations must be IP addresses: Bun's `send` does no name lookup (a name
 * fails the next `send` with reason `"Unsupported"`).
 *
 * @example
 * ```ts
 * import { Datagram } from "@wirekit/core"
 * import { BunDatagram } from "@wirekit/bun"
 * import { Effect } from "effect"
 *
 * // a UDP echo server
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const udp = yield* Datagram.DatagramTransport
 *   const socket = yield* udp.bind({ host: "127.0.0.1", port: 7000 })
 *   yield* socket.pump((batch) => {
 *     for (const d of batch) socket.unsafeSend(d.data, d.from)
 *   })
 * })).pipe(Effect.provide(BunDatagram.layer))
 * ```
 * @since 0.1.0
 */
import { Datagram } from "@wirekit/core"
import { Layer } from "effect"
import type { Effect, Scope } from "effect"
import * as internal from "./internal/datagram.ts"

/**
 * Binds a `Bun.udpSocket`. It lives as long as the scope. Outside Bun it
 * fails with reason `"Unsupported"`.
 *
 * @since 0.1.0
 * @category transport
 */
export const bind: (
  options?: Datagram.BindOptions
) => Effect.Effect<Datagram.DatagramSocket, Datagram.DatagramError, Scope.Scope> = internal.bind

/**
 * The datagram transport service on `Bun.udpSocket`.
 *
 * @since 0.1.0
 * @category transport
 */
export const transport: Datagram.DatagramTransportService = { name: "bun", bind }

/**
 * The datagram transport as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Datagram.DatagramTransport> = Layer.succeed(Datagram.DatagramTransport, transport)
