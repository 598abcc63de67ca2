/**
 * An in-memory datagram network: the full datagram contract without
 * sockets, for fast, deterministic tests of UDP protocols, with the faults
 * real networks have, injected on purpose and reproducible from a seed.
 *
 * - Ports: `port: 0` allocates a free port; binding a taken address is
 *   `AddressInUse` (unless both sockets say `reuseAddr`); IPv4 and IPv6 are
 *   separate port spaces; a socket bound to `0.0.0.0` / `::` is reached at
 *   any address of its family and sends from `127.0.0.1` / `::1`.
 * - Delivery: a send is copied (as a kernel does) and put on the wire; the
 *   wire delivers in batches, one per microtask, never re-entrantly. A
 *   unicast datagram reaches one socket; a multicast one every member of the
 *   group on that port (the sender too, unless `multicast.loopback` is
 *   `false`); a broadcast one every socket of the port. A datagram nobody is
 *   bound for is lost, and a connected sender hears `Refused` (the ICMP port
 *   unreachable of a real network) on its next send.
 * - Send backpressure: at most `sendBuffer` datagrams per socket wait for the
 *   wire; past that `send` waits for the next batch.
 * - Faults, applied per datagram in send order with one seeded generator, so
 *   a seed replays the same losses, duplicates, reorders and delays: `loss`,
 *   `duplicate` and `reorder` probabilities, and a `delay` in milliseconds
 *   (fixed, or uniform in `{ min, max }`) that runs on Effect's `Clock` (so
 *   `TestClock.adjust` moves it in tests; each delayed datagram is one
 *   sleeping fiber, interrupted if the network's scope closes first).
 *   Different delays reorder datagrams too.
 *
 * @example
 * ```ts
 * import { MemoryDatagram } from "@wirekit/core"
 * import { Effect } from "effect"
 * const lossy = MemoryDatagram.layer({ loss: 0.1, duplicate: 0.01, reorder: 0.05, seed: 42 })
 * const test = myUdpProgram.pipe(Effect.provide(lossy))
 * ```
 * @since 0.1.0
 */
import { Effect, FiberSet, Layer } from "effect"
import type { Scope } from "effect"
import type { DatagramTransportService } from "./Datagram.ts"
import { DatagramTransport } from "./Datagram.ts"
import { makeNetwork } from "./internal/datagram/memory.ts"

/**
 * Faults to inject. Probabilities are in `0..1`; each is drawn per datagram
 * from one generator seeded with `seed`.
 *
 * @since 0.1.0
 * @category options
 */
export interface FaultOptions {
  /** Probability that a datagram is lost. Default 0. */
  readonly loss?: number | undefined
  /** Probability that a datagram arrives twice. Default 0. */
  readonly duplicate?: number | undefined
  /** Probability that a datagram is held back and arrives after the next one. Default 0. */
  readonly reorder?: number | undefined
  /** Delay of every datagram in milliseconds: fixed, or uniform in `min..max`. Default none. */
  readonly delay?: number | { readonly min: number; readonly max: number } | undefined
  /** The generator's seed: one seed, one sequence of faults. Default 1. */
  readonly seed?: number | undefined
}

/**
 * Options of an in-memory datagram network.
 *
 * @since 0.1.0
 * @category options
 */
export interface MemoryDatagramOptions extends FaultOptions {
  /** Datagrams per socket waiting for the wire, past which `send` waits. Default 256. */
  readonly sendBuffer?: number | undefined
  /**
   * With `delay`: datagrams on their way at most (each is held until it
   * arrives); past it a datagram is lost, counted in `overflowed`. Default 65536.
   */
  readonly maxDelayed?: number | undefined
  /** First port handed out for `port: 0`. Default 50000. */
  readonly firstEphemeralPort?: number | undefined
}

/**
 * What the network did so far, for tests of the fault model.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultStats {
  /** Datagrams put on the wire. */
  readonly sent: number
  /** Datagrams handed to a receiving socket (a multicast one counts once per member). */
  readonly delivered: number
  /** Datagrams lost by the `loss` fault. */
  readonly lost: number
  /** Datagrams sent twice by the `duplicate` fault. */
  readonly duplicated: number
  /** Datagrams held back by the `reorder` fault. */
  readonly reordered: number
  /** Datagram copies delayed. */
  readonly delayed: number
  /** Datagram copies lost because `maxDelayed` were already on their way. */
  readonly overflowed: number
  /** Datagrams no socket was bound for. */
  readonly undeliverable: number
}

/**
 * An in-memory datagram network: its transport service, and its counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryNetwork extends DatagramTransportService {
  /** What the network did so far. */
  readonly faults: () => FaultStats
}

/**
 * Creates an isolated in-memory network on the current `Clock`, for the
 * life of the scope (delayed datagrams still on their way are dropped when
 * it closes). Dies with a
 * `RangeError` for a probability outside `0..1` or a negative delay.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: MemoryDatagramOptions): Effect.Effect<MemoryNetwork, never, Scope.Scope> =>
  Effect.gen(function*() {
    const fibers = yield* FiberSet.make<void>()
    const run = yield* FiberSet.runtime(fibers)<never>()
    return makeNetwork(options, (effect) => void run(effect))
  })

/**
 * A layer with a fresh, isolated network.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: MemoryDatagramOptions): Layer.Layer<DatagramTransport> =>
  Layer.scoped(DatagramTransport, make(options))
