import { Duration, Effect, PubSub, Schedule, Stream, Tracer } from "effect"
import type { Scope } from "effect"
import type { Address } from "../../Address.ts"
import type { ClientFor, ClientOptions } from "../../Client.ts"
import type { Connection } from "../../Connection.ts"
import * as Framed from "../../Framed.ts"
import type { Codec } from "../../Codec.ts"
import type {
  ClientCodec,
  ErrorOf,
  OneWayOf,
  Outcome,
  Outgoing,
  Protocol,
  PushOf,
  RequestOf,
  ResponseOf,
  TraceContext
} from "../../Protocol.ts"
import type { ConnectError } from "../../Transport.ts"
import { Transport } from "../../Transport.ts"
import type { Deadline } from "../deadlines.ts"
import { Deadlines } from "../deadlines.ts"
import { ClientError, isRefusal } from "./errors.ts"
import { inputCodec, Writer } from "./writer.ts"

/** Encoded output written at once past this size, instead of at the end of the turn. */
const FLUSH_AT = 64 * 1024
/** Requests in flight per connection before the next one waits for capacity. */
const DEFAULT_MAX_IN_FLIGHT = 4096

const traceContextOf = (span: Tracer.AnySpan): TraceContext => ({
  traceId: span.traceId,
  spanId: span.spanId,
  sampled: span.sampled
})

interface Pending {
  readonly resume: (effect: Effect.Effect<any, any>) => void
  readonly id: number | undefined
  /** For codecs that decode a response by its request (`ClientCodec.decodeOutcome`). */
  readonly request: unknown
  timer: Deadline | undefined
  /** Answered, timed out or interrupted (an inOrder entry stays queued until its response arrives). */
  done: boolean
}

/**
 * One client connection: writes requests (coalesced per turn), matches
 * responses (in order or by id), forwards pushes, and fails every pending
 * request with `Disconnected` when the link drops: none hangs.
 */
export class ClientLink<Req, Res, Err, OneWay, Push> {
  private readonly codec: ClientCodec<Req, Res, Err, OneWay, Push>
  /** What the link reads the connection with: the protocol's decoder (requests go through `writer`). */
  readonly input: Codec<Outgoing<Res, Err, Push>, never>
  private readonly writer: Writer
  private readonly byId: boolean
  private queue: Array<Pending | undefined> = []
  private head = 0
  private readonly map = new Map<number, Pending>()
  private nextId = 1
  /** Requests waiting for a response (not abandoned). */
  active = 0
  open = true
  draining = false
  /** Frames received: a link that received something was healthy (the reconnect schedule resets). */
  received = 0

  constructor(
    readonly connection: Connection,
    protocol: Protocol<Req, Res, Err, OneWay, Push>,
    private readonly address: Address,
    private readonly onPush: (message: Push) => void,
    private readonly onChange: () => void,
    private readonly deadlines: Deadlines
  ) {
    this.codec = protocol.client()
    this.writer = new Writer(connection)
    this.byId = protocol.correlation === "byId"
    this.input = inputCodec(protocol.name, this.codec.decoder)
  }

  /**
   * Write backpressure: true when the last write left the connection over its
   * high-water mark (a peer that reads slower than we write). What is encoded
   * but not yet written is flushed at `FLUSH_AT`, so neither buffer grows
   * past its bound while a producer runs without yielding.
   */
  private mustWait(): boolean {
    if (this.writer.out.length >= FLUSH_AT) this.writer.flush()
    return this.writer.blocked
  }

  /** Until the connection is below its high-water mark (or gone: the request then fails as usual). */
  private readonly writable: Effect.Effect<void> = Effect.ignore(
    Effect.suspend(() => this.connection.awaitWritable)
  )

  /** Bytes encoded or buffered by the transport, not yet handed to the OS. */
  unsent(): number {
    return this.writer.out.length + this.connection.unsafeWriteBuffered()
  }

  request(request: Req, timeout: number | undefined, trace: TraceContext | undefined): Effect.Effect<Res, Err | ClientError> {
    const send = this.requestNow(request, timeout, trace)
    return this.mustWait() ? Effect.zipRight(this.writable, send) : send
  }

  private requestNow(request: Req, timeout: number | undefined, trace: TraceContext | undefined): Effect.Effect<Res, Err | ClientError> {
    return Effect.async<Res, Err | ClientError>((resume) => {
      if (!this.open) return resume(Effect.fail(this.disconnected()))
      const id = this.byId ? this.nextId++ : undefined
      const error = this.codec.encodeRequest(request, id, this.writer.out, trace)
      if (error !== undefined) return resume(Effect.fail(new ClientError({ reason: "Encode", cause: error })))
      this.writer.sent()
      const pending: Pending = { resume, id, request, timer: undefined, done: false }
      if (id !== undefined) this.map.set(id, pending)
      else this.queue.push(pending)
      this.active++
      if (timeout !== undefined) {
        pending.timer = this.deadlines.add(timeout, () => {
          if (pending.done) return
          this.abandon(pending)
          this.cancel(pending)
          resume(Effect.fail(new ClientError({ reason: "Timeout", timeout, address: this.address })))
        })
      }
      return Effect.sync(() => {
        if (pending.done) return
        this.abandon(pending)
        this.cancel(pending)
      })
    })
  }

  send(message: OneWay): Effect.Effect<void, ClientError> {
    const send = this.sendNow(message)
    return this.mustWait() ? Effect.zipRight(this.writable, send) : send
  }

  private sendNow(message: OneWay): Effect.Effect<void, ClientError> {
    return Effect.suspend(() => {
      if (!this.open) return Effect.fail(this.disconnected())
      const error = this.codec.encodeOneWay(message, this.writer.out)
      if (error !== undefined) return Effect.fail(new ClientError({ reason: "Encode", cause: error }))
      this.writer.sent()
      return Effect.void
    })
  }

  /** Tells the server that nobody waits for this request any more (byId protocols that can say it). */
  private cancel(pending: Pending): void {
    const encodeCancel = this.codec.encodeCancel
    if (encodeCancel === undefined || pending.id === undefined || !this.open) return
    if (encodeCancel(pending.id, this.writer.out) === undefined) this.writer.sent()
  }

  private abandon(pending: Pending): void {
    pending.done = true
    if (pending.timer !== undefined) this.deadlines.cancel(pending.timer)
    if (pending.id !== undefined) this.map.delete(pending.id)
    this.active--
    this.onChange()
  }

  private settle(pending: Pending, effect: Effect.Effect<any, any>): void {
    if (pending.done) return
    pending.done = true
    if (pending.timer !== undefined) this.deadlines.cancel(pending.timer)
    this.active--
    pending.resume(effect)
  }

  private disconnected(): ClientError {
    return new ClientError({ reason: "Disconnected", address: this.address })
  }

  /** The outcome as the request's result, decoded for its request first when the codec does that. */
  private outcomeEffect(pending: Pending, outcome: Outcome<Res, Err>): Effect.Effect<Res, Err | ClientError> {
    const decode = this.codec.decodeOutcome
    if (decode === undefined || outcome._tag === "Fault") return this.toEffect(outcome)
    const decoded = decode(pending.request as Req, outcome)
    if (decoded._tag === "MessageError") {
      return Effect.fail(new ClientError({ reason: "Decode", cause: decoded, address: this.address }))
    }
    return this.toEffect(decoded)
  }

  private toEffect(outcome: Outcome<Res, Err>): Effect.Effect<Res, Err | ClientError> {
    switch (outcome._tag) {
      case "Success":
        return Effect.succeed(outcome.value)
      case "Failure":
        return Effect.fail(outcome.error)
      case "Fault":
        return Effect.fail(
          new ClientError({ reason: isRefusal(outcome.fault.reason) ? "Refused" : "Remote", fault: outcome.fault, address: this.address })
        )
    }
  }

  private nextInOrder(): Pending | undefined {
    if (this.head >= this.queue.length) return undefined
    const pending = this.queue[this.head]!
    this.queue[this.head++] = undefined
    if (this.head === this.queue.length) {
      this.queue.length = 0
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return pending
  }

  /** The `Framed.pump` callback: every message of a read batch. */
  readonly onFrames = (frames: ReadonlyArray<Outgoing<Res, Err, Push>>): undefined => {
    this.received += frames.length
    let settled = false
    for (let i = 0; i < frames.length && this.open; i++) {
      const message = frames[i]!
      switch (message._tag) {
        case "Response": {
          const pending = this.byId ? this.takeById(message.id) : this.nextInOrder()
          if (pending === undefined) {
            if (!this.byId) this.desync("a response with no request waiting")
            break
          }
          if (pending.id !== undefined) this.map.delete(pending.id)
          settled = true
          this.settle(pending, this.outcomeEffect(pending, message.outcome))
          break
        }
        case "Push":
          this.onPush(message.message)
          break
        case "Draining":
          this.draining = true
          settled = true
          break
        case "Invalid": {
          if (!this.byId) {
            this.desync(`a message that does not decode: ${message.error.message}`)
            break
          }
          const pending = this.takeById(message.id)
          if (pending !== undefined) {
            this.map.delete(pending.id!)
            settled = true
            this.settle(pending, Effect.fail(new ClientError({ reason: "Decode", cause: message.error, address: this.address })))
          } else {
            Effect.runFork(Effect.logWarning(`client: dropped a message that does not decode: ${message.error.message}`))
          }
        }
      }
    }
    if (settled) this.onChange()
    return undefined
  }

  private takeById(id: number | undefined): Pending | undefined {
    return id === undefined ? undefined : this.map.get(id)
  }

  /** The stream is out of step (inOrder): fail everything and close, the pool reconnects. */
  private desync(why: string): void {
    Effect.runFork(Effect.logWarning(`client: protocol out of step (${why}); closing the connection`))
    this.drop(new ClientError({ reason: "Decode", address: this.address, cause: why }))
    Effect.runFork(this.connection.abort)
  }

  /** The link is gone: every pending request fails with `error`. Idempotent. */
  drop(error?: ClientError): void {
    if (!this.open) return
    this.open = false
    const failure = Effect.fail(error ?? this.disconnected())
    const queue = this.queue
    this.queue = []
    for (let i = this.head; i < queue.length; i++) {
      const p = queue[i]
      if (p !== undefined && !p.done) this.settle(p, failure)
    }
    this.head = 0
    const pendings = [...this.map.values()]
    this.map.clear()
    for (const p of pendings) this.settle(p, failure)
    this.onChange()
  }
}

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.DurationInput): number | undefined => {
  const duration = Duration.decode(d ?? fallback)
  return Duration.isFinite(duration) ? Math.max(0, Duration.toMillis(duration)) : undefined
}

/** See `Client.make`. */
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
    const maxInFlight = options?.pool?.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
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
          yield* Effect.exit(Framed.make(connected.right, link.input).pump(link.onFrames)).pipe(
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

    const spans = options?.spans === true
    const client: ClientFor<P> = {
      request: (request, requestOptions) => {
        const timeout = requestOptions?.timeout === undefined ? requestTimeout : millis(requestOptions.timeout, "30 seconds")
        // the caller's span (or this request's own) travels with the request
        const send = Effect.flatMap(
          Effect.serviceOption(Tracer.ParentSpan),
          (parent) =>
            Effect.flatMap(acquire, (link) =>
              link.request(request, timeout, parent._tag === "Some" ? traceContextOf(parent.value) : undefined))
        )
        // the per-method result types are the protocol's promise (its codec decodes by method)
        return (spans
          ? Effect.withSpan(send, `${protocol.name}.${protocol.describe(request)}`, {
            kind: "client",
            attributes: { "rpc.system": "wirekit", "rpc.service": protocol.name, "rpc.method": protocol.describe(request) }
          })
          : send) as Effect.Effect<any, any>
      },
      send: (message) => Effect.flatMap(acquire, (link) => link.send(message)),
      pushes: Stream.fromPubSub(pushes),
      subscribe: PubSub.subscribe(pushes),
      awaitConnected,
      stats: () => {
        let pending = 0
        let unsent = 0
        let connected = 0
        for (const link of links) {
          if (link.open) connected++
          pending += link.active
          unsent += link.unsent()
        }
        return { connected, pending, connects, unsent }
      }
    }
    return client
  })
