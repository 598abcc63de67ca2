import {
  Chunk,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  FiberId,
  Option,
  PubSub,
  Schedule,
  ScheduleDecision,
  ScheduleIntervals,
  Scope,
  Stream,
  Tracer
} from "effect"
import type { Clock } from "effect"
import type { Address } from "../../Address.ts"
import type { ClientFor, ClientOptions, ClientTimeoutPhase } from "../../Client.ts"
import type { Codec } from "../../Codec.ts"
import type { Connection } from "../../Connection.ts"
import * as Framed from "../../Framed.ts"
import type {
  ClientCodec,
  ErrorOf,
  OneWayOf,
  Outcome,
  Outgoing,
  Protocol,
  PushOf,
  RequestMeta,
  RequestOf,
  ResponseOf,
  TraceContext
} from "../../Protocol.ts"
import { STREAM_WINDOW } from "../../Protocol.ts"
import * as Tls from "../../Tls.ts"
import { ConnectError, defaultConnectTimeout, Transport } from "../../Transport.ts"
import type { Deadline } from "../deadlines.ts"
import { Deadlines } from "../deadlines.ts"
import { ClientError, isRefusal } from "./errors.ts"
import type { ProtocolError } from "./errors.ts"
import { inputCodec, Writer } from "./writer.ts"

/** Encoded output written at once past this size, instead of at the end of the turn. */
const FLUSH_AT = 64 * 1024
/** Requests in flight per connection before the next one waits for capacity. */
const DEFAULT_MAX_IN_FLIGHT = 4096
/** Attempts per request by default (the first one included). */
const DEFAULT_MAX_ATTEMPTS = 3
/** Delays between attempts by default: short, since a retry also waits for a connection to take it. */
const DEFAULT_RETRY_SCHEDULE: Schedule.Schedule<unknown, ClientError> = Schedule.exponential("20 millis").pipe(
  Schedule.jittered
)

/**
 * `Disconnected` failures of requests that never reached the connection (it
 * was gone when their turn came): sending them again is safe whatever they do.
 */
const neverSent = new WeakSet<ClientError>()

const traceContextOf = (span: Tracer.AnySpan): TraceContext => ({
  traceId: span.traceId,
  spanId: span.spanId,
  sampled: span.sampled
})

/** What a streaming response delivered, in order. */
type Signal =
  | { readonly _tag: "Items"; readonly items: ReadonlyArray<unknown> }
  | { readonly _tag: "End" }
  | { readonly _tag: "Fail"; readonly error: unknown }

/** One streaming response being read: at most STREAM_WINDOW chunks buffered (the server's credit). */
export interface StreamEntry {
  readonly id: number
  readonly request: unknown
  readonly buffer: Array<Signal>
  waiter: (() => void) | undefined
  /** Chunks taken since the last ack. */
  consumed: number
  /** Ended, failed or cancelled: nothing more will come. */
  done: boolean
}

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
  private readonly streams = new Map<number, StreamEntry>()
  private nextId = 1
  /** Requests waiting for a response (not abandoned). */
  active = 0
  open = true
  /**
   * The server announced it is going away (its draining notice, or a first
   * `ShuttingDown` refusal): no new requests here; those in flight finish,
   * then the link closes.
   */
  draining = false
  /** Draining with nothing in flight: the connection is being closed. */
  closing = false
  /**
   * The server said something before it announced draining: a link that
   * served, not one refused from its first message (whose replacement then
   * waits for the reconnect schedule instead of looping).
   */
  servedBeforeDraining = false
  /** Frames received: a link that received something was healthy (the reconnect schedule resets). */
  received = 0

  constructor(
    readonly connection: Connection,
    protocol: Protocol<Req, Res, Err, OneWay, Push>,
    private readonly address: Address,
    private readonly onPush: (message: Push) => void,
    private readonly onChange: () => void,
    private readonly deadlines: Deadlines,
    private readonly clock: Clock.Clock,
    /** Called once, when the link stops taking new requests (draining or dropped): the pool replaces it. */
    private readonly onRetire: () => void
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

  /**
   * Sends `request` and waits for its answer until `at` (the request's
   * deadline in Clock milliseconds; `total` is its whole timeout, for the error).
   */
  request(
    request: Req,
    at: number | undefined,
    total: number | undefined,
    meta: RequestMeta | undefined
  ): Effect.Effect<Res, Err | ClientError> {
    const send = this.requestNow(request, at, total, meta)
    if (!this.mustWait()) return send
    if (at === undefined) return Effect.zipRight(this.writable, send)
    const wait = Effect.suspend(() => {
      const left = at - this.clock.unsafeCurrentTimeMillis()
      return left <= 0
        ? Effect.fail(this.timedOut("Send", total))
        : Effect.timeoutFail(this.writable, {
          duration: Duration.millis(left),
          onTimeout: () => this.timedOut("Send", total)
        })
    })
    return Effect.zipRight(wait, send)
  }

  private timedOut(phase: ClientTimeoutPhase, total: number | undefined): ClientError {
    return new ClientError({ reason: "Timeout", timeout: total, phase, address: this.address })
  }

  private requestNow(
    request: Req,
    at: number | undefined,
    total: number | undefined,
    meta: RequestMeta | undefined
  ): Effect.Effect<Res, Err | ClientError> {
    return Effect.async<Res, Err | ClientError>((resume) => {
      if (!this.open) {
        const error = this.disconnected()
        neverSent.add(error)
        return resume(Effect.fail(error))
      }
      let timeout: number | undefined
      if (at !== undefined) {
        timeout = at - this.clock.unsafeCurrentTimeMillis()
        if (timeout <= 0) return resume(Effect.fail(this.timedOut("Send", total)))
      }
      const id = this.byId ? this.nextId++ : undefined
      const error = this.codec.encodeRequest(request, id, this.writer.out, meta)
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
          resume(Effect.fail(this.timedOut("Response", total)))
        })
      }
      return Effect.sync(() => {
        if (pending.done) return
        this.abandon(pending)
        this.cancel(pending)
      })
    })
  }

  /** Sends a streaming request; its chunks are read with {@link take}. */
  openStream(request: Req, meta: RequestMeta | undefined): Effect.Effect<StreamEntry, ClientError> {
    const open = Effect.suspend((): Effect.Effect<StreamEntry, ClientError> => {
      if (!this.open) return Effect.fail(this.disconnected())
      if (!this.byId || this.codec.streams === undefined) {
        return Effect.fail(new ClientError({ reason: "Encode", cause: "this protocol has no streaming requests" }))
      }
      const id = this.nextId++
      const error = this.codec.encodeRequest(request, id, this.writer.out, meta)
      if (error !== undefined) return Effect.fail(new ClientError({ reason: "Encode", cause: error }))
      this.writer.sent()
      const entry: StreamEntry = { id, request, buffer: [], waiter: undefined, consumed: 0, done: false }
      this.streams.set(id, entry)
      this.active++
      return Effect.succeed(entry)
    })
    return this.mustWait() ? Effect.zipRight(this.writable, open) : open
  }

  /** The next chunk of a stream (`None` at its end), acknowledging what was consumed. */
  take(entry: StreamEntry): Effect.Effect<Chunk.Chunk<unknown>, Option.Option<unknown>> {
    return Effect.suspend(() => {
      const signal = entry.buffer.shift()
      if (signal === undefined) {
        return Effect.async<Chunk.Chunk<unknown>, Option.Option<unknown>>((resume) => {
          entry.waiter = () => resume(this.take(entry))
          return Effect.sync(() => {
            entry.waiter = undefined
          })
        })
      }
      switch (signal._tag) {
        case "Items": {
          // credit back to the server once half the window is consumed
          if (++entry.consumed >= STREAM_WINDOW / 2 && !entry.done && this.open) {
            if (this.codec.streams!.encodeAck(entry.id, entry.consumed, this.writer.out) === undefined) {
              this.writer.sent()
            }
            entry.consumed = 0
          }
          return Effect.succeed(Chunk.unsafeFromArray(signal.items as Array<unknown>))
        }
        case "End":
          return Effect.fail(Option.none())
        case "Fail":
          return Effect.fail(Option.some(signal.error))
      }
    })
  }

  private streamFailure(entry: StreamEntry, outcome: Outcome<Res, Err>): unknown {
    if (outcome._tag === "Fault") return this.faultError(outcome.fault)
    if (outcome._tag === "Success") {
      return new ClientError({
        reason: "Decode",
        address: this.address,
        cause: "a streaming request answered with one value"
      })
    }
    const decode = this.codec.decodeOutcome
    const decoded = decode === undefined ? outcome : decode(entry.request as Req, outcome)
    if (decoded._tag === "MessageError") {
      return new ClientError({ reason: "Decode", cause: decoded, address: this.address })
    }
    return decoded._tag === "Failure" ? decoded.error : new ClientError({ reason: "Decode", address: this.address })
  }

  /** The reader is gone (ended, failed, interrupted): a stream still running is cancelled. */
  closeStream(entry: StreamEntry): void {
    if (entry.done) return
    this.finishStream(entry)
    const encodeCancel = this.codec.encodeCancel
    if (encodeCancel !== undefined && this.open && encodeCancel(entry.id, this.writer.out) === undefined) {
      this.writer.sent()
    }
  }

  private finishStream(entry: StreamEntry): void {
    entry.done = true
    if (this.streams.get(entry.id) === entry) this.streams.delete(entry.id)
    this.active--
    this.changed()
  }

  private signal(entry: StreamEntry, signal: Signal): void {
    if (signal._tag !== "Items") this.finishStream(entry)
    entry.buffer.push(signal)
    const w = entry.waiter
    if (w !== undefined) {
      entry.waiter = undefined
      w()
    }
  }

  /** A chunk, end or response for a stream (false: `id` is not a stream). */
  private onStream(message: Outgoing<Res, Err, Push>): boolean {
    const id = (message as { readonly id?: number | undefined }).id
    const entry = id === undefined ? undefined : this.streams.get(id)
    if (entry === undefined) return message._tag === "Chunk" || message._tag === "End"
    switch (message._tag) {
      case "Chunk": {
        let items = 0
        for (const s of entry.buffer) if (s._tag === "Items") items++
        if (items >= STREAM_WINDOW) {
          this.signal(entry, {
            _tag: "Fail",
            error: new ClientError({
              reason: "Decode",
              address: this.address,
              cause: "the server sent past its stream window"
            })
          })
          return true
        }
        const decoded = this.codec.streams!.decodeItems(entry.request as Req, message.items)
        if (!Array.isArray(decoded)) {
          this.signal(entry, {
            _tag: "Fail",
            error: new ClientError({ reason: "Decode", cause: decoded, address: this.address })
          })
        } else {
          this.signal(entry, { _tag: "Items", items: decoded })
        }
        return true
      }
      case "End":
        this.signal(entry, { _tag: "End" })
        return true
      case "Response": {
        // a response to a streaming request ends it: its failure (or fault) is the stream's
        this.signal(entry, { _tag: "Fail", error: this.streamFailure(entry, message.outcome) })
        return true
      }
      case "Invalid":
        this.signal(entry, {
          _tag: "Fail",
          error: new ClientError({ reason: "Decode", cause: message.error, address: this.address })
        })
        return true
      default:
        return false
    }
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
    this.changed()
  }

  /**
   * Something settled: wake the pool's waiters; a draining link with
   * nothing left in flight closes (the server would close it too).
   */
  private changed(): void {
    this.onChange()
    if (this.draining && this.active === 0 && this.open && !this.closing) {
      this.closing = true
      this.writer.flush()
      Effect.runFork(this.connection.close)
    }
  }

  /** The server is going away: take no new requests, let those in flight finish. `before`: frames received until then. */
  private markDraining(before: number): void {
    if (this.draining) return
    this.draining = true
    this.servedBeforeDraining = before > 0
    this.onRetire()
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
        return Effect.fail(this.faultError(outcome.fault))
    }
  }

  private faultError(fault: ProtocolError): ClientError {
    return new ClientError({ reason: isRefusal(fault.reason) ? "Refused" : "Remote", fault, address: this.address })
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
    const base = this.received
    this.received += frames.length
    let settled = false
    for (let i = 0; i < frames.length && this.open; i++) {
      const message = frames[i]!
      // a server without a draining notice still says it with its refusals
      if (
        message._tag === "Response" && message.outcome._tag === "Fault" &&
        message.outcome.fault.reason === "ShuttingDown"
      ) {
        this.markDraining(base + i)
      }
      if (this.streams.size > 0 || message._tag === "Chunk" || message._tag === "End") {
        if (this.onStream(message)) {
          settled = true
          continue
        }
      }
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
          this.markDraining(base + i)
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
            this.settle(
              pending,
              Effect.fail(new ClientError({ reason: "Decode", cause: message.error, address: this.address }))
            )
          } else {
            Effect.runFork(
              Effect.logWarning(`client: dropped a message that does not decode: ${message.error.message}`)
            )
          }
        }
      }
    }
    if (settled) this.changed()
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

  /**
   * The client is closing with requests pending: tell the server (byId) that
   * nobody waits for them, so it stops their work instead of answering a
   * closed connection. Written now; the connection's close flushes it.
   */
  cancelPending(): void {
    const encodeCancel = this.codec.encodeCancel
    if (!this.open || encodeCancel === undefined) return
    let sent = false
    for (const id of this.map.keys()) sent = encodeCancel(id, this.writer.out) === undefined || sent
    for (const entry of this.streams.values()) {
      if (!entry.done) sent = encodeCancel(entry.id, this.writer.out) === undefined || sent
    }
    if (sent) this.writer.flush()
  }

  /** The link is gone: every pending request fails with `error`. Idempotent. */
  drop(error?: ClientError): void {
    if (!this.open) return
    this.open = false
    this.onRetire()
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
    for (const entry of [...this.streams.values()]) {
      this.signal(entry, { _tag: "Fail", error: error ?? this.disconnected() })
    }
    this.onChange()
  }
}

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.DurationInput): number | undefined => {
  const duration = Duration.decode(d ?? fallback)
  return Duration.isFinite(duration) ? Math.max(0, Duration.toMillis(duration)) : undefined
}

/** The error of a request sent `attempts` times (unchanged when it was sent once, or is not a ClientError). */
const withAttempts = (error: unknown, attempts: number): unknown =>
  attempts <= 1 || !(error instanceof ClientError) ? error : new ClientError({
    reason: error.reason,
    address: error.address,
    fault: error.fault,
    timeout: error.timeout,
    phase: error.phase,
    attempts,
    cause: error.cause
  })

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
    const maxAttempts = Math.max(1, Math.floor(options?.retry?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS))
    const retrySchedule = options?.retry?.schedule ?? DEFAULT_RETRY_SCHEDULE
    const isIdempotent = options?.idempotent ?? (protocol.isIdempotent as ((request: unknown) => boolean) | undefined)
    const pushes = yield* PubSub.unbounded<Push>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(pushes))
    // request and pool timeouts: one Clock-driven timer for all of them
    const clock = yield* Effect.clock
    const deadlines = new Deadlines(clock)
    yield* Effect.addFinalizer(() => Effect.sync(() => deadlines.close()))

    const links: Array<Link> = []
    let alive = size
    let connects = 0
    let retries = 0
    let closed = false
    let lastConnectError: ConnectError | undefined
    let waiters: Array<() => boolean> = []

    /** The least busy open link with capacity that is not draining. */
    const pick = (): Link | undefined => {
      let best: Link | undefined
      for (const link of links) {
        if (!link.open || link.draining || link.active >= maxInFlight) continue
        if (best === undefined || link.active < best.active) best = link
      }
      return best
    }
    /**
     * When no connection will come any more (every slot gave up): a draining
     * link still open, whose server then answers with an honest `ShuttingDown`.
     */
    const lastResort = (): Link | undefined => {
      if (alive > 0) return undefined
      let best: Link | undefined
      for (const link of links) {
        if (!link.open || link.closing || link.active >= maxInFlight) continue
        if (best === undefined || link.active < best.active) best = link
      }
      return best
    }
    /** Whether a request sent again could find a connection that takes it. */
    const replaceable = (): boolean => {
      if (closed) return false
      if (alive > 0) return true
      for (const link of links) if (link.open && !link.draining) return true
      return false
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

    /**
     * A link for one request, waiting for one if needed: at most the pool's
     * acquire timeout, and never past the request's deadline `at` (Clock
     * milliseconds; `total` is the request's whole timeout, for the error).
     */
    const acquire = (at: number | undefined, total: number | undefined): Effect.Effect<Link, ClientError> =>
      Effect.suspend(() => {
        const link = pick() ?? lastResort()
        if (link !== undefined) return Effect.succeed(link)
        if (alive === 0 || closed) return Effect.fail(disconnected())
        const left = at === undefined ? undefined : at - clock.unsafeCurrentTimeMillis()
        if (left !== undefined && left <= 0) {
          return Effect.fail(new ClientError({ reason: "Timeout", address, timeout: total, phase: "Acquire" }))
        }
        return Effect.async<Link, ClientError>((resume) => {
          let timer: Deadline | undefined
          const waiter = (): boolean => {
            const l = pick() ?? lastResort()
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
          // the pool's bound, or what is left of the request's deadline, whichever ends first
          const pool = acquireTimeout !== undefined && (left === undefined || acquireTimeout < left)
          const wait = pool ? acquireTimeout : left
          if (wait !== undefined) {
            timer = deadlines.add(wait, () => {
              waiters = waiters.filter((w) => w !== waiter)
              resume(Effect.fail(
                pool
                  ? new ClientError({ reason: "PoolTimeout", address, timeout: acquireTimeout })
                  : new ClientError({ reason: "Timeout", address, timeout: total, phase: "Acquire" })
              ))
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

    // Links outlive the slot iteration that opened them (a draining link
    // finishes its requests while its slot connects the replacement): their
    // connections and readers live here, closed with the client after its
    // closing finalizer (below) has written the cancels of what is pending.
    const linksScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)

    /**
     * Connects and serves one link until it stops taking requests: dropped
     * ("dropped"), or announced draining after it served ("draining": its
     * reader goes on until its requests are answered). "failed": no connection.
     */
    const connectOnce: Effect.Effect<
      { readonly outcome: "failed" | "dropped" | "draining"; readonly healthy: boolean }
    > = Effect
      .gen(function*() {
        const connScope = yield* Scope.fork(linksScope, ExecutionStrategy.sequential)
        const connected = yield* Effect.either(Scope.extend(transport.connect(address, options?.connection), connScope))
          .pipe(
            Effect.onInterrupt(() => Scope.close(connScope, Exit.void))
          )
        if (connected._tag === "Left") {
          lastConnectError = connected.left
          yield* Scope.close(connScope, Exit.void)
          return { outcome: "failed", healthy: false } as const
        }
        if (options?.onConnect !== undefined) {
          const prepared = yield* Effect.either(prepare(options.onConnect, connected.right))
          if (prepared._tag === "Left") {
            lastConnectError = prepared.left
            yield* Scope.close(connScope, Exit.void)
            return { outcome: "failed", healthy: false } as const
          }
        }
        connects++
        const retired = Deferred.unsafeMake<void>(FiberId.none)
        const link: Link = new ClientLink(
          connected.right,
          protocol,
          address,
          onPush,
          wake,
          deadlines,
          clock,
          () => Deferred.unsafeDone(retired, Exit.void)
        )
        links.push(link)
        wake()
        yield* Framed.make(connected.right, link.input).pump(link.onFrames).pipe(
          Effect.exit,
          Effect.ensuring(Effect.sync(() => {
            link.drop()
            const i = links.indexOf(link)
            if (i >= 0) links.splice(i, 1)
            wake()
          })),
          Effect.ensuring(Scope.close(connScope, Exit.void)),
          Effect.forkIn(linksScope)
        )
        yield* Deferred.await(retired)
        return {
          outcome: link.draining && link.servedBeforeDraining ? "draining" : "dropped",
          healthy: link.received > 0
        } as const
      })

    /** `onConnect` on a new connection, within the connect timeout; its failure as a ConnectError. */
    const prepare = (onConnect: NonNullable<ClientOptions["onConnect"]>, connection: Connection) => {
      const timeout = options?.connection?.timeout ?? defaultConnectTimeout
      const failed = (cause: unknown) => {
        const tls = Tls.errorOf(cause)
        return new ConnectError({ reason: tls !== undefined ? "Tls" : "Other", address, code: tls?.code, cause })
      }
      return Effect.suspend(() => onConnect(connection)).pipe(
        Effect.mapError(failed),
        Effect.catchAllDefect((defect) => Effect.fail(failed(defect))),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new ConnectError({ reason: "TimedOut", address, timeout, code: "ETIMEDOUT" })
        })
      )
    }

    /** One pool slot: connect, serve the link until it drops or drains, replace it per schedule. */
    const slot = Effect.gen(function*() {
      const driver = reconnect === undefined ? undefined : yield* Schedule.driver(reconnect)
      while (!closed) {
        const { healthy, outcome } = yield* connectOnce
        if (closed) break
        // the server is going away: the replacement is wanted now, not after a delay
        if (outcome === "draining") {
          if (healthy && driver !== undefined) yield* driver.reset
          continue
        }
        if (driver === undefined) break
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
        for (const link of links) {
          link.cancelPending()
          link.drop()
        }
        wake()
      })
    )

    const awaitConnected: Effect.Effect<void, ClientError> = Effect.asVoid(
      Effect.suspend(() => (pick() !== undefined ? Effect.void : acquire(undefined, undefined)))
    )
    yield* Effect.mapError(awaitConnected, (e) =>
      alive === 0 && connects === 0 ? new ClientError({ reason: "Connect", address, cause: lastConnectError ?? e }) : e)

    /** Safe to send again: the server did not start it, or running it twice does no harm. */
    const retryable = (error: unknown, idempotent: boolean): boolean => {
      if (!(error instanceof ClientError) || !replaceable()) {
        return false
      }
      if (error.reason === "Refused") {
        return error.fault?.reason === "ShuttingDown"
      }
      return error.reason === "Disconnected" && (idempotent || neverSent.has(error))
    }

    /** One attempt: a link (waiting for one if needed), then the request on it. */
    const attempt = (
      request: Req,
      at: number | undefined,
      total: number | undefined,
      meta: RequestMeta | undefined
    ) => {
      const link = pick()
      return link !== undefined
        ? link.request(request, at, total, meta)
        : Effect.flatMap(acquire(at, total), (l) =>
          l.request(request, at, total, meta))
    }

    /** After attempt `n` failed with `last`: wait per the schedule and try again, within the deadline. */
    const retry = (
      request: Req,
      at: number | undefined,
      total: number | undefined,
      meta: RequestMeta | undefined,
      idempotent: boolean,
      n: number,
      last: ClientError,
      state: unknown
    ): Effect.Effect<Res, unknown> => {
      if (n >= maxAttempts) {
        return Effect.fail(withAttempts(last, n))
      }
      const now = clock.unsafeCurrentTimeMillis()
      return Effect.flatMap(retrySchedule.step(now, last, state), ([next, , decision]) => {
        if (ScheduleDecision.isDone(decision) || !retryable(last, idempotent)) {
          return Effect.fail(withAttempts(last, n))
        }
        const delay = Math.max(0, ScheduleIntervals.start(decision.intervals) - now)
        // a retry that could only start at (or after) the deadline is not made
        if (at !== undefined && now + delay >= at) {
          return Effect.fail(withAttempts(last, n))
        }
        const again = Effect.suspend(() => {
          if (!retryable(last, idempotent)) {
            return Effect.fail(withAttempts(last, n))
          }
          retries++
          return Effect.catchAll(
            attempt(request, at, total, meta),
            (e): Effect.Effect<Res, unknown> =>
              retryable(e, idempotent)
                ? retry(request, at, total, meta, idempotent, n + 1, e as ClientError, next)
                : Effect.fail(withAttempts(e, n + 1))
          )
        })
        return delay > 0 ? Effect.zipRight(clock.sleep(Duration.millis(delay)), again) : again
      })
    }

    const spans = options?.spans === true
    const headers = options?.headers
    const withMeta = <A, E>(request: unknown, f: (meta: RequestMeta | undefined) => Effect.Effect<A, E>) =>
      Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (parent): Effect.Effect<A, E | ClientError> => {
        const trace = parent._tag === "Some" ? traceContextOf(parent.value) : undefined
        if (headers === undefined) {
          return f(trace === undefined ? undefined : { trace })
        }
        const h = typeof headers === "function" ? headers(request) : headers
        return Effect.isEffect(h)
          ? Effect.flatMap(h, (hs) =>
            f({ trace, headers: hs }))
          : f({ trace, headers: h })
      })
    const client: ClientFor<P> = {
      request: (request, requestOptions) => {
        const total = requestOptions?.timeout === undefined
          ? requestTimeout
          : millis(requestOptions.timeout, "30 seconds")
        // the caller's span (or this request's own) and the headers travel with the request
        const send = withMeta(request, (meta) => {
          // one deadline for the whole request, from now: connection, sending, response, retries
          const at = total === undefined ? undefined : clock.unsafeCurrentTimeMillis() + total
          const first = attempt(request, at, total, meta)
          if (maxAttempts <= 1) return first
          return Effect.catchAll(first, (e): Effect.Effect<Res, unknown> => {
            const idempotent = requestOptions?.idempotent ?? (isIdempotent !== undefined && isIdempotent(request))
            return retryable(e, idempotent)
              ? retry(request, at, total, meta, idempotent, 1, e as ClientError, retrySchedule.initial)
              : Effect.fail(e)
          })
        })
        // the per-method result types are the protocol's promise (its codec decodes by method)
        return (spans
          ? Effect.withSpan(send, `${protocol.name}.${protocol.describe(request)}`, {
            kind: "client",
            attributes: {
              "rpc.system": "wirekit",
              "rpc.service": protocol.name,
              "rpc.method": protocol.describe(request)
            }
          })
          : send) as Effect.Effect<any, any>
      },
      stream: (request) =>
        Stream.unwrapScoped(Effect.gen(function*() {
          const link = yield* acquire(undefined, undefined)
          const entry = yield* Effect.acquireRelease(
            withMeta(request, (meta) => link.openStream(request, meta)),
            (entry) => Effect.sync(() => link.closeStream(entry))
          )
          return Stream.repeatEffectChunkOption(link.take(entry))
        })) as Stream.Stream<any, any>,
      send: (message) => Effect.flatMap(acquire(undefined, undefined), (link) => link.send(message)),
      pushes: Stream.fromPubSub(pushes),
      subscribe: PubSub.subscribe(pushes),
      awaitConnected,
      stats: () => {
        let pending = 0
        let unsent = 0
        let connected = 0
        let draining = 0
        for (const link of links) {
          if (link.open) connected++
          if (link.open && link.draining) draining++
          pending += link.active
          unsent += link.unsent()
        }
        return { connected, pending, connects, draining, retries, unsent }
      }
    }
    return client
  })
