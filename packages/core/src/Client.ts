/**
 * Protocol clients: a typed `request`, `send` for one-way messages, and the
 * stream of pushed messages, over one connection or a pool.
 *
 * ```
 *   request(req) ─▶ pick the least busy open connection ─▶ encode, write (coalesced per turn)
 *                ◀─ response matched in order (inOrder) or by id (byId)
 *   link drops   ─▶ every pending request fails with ClientError "Disconnected" (none hangs)
 *                ─▶ reconnect on the `reconnect` Schedule (reset once a link has carried traffic)
 * ```
 *
 * Errors: the protocol's typed error responses arrive as `Err`; everything
 * else is a {@link ClientError} with a `reason`. Faults sent by the server map
 * to `"Refused"` (not processed: overloaded, rate limited, shutting down) or
 * `"Remote"` (the server failed: timeout, defect, bad request), with the
 * {@link Protocol.ProtocolError} in `fault`.
 *
 * @example
 * ```ts
 * import { Client, Protocol } from "@wirekit/core"
 * import { Effect, Schedule, Stream } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const kv = yield* Client.make(Kv, { host: "127.0.0.1", port: 7000 }, {
 *     requestTimeout: "2 seconds",
 *     reconnect: Schedule.exponential("50 millis").pipe(Schedule.upTo("10 seconds")),
 *     pool: { size: 4, acquireTimeout: "1 second" }
 *   })
 *   yield* kv.request({ _tag: "Put", key: "a", value: "1" })
 *   const value = yield* kv.request({ _tag: "Get", key: "a" })
 * })
 * ```
 * @since 0.1.0
 */
import { Data, Duration, Effect, PubSub, Schedule, Scope, Stream } from "effect"
import type { Queue } from "effect"
import type { Address } from "./Address.ts"
import { format } from "./Address.ts"
import * as Framed from "./Framed.ts"
import type { ErrorOf, OneWayOf, Protocol, ProtocolError, PushOf, RequestOf, ResponseOf } from "./Protocol.ts"
import type { ConnectError, ConnectOptions } from "./Transport.ts"
import { Transport } from "./Transport.ts"
import type { Deadline } from "./internal/deadlines.ts"
import { Deadlines } from "./internal/deadlines.ts"
import { ClientLink } from "./internal/protocol/client.ts"

/**
 * Why a client operation failed.
 *
 * - `Timeout`: no response within the request timeout (`timeout` ms).
 * - `Disconnected`: the link dropped with the request pending, or there is no link and none is coming.
 * - `PoolTimeout`: no connection with capacity within the pool's acquire timeout.
 * - `Connect`: the client could not connect at all (`cause`: the ConnectError).
 * - `Encode` / `Decode`: a message could not be encoded, or a response decoded.
 * - `Refused`: the server did not process the request (overloaded, rate limited, shutting down; see `fault`).
 * - `Remote`: the server failed to answer (see `fault`: Timeout, Internal, BadRequest, Unauthorized).
 */
export type ClientErrorReason = "Timeout" | "Disconnected" | "PoolTimeout" | "Connect" | "Encode" | "Decode" | "Refused" | "Remote"

/** A client failure other than the protocol's own error responses. */
export class ClientError extends Data.TaggedError("ClientError")<{
  readonly reason: ClientErrorReason
  readonly address?: Address | undefined
  /** The server's fault, for `Refused` and `Remote`. */
  readonly fault?: ProtocolError | undefined
  /** The timeout in ms, for `Timeout` and `PoolTimeout`. */
  readonly timeout?: number | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const at = this.address ? ` (${format(this.address)})` : ""
    const extra = this.fault
      ? `: ${this.fault.message}`
      : this.timeout !== undefined
      ? ` after ${this.timeout}ms`
      : this.cause instanceof Error
      ? `: ${this.cause.message}`
      : ""
    return `${this.reason}${extra}${at}`
  }
}

/** Options of the connection pool. */
export interface PoolOptions {
  /** Connections. Default 1. */
  readonly size?: number | undefined
  /** Requests in flight per connection before a request waits for capacity. Default: unlimited. */
  readonly maxInFlight?: number | undefined
  /** How long a request waits for a connection with capacity. Default 5 seconds. */
  readonly acquireTimeout?: Duration.DurationInput | undefined
}

/** Options of {@link make}. */
export interface ClientOptions {
  /** Per-request timeout. Default 30 seconds; `Duration.infinity` disables. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /**
   * When (and how often) to reconnect after a failed connect or a dropped
   * link. Default: never (a dropped connection stays down). The schedule
   * restarts once a connection has carried traffic.
   */
  readonly reconnect?: Schedule.Schedule<unknown, unknown> | undefined
  readonly pool?: PoolOptions | undefined
  /** Transport options for each connection (connect timeout, noDelay, ...). */
  readonly connection?: ConnectOptions | undefined
}

/** Live counters of a client. */
export interface ClientStats {
  /** Open connections. */
  readonly connected: number
  /** Requests waiting for a response. */
  readonly pending: number
  /** Successful connects (the first ones included). */
  readonly connects: number
}

/** A protocol client. Closed (with its connections) when its scope closes. */
export interface Client<Req, Res, Err, OneWay, Push> {
  /** Sends a request and waits for its response. */
  request(request: Req, options?: { readonly timeout?: Duration.DurationInput | undefined }): Effect.Effect<Res, Err | ClientError>
  /** Sends a one-way message (completes once it is queued for writing). */
  send(message: OneWay): Effect.Effect<void, ClientError>
  /** Messages pushed by the server from now on (each run of the stream subscribes anew). */
  readonly pushes: Stream.Stream<Push>
  /** A subscription to pushed messages, open for the scope: subscribe before triggering pushes. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Push>, never, Scope.Scope>
  /** Waits until at least one connection is open (or fails like a request would). */
  readonly awaitConnected: Effect.Effect<void, ClientError>
  readonly stats: () => ClientStats
}

/** The client type of a protocol. */
export type ClientFor<P> = Client<RequestOf<P>, ResponseOf<P>, ErrorOf<P>, OneWayOf<P>, PushOf<P>>

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.DurationInput): number | undefined => {
  const duration = Duration.decode(d ?? fallback)
  return Duration.isFinite(duration) ? Math.max(0, Duration.toMillis(duration)) : undefined
}

/**
 * Connects to `address` with the current transport. Succeeds once one
 * connection of the pool is open; fails with reason `Connect` if none can be
 * (after the reconnect schedule, if any, gave up).
 *
 * @example
 * ```ts
 * const client = yield* Client.make(Echo, server.address, { requestTimeout: "1 second" })
 * const answer = yield* client.request("hello")
 * ```
 */
export const make = <P extends Protocol<any, any, any, any, any>>(
  protocol: P,
  address: Address,
  options?: ClientOptions
): Effect.Effect<ClientFor<P>, ClientError, Transport | Scope.Scope> =>
  Effect.gen(function*() {
    type Req = RequestOf<P>
    type Res = ResponseOf<P>
    type Err = ErrorOf<P>
    type OneWay = OneWayOf<P>
    type Push = PushOf<P>
    type Link = ClientLink<Req, Res, Err, OneWay, Push>
    const transport = yield* Transport
    const requestTimeout = millis(options?.requestTimeout, "30 seconds")
    const size = Math.max(1, options?.pool?.size ?? 1)
    const maxInFlight = options?.pool?.maxInFlight ?? Infinity
    const acquireTimeout = millis(options?.pool?.acquireTimeout, "5 seconds")
    const reconnect = options?.reconnect
    const pushes = yield* PubSub.unbounded<Push>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(pushes))
    // request and pool timeouts: one Clock-driven timer for all of them
    const deadlines = new Deadlines(yield* Effect.clock)
    yield* Effect.addFinalizer(() => Effect.sync(() => deadlines.close()))

    const links: Array<Link> = []
    let alive = size
    let connects = 0
    let closed = false
    let lastConnectError: ConnectError | undefined
    let waiters: Array<() => boolean> = []

    const pick = (): Link | undefined => {
      let best: Link | undefined
      for (const link of links) {
        if (!link.open || link.active >= maxInFlight) continue
        if (
          best === undefined || (best.draining && !link.draining) ||
          (best.draining === link.draining && link.active < best.active)
        ) best = link
      }
      return best
    }
    const wake = (): void => {
      if (waiters.length === 0) return
      waiters = waiters.filter((w) => !w())
    }
    const disconnected = () =>
      new ClientError(
        lastConnectError !== undefined && links.length === 0
          ? { reason: "Disconnected", address, cause: lastConnectError }
          : { reason: "Disconnected", address }
      )

    const acquire: Effect.Effect<Link, ClientError> = Effect.suspend(() => {
      const link = pick()
      if (link !== undefined) return Effect.succeed(link)
      if (alive === 0 || closed) return Effect.fail(disconnected())
      return Effect.async<Link, ClientError>((resume) => {
        let timer: Deadline | undefined
        const waiter = (): boolean => {
          const l = pick()
          if (l !== undefined) {
            if (timer !== undefined) deadlines.cancel(timer)
            resume(Effect.succeed(l))
            return true
          }
          if (alive === 0 || closed) {
            if (timer !== undefined) deadlines.cancel(timer)
            resume(Effect.fail(disconnected()))
            return true
          }
          return false
        }
        waiters.push(waiter)
        if (acquireTimeout !== undefined) {
          timer = deadlines.add(acquireTimeout, () => {
            waiters = waiters.filter((w) => w !== waiter)
            resume(Effect.fail(new ClientError({ reason: "PoolTimeout", address, timeout: acquireTimeout })))
          })
        }
        return Effect.sync(() => {
          if (timer !== undefined) deadlines.cancel(timer)
          waiters = waiters.filter((w) => w !== waiter)
        })
      })
    })

    const onPush = (message: Push): void => {
      pushes.unsafeOffer(message)
    }

    /** One pool slot: connect, serve the link until it drops, reconnect per schedule. */
    const slot = Effect.gen(function*() {
      const driver = reconnect === undefined ? undefined : yield* Schedule.driver(reconnect)
      while (!closed) {
        const healthy = yield* Effect.scoped(Effect.gen(function*() {
          const connected = yield* Effect.either(transport.connect(address, options?.connection))
          if (connected._tag === "Left") {
            lastConnectError = connected.left
            return false
          }
          connects++
          const link: Link = new ClientLink(connected.right, protocol, address, onPush, wake, deadlines)
          links.push(link)
          wake()
          yield* Effect.exit(Framed.make(connected.right, protocol.framing).pump(link.onFrames)).pipe(
            Effect.ensuring(Effect.sync(() => {
              link.drop()
              const i = links.indexOf(link)
              if (i >= 0) links.splice(i, 1)
            }))
          )
          return link.received > 0
        }))
        if (closed || driver === undefined) break
        if (healthy) yield* driver.reset
        const next = yield* Effect.either(driver.next(undefined))
        if (next._tag === "Left") break
      }
    }).pipe(
      Effect.ensuring(Effect.sync(() => {
        alive--
        wake()
      }))
    )

    for (let i = 0; i < size; i++) yield* Effect.forkScoped(slot)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        for (const link of links) link.drop()
        wake()
      })
    )

    const awaitConnected: Effect.Effect<void, ClientError> = Effect.asVoid(
      Effect.suspend(() => {
        for (const link of links) if (link.open) return Effect.void
        return acquire
      })
    )
    yield* Effect.mapError(awaitConnected, (e) =>
      alive === 0 && connects === 0 ? new ClientError({ reason: "Connect", address, cause: lastConnectError ?? e }) : e)

    const client: ClientFor<P> = {
      request: (request, requestOptions) => {
        const timeout = requestOptions?.timeout === undefined ? requestTimeout : millis(requestOptions.timeout, "30 seconds")
        return Effect.flatMap(acquire, (link) => link.request(request, timeout))
      },
      send: (message) => Effect.flatMap(acquire, (link) => link.send(message)),
      pushes: Stream.fromPubSub(pushes),
      subscribe: PubSub.subscribe(pushes),
      awaitConnected,
      stats: () => {
        let pending = 0
        let connected = 0
        for (const link of links) {
          if (link.open) connected++
          pending += link.active
        }
        return { connected, pending, connects }
      }
    }
    return client
  })
