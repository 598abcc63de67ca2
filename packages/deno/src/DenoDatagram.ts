/**
 * The wirekit datagram (UDP) transport on `Deno.listenDatagram`, IPv4 and
 * IPv6. Deno's UDP API is unstable: deno must run with `--unstable-net`
 * (without it, `bind` fails with reason `"Unsupported"` and says so).
 *
 * A thin driver: the core's `Datagram.makeSocket` does the queueing, the
 * drop policy, batching, connected-mode checks and counters. Here:
 *
 * - receiving: four `receive`s pending at once, so that a burst is handed
 *   over several datagrams per event-loop turn, in order and as one batch
 *   (one `pump` call per turn, not per datagram). Each has a buffer
 *   the socket owns, of `maxDatagramSize + 1` bytes (a socket holds four:
 *   lower `maxDatagramSize` to hold less), and each datagram is copied out at
 *   its own size (small ones into a shared slab), rather than into the 64 KiB
 *   buffer Deno would allocate per datagram. A datagram longer than
 *   `maxDatagramSize` is dropped and counted, its `droppedBytes` as the
 *   `maxDatagramSize + 1` bytes read of it;
 * - send backpressure: Deno's `send` is a promise per datagram; at most
 *   `sendQueue` are in flight, past that `send` waits until half of them
 *   have completed. A send Deno rejects fails the next `send`;
 * - connected mode: emulated by the core (Deno cannot connect a UDP
 *   socket), and Deno reports no ICMP errors, so `Refused` is never heard;
 * - options Deno cannot honour fail the bind with `"Unsupported"` rather
 *   than being dropped silently: `ipv6Only` on `::` (Deno binds it
 *   dual-stack), `multicast.interface` (no IP_MULTICAST_IF), and a
 *   `multicast.ttl` other than the default 1 without an IPv4 group to join
 *   (Deno sets it through a membership). Deno allows broadcast on every UDP
 *   socket, whatever `broadcast` says; `receiveBufferSize` and
 *   `sendBufferSize` are ignored. IPv6 groups are joined by interface index
 *   (`joinMulticast(group, "2")`), not by address.
 *
 * @example
 * ```ts
 * // deno run --allow-net --unstable-net echo.ts
 * import { Datagram } from "@wirekit/core"
 * import { DenoDatagram } from "@wirekit/deno"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function* () {
 *   const udp = yield* Datagram.DatagramTransport
 *   const socket = yield* udp.bind({ host: "127.0.0.1", port: 7000 })
 *   yield* socket.pump((batch) => {
 *     for (const d of batch) socket.unsafeSend(d.data, d.from)
 *   })
 * })).pipe(Effect.provide(DenoDatagram.layer))
 * ```
 * @since 0.1.0
 */
import { Datagram } from "@wirekit/core"
import { Layer } from "effect"
import type { Effect, Scope } from "effect"
import * as internal from "./internal/datagram.ts"

/**
 * Binds a `Deno.listenDatagram` socket. It lives as long as the scope.
 * Without `--unstable-net` it fails with reason `"Unsupported"`.
 *
 * @since 0.1.0
 * @category transport
 */
export const bind: (
  options?: Datagram.BindOptions
) => Effect.Effect<Datagram.DatagramSocket, Datagram.DatagramError, Scope.Scope> = internal.bind

/**
 * The datagram transport service on `Deno.listenDatagram`.
 *
 * @since 0.1.0
 * @category transport
 */
export const transport: Datagram.DatagramTransportService = { name: "deno", bind }

/**
 * The datagram transport as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Datagram.DatagramTransport> = Layer.succeed(Datagram.DatagramTransport, transport)
