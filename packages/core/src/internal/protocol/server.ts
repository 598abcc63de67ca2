import { Cause, Chunk, Effect, Exit, Fiber, Runtime, Stream } from "effect"
import type { Address } from "../../Address.ts"
import * as ByteBuffer from "../../ByteBuffer.ts"
import type { Codec } from "../../Codec.ts"
import type { Connection } from "../../Connection.ts"
import type * as Framed from "../../Framed.ts"
import type { Groups } from "../../Groups.ts"
import type { FailurePolicy, Incoming, Outcome, RequestMeta, ServerCodec } from "../../Protocol.ts"
import { STREAM_CHUNK_ITEMS, STREAM_WINDOW } from "../../Protocol.ts"
import type { Handler, RequestContext, ServerStats } from "../../ProtocolServer.ts"
import type { Session, SessionState } from "../../Session.ts"
import type { TlsServerOptions } from "../../Tls.ts"
import { TlsError } from "../../Tls.ts"
import { canStartTls } from "../connection.ts"
import { InlineHost, Suspended } from "../inline.ts"
import { ProtocolError } from "./errors.ts"
import { inputCodec, Writer } from "./writer.ts"

/** Mutable counters shared by a server and its connections (connection counts are the runner's). */
export type MutableStats = {
  -readonly [K in Exclude<keyof ServerStats, "active" | "accepted" | "rejected" | "bufferedInput" | "inputEvictions">]:
    ServerStats[K]
}

const isTimeout = (cause: Cause.Cause<unknown>, error: ProtocolError): boolean => {
  const failure = Cause.failureOption(cause)
  return failure._tag === "Some" && failure.value === error
}

export const makeStats = (): MutableStats => ({
  requests: 0,
  oneWays: 0,
  successes: 0,
  failures: 0,
  faults: 0,
  defects: 0,
  badInput: 0,
  timeouts: 0,
  cancelled: 0,
  refused: 0,
  forked: 0,
  inlined: 0,
  slowReads: 0
})

/** Per-server settings of the connection engine. */
export interface EngineConfig<Req, Res, OneWay, Push> {
  readonly protocol: string
  readonly inOrder: boolean
  readonly onBadInput: FailurePolicy
  readonly onDefect: FailurePolicy
  readonly describe: (message: unknown) => string
  readonly maxInFlight: number
  /** Per-request timeout in ms, or undefined. */
  readonly requestTimeout: number | undefined
  readonly maxWriteBuffer: number
  readonly onRequest: Handler<Req, Res, unknown, any, Push>
  readonly onOneWay: Handler<OneWay, unknown, unknown, any, Push> | undefined
  readonly groups: Groups<Push>
  readonly stats: MutableStats
}

interface StreamState {
  /** Chunks the client will still take before its next ack. */
  credit: number
  /** The stream's fiber, waiting for credit. */
  wake: (() => void) | undefined
}

interface Slot {
  readonly id: number | undefined
  frame: Uint8Array | undefined
  done: boolean
  /** Close the connection once this slot is written (defect with policy "close"). */
  close: boolean
}

/** A STARTTLS upgrade a handler asked for (`Session.startTls`). */
interface TlsUpgrade {
  readonly options: TlsServerOptions
  /** The handshake began (the replies before it are out). */
  started: boolean
  done: boolean
  /** The pump, waiting until the upgrade is over. */
  waiter: (() => void) | undefined
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

/** Bad one-way messages logged per connection (the rest are only counted in `badInput`). */
const MAX_BAD_ONE_WAY_LOGS = 5

/** Output of one read batch past which it is written at once (and the batch waits for a peer that is not reading). */
const FLUSH_AT = 64 * 1024

/** Draining: a connection closes once no byte has arrived for this long (see `closeWhenQuiet`). */
const DRAIN_QUIET = "100 millis"

const OPEN = 0
const DRAINING = 1
const CLOSING = 2
const CLOSED = 3

const SHUTTING_DOWN: Outcome<never, never> = {
  _tag: "Fault",
  fault: new ProtocolError({ reason: "ShuttingDown", detail: "the server is shutting down" })
}
const INTERNAL: Outcome<never, never> = {
  _tag: "Fault",
  fault: new ProtocolError({ reason: "Internal", detail: "internal error" })
}
const ENCODE_FAILED: Outcome<never, never> = {
  _tag: "Fault",
  fault: new ProtocolError({ reason: "Internal", detail: "the response could not be encoded" })
}

/**
 * One protocol connection on the server: decodes every message of a read
 * batch, runs handlers (no fiber when the handler returns an Exit, a fiber
 * started synchronously otherwise), writes responses in order (inOrder) or as
 * they complete (byId), bounds what is in flight (reading stops when full),
 * and is the connection's {@link Session}.
 */
export class ServerConnection<Req, Res, Err, OneWay, Push> implements Session<Push> {
  readonly id: number
  readonly remoteAddress: Address
  readonly localAddress: Address
  readonly protocol: string
  readonly writer: Writer
  /** The protocol's state for this connection; a fresh one after an upgrade to TLS. */
  private codec: ServerCodec<Req, Res, Err, OneWay, Push>
  /** What the pump reads the connection with: the protocol's decoder (the output goes through `writer`). */
  readonly input: Codec<Incoming<Req, OneWay>, never>
  /** Session state, made on first use (as are the other maps and sets below). */
  private values: Map<SessionState<any>, unknown> | undefined = undefined
  private mode = OPEN
  /** inOrder, after a request that closes the connection: write nothing more. */
  private discarding = false
  private inFlightCount = 0
  private queue: Array<Slot | undefined> = []
  private head = 0
  private running: Set<Fiber.RuntimeFiber<any, any>> | undefined = undefined
  /** byId requests whose handler runs on a fiber, by id: what a `Cancel` interrupts. */
  private runningById: Map<number, Fiber.RuntimeFiber<any, any>> | undefined = undefined
  /** One-way messages that did not decode (logged up to MAX_BAD_ONE_WAY_LOGS). */
  private badOneWays = 0
  /** Streaming responses running, by request id: their credit (chunks the client will take). */
  private streams: Map<number, StreamState> | undefined = undefined
  /** Fibers interrupted by a `Cancel`: their outcome is not sent. */
  private cancelled: Set<Fiber.RuntimeFiber<any, any>> | undefined = undefined
  private slotWaiter: (() => void) | undefined
  private closedWaiters: Array<() => void> = []
  private runtime: Runtime.Runtime<never> | undefined
  /** Runs handlers without a fiber as far as they go without waiting. */
  private inline: InlineHost | undefined
  /** Per connection; `trace` is set while a request's handler is called. */
  private readonly requestContext: { -readonly [K in keyof RequestContext<Push>]: RequestContext<Push>[K] }
  private readonly oneWayContext: { -readonly [K in keyof RequestContext<Push>]: RequestContext<Push>[K] }
  /** The fault of a request over `requestTimeout` (one per connection, made when a request first waits: compared by identity). */
  private timeoutError: ProtocolError | undefined = undefined
  private closeEffect: Effect.Effect<void> | undefined = undefined
  private awaitOutputEffect: Effect.Effect<void> | undefined = undefined
  private awaitSlotEffect: Effect.Effect<void> | undefined = undefined
  private awaitClosedEffect: Effect.Effect<void> | undefined = undefined
  private isOpenFn: (() => boolean) | undefined = undefined
  private inFlightFn: (() => number) | undefined = undefined
  private groupsFn: (() => ReadonlyArray<string>) | undefined = undefined
  private readonly success: { readonly _tag: "Success"; value: Res } = { _tag: "Success", value: undefined as Res }
  /** True while a handler is evaluated in place: when `startTls` may be called. */
  private evaluating = false
  /** A STARTTLS upgrade asked for by a handler, until it is over. */
  private tlsUpgrade: TlsUpgrade | undefined = undefined
  /** What the pump reads through (set by the server): what an upgrade resets. */
  private framed: Framed.Framed<Incoming<Req, OneWay>, never> | undefined = undefined

  constructor(
    readonly connection: Connection,
    private readonly config: EngineConfig<Req, Res, OneWay, Push>,
    private readonly makeCodec: (session: Session<Push>) => ServerCodec<Req, Res, Err, OneWay, Push>
  ) {
    this.id = connection.id
    this.remoteAddress = connection.remoteAddress
    this.localAddress = connection.localAddress
    this.protocol = config.protocol
    this.codec = makeCodec(this)
    this.writer = new Writer(connection, this.codec.flush)
    this.input = inputCodec(config.protocol, () => this.codec.decoder)
    const base = {
      session: this as Session<Push>,
      groups: config.groups,
      protocol: config.protocol,
      describe: config.describe
    }
    this.requestContext = { kind: "request", ...base, trace: undefined, headers: NO_HEADERS, receivedAt: 0 }
    this.oneWayContext = { kind: "oneway", ...base, trace: undefined, headers: NO_HEADERS, receivedAt: 0 }
  }

  /** Starts serving: `runtime` runs the handlers (it carries the Session and the user's services). */
  start(runtime: Runtime.Runtime<never>): void {
    this.runtime = runtime
    this.inline = new InlineHost(runtime)
  }

  /** The framed connection the pump reads (`startTls` resets its decoder). */
  readThrough(framed: Framed.Framed<Incoming<Req, OneWay>, never>): void {
    this.framed = framed
  }

  // ---- Session ------------------------------------------------------------

  // the Session's functions and Effects are made on first use: a connection
  // waiting for its peer (most of them, on a busy server) holds none of them
  get isOpen(): () => boolean {
    return this.isOpenFn ??= () => this.mode < CLOSING
  }

  get inFlight(): () => number {
    return this.inFlightFn ??= () => this.inFlightCount
  }

  get groups(): () => ReadonlyArray<string> {
    return this.groupsFn ??= () => this.config.groups.of(this)
  }

  get<A>(state: SessionState<A>): A {
    const values = this.values ??= new Map()
    const value = values.get(state)
    if (value !== undefined || values.has(state)) return value as A
    const initial = state.initial()
    values.set(state, initial)
    return initial
  }

  set<A>(state: SessionState<A>, value: A): void {
    ;(this.values ??= new Map()).set(state, value)
  }

  unsafePush(message: Push): boolean {
    if (this.mode >= CLOSING) return false
    if (this.connection.unsafeStats().writeBuffered + this.writer.out.length > this.config.maxWriteBuffer) {
      this.log("warning", "slow consumer: closing the connection (unsent bytes over maxWriteBuffer)")
      this.abort()
      return false
    }
    const error = this.codec.encodePush(message, this.writer.out)
    if (error !== undefined) {
      this.log("error", `push not sent: ${error.message}`)
      return false
    }
    this.writer.sent()
    return true
  }

  push(message: Push): Effect.Effect<boolean> {
    return Effect.sync(() => this.unsafePush(message))
  }

  unsafeClose(): void {
    this.closeGracefully()
  }

  startTls(options: TlsServerOptions): Effect.Effect<void, TlsError> {
    return Effect.suspend(() => {
      const refuse = (code: string, detail: string) =>
        Effect.fail(new TlsError({ reason: "Other", side: "server", address: this.remoteAddress, code, detail }))
      if (this.tlsUpgrade !== undefined || this.connection.tls !== undefined) {
        return refuse("EALREADY", "the connection already speaks TLS, or is being upgraded")
      }
      if (this.mode !== OPEN) return refuse("ENOTCONN", "the connection is closing")
      if (!this.evaluating) {
        return refuse(
          "EINVAL",
          "Session.startTls must be called by a handler before it first waits: later messages may have been handled since"
        )
      }
      if (this.framed === undefined || !canStartTls(this.connection)) {
        return refuse("ENOTSUP", "this transport cannot upgrade a connection to TLS (STARTTLS)")
      }
      this.tlsUpgrade = { options, started: false, done: false, waiter: undefined }
      return Effect.void
    })
  }

  get close(): Effect.Effect<void> {
    return this.closeEffect ??= Effect.suspend(() => {
      this.closeGracefully()
      return this.awaitClosed
    })
  }

  // ---- reading -------------------------------------------------------------

  /** The `Framed.pump` callback: every message of a read batch. */
  onFrames(frames: ReadonlyArray<Incoming<Req, OneWay>>): Effect.Effect<void> | undefined {
    this.writer.beginBatch()
    const next = this.process(frames, 0)
    if (next === undefined) this.writer.endBatch()
    return next
  }

  /**
   * Handles `frames[from..]`. Returns an Effect when the pump must wait for
   * a free slot (maxInFlight reached: reading stops); the Effect then goes on
   * with the rest of the batch. The responses of handlers that complete
   * without waiting leave in one write per batch.
   */
  private process(frames: ReadonlyArray<Incoming<Req, OneWay>>, from: number): Effect.Effect<void> | undefined {
    const max = this.config.maxInFlight
    // one clock reading per batch: what middleware measures durations from
    const now = performance.now()
    this.requestContext.receivedAt = now
    this.oneWayContext.receivedAt = now
    for (let i = from; i < frames.length; i++) {
      if (this.mode >= CLOSING) return undefined
      if (this.inFlightCount >= max) {
        this.writer.endBatch()
        const rest = frames.slice(i)
        return Effect.flatMap(this.awaitSlot, () => this.continueWith(rest))
      }
      this.handleMessage(frames[i]!)
      if (this.tlsUpgrade !== undefined) return this.upgradeAfter(frames.length - i - 1)
      if (this.writer.out.length >= FLUSH_AT && i + 1 < frames.length) {
        // a read batch of small requests can ask for far more output than it
        // holds: write what is ready, and when the peer is not taking it, the
        // rest of the batch waits (reading has stopped: the batch is bounded)
        this.writer.flush()
        if (this.writer.blocked) {
          this.writer.endBatch()
          const rest = frames.slice(i + 1)
          return Effect.flatMap(this.awaitOutput, () => this.continueWith(rest))
        }
      }
    }
    return undefined
  }

  // ---- STARTTLS ------------------------------------------------------------

  /**
   * A handler asked for TLS: the `rest` messages of the batch came in plain
   * text after the upgrade command and are dropped. The pump waits (reading
   * stops) until the upgrade is over; it starts once nothing is in flight.
   */
  private upgradeAfter(rest: number): Effect.Effect<void> {
    if (rest > 0) {
      this.log("warning", `STARTTLS: discarded ${rest} message(s) received in plain text after the upgrade command`)
    }
    this.writer.endBatch()
    this.startTlsIfIdle()
    return this.awaitTls
  }

  private get awaitTls(): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const upgrade = this.tlsUpgrade
      if (upgrade === undefined || upgrade.done || this.mode === CLOSED) return resume(Effect.void)
      upgrade.waiter = () => resume(Effect.void)
      return Effect.sync(() => {
        upgrade.waiter = undefined
      })
    })
  }

  /**
   * Starts the asked-for upgrade once every earlier message is answered:
   * the replies are written in plain text, and in the same turn the
   * connection stops reading (so the peer's handshake, sent once it has read
   * them, is not taken for plain text), then the handshake runs on a fiber.
   */
  private startTlsIfIdle(): void {
    const upgrade = this.tlsUpgrade
    if (upgrade === undefined || upgrade.started || this.inFlightCount > 0 || this.framed === undefined) return
    if (this.mode >= CLOSING) return this.endTls(upgrade)
    upgrade.started = true
    this.writer.flush()
    // the protocol starts over, as on a new connection: the pump's decoder is the new codec's
    this.codec = this.makeCodec(this)
    this.writer.beforeFlush = this.codec.flush
    const fiber = Runtime.runFork(this.runtime!, Effect.exit(this.framed.startTls({ server: upgrade.options })))
    const running = this.running ??= new Set()
    running.add(fiber)
    fiber.addObserver((exit) => {
      running.delete(fiber)
      const outcome = exit._tag === "Success" ? exit.value : exit
      if (outcome._tag === "Failure" && !Cause.isInterruptedOnly(outcome.cause)) {
        // the connection is reset: the pump ends with its error and the connection closes
        this.runLog(
          Effect.logDebug("STARTTLS: the TLS handshake failed; connection closed", Cause.squash(outcome.cause))
        )
      }
      this.endTls(upgrade)
    })
  }

  private endTls(upgrade: TlsUpgrade): void {
    upgrade.done = true
    if (this.tlsUpgrade === upgrade) this.tlsUpgrade = undefined
    const w = upgrade.waiter
    if (w !== undefined) {
      upgrade.waiter = undefined
      w()
    }
  }

  /** Until the connection takes writes again (a write error ends the wait: the close follows). */
  private get awaitOutput(): Effect.Effect<void> {
    return this.awaitOutputEffect ??= Effect.ignore(Effect.suspend(() => this.connection.awaitWritable))
  }

  /** Goes on with the frames left over after a slot wait. */
  private continueWith(rest: ReadonlyArray<Incoming<Req, OneWay>>): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.writer.beginBatch()
      const next = this.process(rest, 0)
      if (next !== undefined) return next
      this.writer.endBatch()
      return Effect.void
    })
  }

  private get awaitSlot(): Effect.Effect<void> {
    return this.awaitSlotEffect ??= Effect.async<void>((resume) => {
      if (this.inFlightCount < this.config.maxInFlight || this.mode >= CLOSING) return resume(Effect.void)
      this.slotWaiter = () => resume(Effect.void)
      return Effect.sync(() => {
        this.slotWaiter = undefined
      })
    })
  }

  private handleMessage(message: Incoming<Req, OneWay>): void {
    const stats = this.config.stats
    switch (message._tag) {
      case "Request": {
        stats.requests++
        if (this.mode !== OPEN) {
          stats.refused++
          this.respond(message.id, SHUTTING_DOWN, undefined, message.request)
          return
        }
        return this.run(message.request, message.id, true, message.meta)
      }
      case "OneWay": {
        stats.oneWays++
        if (this.mode !== OPEN) return
        return this.run(message.message, undefined, false, undefined)
      }
      case "Ack": {
        const state = this.streams?.get(message.id)
        if (state === undefined) return
        state.credit += message.n
        const wake = state.wake
        if (wake !== undefined) {
          state.wake = undefined
          wake()
        }
        return
      }
      case "Cancel": {
        const fiber = this.runningById?.get(message.id)
        if (fiber === undefined) return // answered already (or never asked)
        this.runningById!.delete(message.id)
        const cancelled = this.cancelled ??= new Set()
        cancelled.add(fiber)
        fiber.unsafeInterruptAsFork(fiber.id())
        return
      }
      case "Invalid": {
        stats.badInput++
        if (message.oneWay) {
          // nothing goes back to the peer: the log is the only trace (a few lines per connection, not a flood)
          const n = ++this.badOneWays
          if (n <= MAX_BAD_ONE_WAY_LOGS) this.log("warning", `one-way message dropped: ${message.error.message}`)
          if (n === MAX_BAD_ONE_WAY_LOGS) {
            this.log("warning", "further bad one-way messages of this connection are counted, not logged")
          }
        } else {
          this.log("debug", `bad input: ${message.error.message}`)
        }
        if (this.config.onBadInput === "close") this.closeGracefully()
        else if (!message.oneWay) {
          this.respond(message.id, { _tag: "Fault", fault: message.error }, undefined, undefined)
        }
        return
      }
    }
  }

  // ---- running handlers ------------------------------------------------------

  /**
   * Runs the handler of a request (or one-way message): evaluated at once,
   * without a fiber (see `internal/inline.ts`); answered now if it completed,
   * else its waiting rest runs on a fiber and is answered when that ends.
   */
  private run(input: unknown, id: number | undefined, isRequest: boolean, meta: RequestMeta | undefined): void {
    const handler = isRequest ? this.config.onRequest : this.config.onOneWay
    if (handler === undefined) {
      this.log("warning", "one-way message dropped: no one-way handler")
      return
    }
    // in flight while the handler runs: a handler that closes its session (QUIT,
    // a failed handshake) must still have its own answer sent before the close
    this.inFlightCount++
    let result: Exit.Exit<unknown, unknown> | Suspended
    const context = isRequest ? this.requestContext : this.oneWayContext
    if (meta !== undefined) {
      context.trace = meta.trace
      context.headers = meta.headers ?? NO_HEADERS
    }
    this.evaluating = true
    try {
      const effect = handler(input as any, context)
      result = Exit.isExit(effect) ? effect : this.inline!.evaluate(effect)
    } catch (defect) {
      result = Exit.die(defect)
    } finally {
      this.evaluating = false
    }
    if (meta !== undefined) {
      context.trace = undefined
      context.headers = NO_HEADERS
    }
    this.inFlightCount--
    if (!(result instanceof Suspended)) {
      this.config.stats.inlined++
      if (isRequest && result._tag === "Success" && this.isStream(input)) {
        this.startStream(id, input as Req, result.value)
      } else if (isRequest) this.respond(id, this.outcomeOf(result, input), undefined, input as Req)
      else this.settleOneWay(result, input)
      if (this.mode !== OPEN) this.afterSettle()
      return
    }
    this.config.stats.forked++
    const slot = isRequest && this.config.inOrder ? this.allocSlot(id) : undefined
    if (slot === undefined) this.inFlightCount++
    const fiber = Runtime.runFork(result.runtime, this.timed(result.effect))
    this.track(fiber, slot, id, input, isRequest)
  }

  private track(
    fiber: Fiber.RuntimeFiber<any, any>,
    slot: Slot | undefined,
    id: number | undefined,
    input: unknown,
    isRequest: boolean
  ): void {
    const running = this.running ??= new Set()
    running.add(fiber)
    const byId = isRequest && id !== undefined && !this.config.inOrder
    if (byId) (this.runningById ??= new Map()).set(id, fiber)
    fiber.addObserver((exit) => {
      running.delete(fiber)
      if (byId && this.runningById!.get(id) === fiber) this.runningById!.delete(id)
      if (slot === undefined) this.inFlightCount--
      if (this.cancelled !== undefined && this.cancelled.delete(fiber)) {
        // the client gave up on it: nothing to send
        this.config.stats.cancelled++
        return this.afterSettle()
      }
      if (this.mode === CLOSED) return
      if (exit._tag === "Failure" && this.timeoutError !== undefined && isTimeout(exit.cause, this.timeoutError)) {
        this.config.stats.timeouts++
        if (!isRequest) {
          this.log("warning", `one-way handler timed out after ${this.config.requestTimeout}ms`, input)
          return this.afterSettle()
        }
      }
      if (isRequest && exit._tag === "Success" && this.isStream(input)) this.startStream(id, input as Req, exit.value)
      else if (isRequest) this.respond(id, this.outcomeOf(exit, input), slot, input as Req)
      else this.settleOneWay(exit, input)
      this.afterSettle()
    })
  }

  // ---- streaming responses -------------------------------------------------

  private isStream(request: unknown): boolean {
    const streams = this.codec.streams
    return streams !== undefined && streams.isStream(request as Req)
  }

  /**
   * Sends the items of a streaming handler's `Stream` as chunks, at most
   * `STREAM_WINDOW` ahead of the client's acks and never past the write
   * high-water mark, then its end (or its failure as the request's
   * response). It counts as in flight until then; a `Cancel` interrupts it.
   */
  private startStream(id: number | undefined, request: Req, value: unknown): void {
    const codec = this.codec.streams!
    if (id === undefined || typeof value !== "object" || value === null || !(Stream.StreamTypeId in value)) {
      this.config.stats.defects++
      this.log("error", "a streaming method's handler must return a Stream", request)
      return this.respond(id, INTERNAL, undefined, request)
    }
    const state: StreamState = { credit: STREAM_WINDOW, wake: undefined }
    const streams = this.streams ??= new Map()
    streams.set(id, state)
    this.inFlightCount++
    const awaitCredit = Effect.async<void>((resume) => {
      if (state.credit > 0 || this.mode === CLOSED) return resume(Effect.void)
      state.wake = () => resume(Effect.void)
      return Effect.sync(() => {
        state.wake = undefined
      })
    })
    const writable = Effect.ignore(Effect.suspend(() => this.connection.awaitWritable))
    const send = (items: ReadonlyArray<unknown>, from: number): Effect.Effect<void, ProtocolError> =>
      Effect.suspend(() => {
        for (let i = from; i < items.length; i += STREAM_CHUNK_ITEMS) {
          if (this.mode === CLOSED) return Effect.interrupt
          if (state.credit <= 0) return Effect.zipRight(awaitCredit, send(items, i))
          state.credit--
          const part = i === 0 && items.length <= STREAM_CHUNK_ITEMS ? items : items.slice(i, i + STREAM_CHUNK_ITEMS)
          const error = codec.encodeChunk(id, part, request, this.writer.out)
          if (error !== undefined) {
            this.log("error", `stream item not encoded: ${error.message}`, request)
            return Effect.fail(new ProtocolError({ reason: "Internal", detail: "a stream item could not be encoded" }))
          }
          this.writer.sent()
        }
        return this.writer.blocked ? writable : Effect.void
      })
    const run = Stream.runForEachChunk(
      value as Stream.Stream<unknown, unknown>,
      (chunk) => send(Chunk.toReadonlyArray(chunk), 0)
    )
    const fiber = Runtime.runFork(this.runtime!, run)
    const running = this.running ??= new Set()
    const runningById = this.runningById ??= new Map()
    running.add(fiber)
    runningById.set(id, fiber)
    fiber.addObserver((exit) => {
      running.delete(fiber)
      if (runningById.get(id) === fiber) runningById.delete(id)
      streams.delete(id)
      this.inFlightCount--
      if (this.cancelled !== undefined && this.cancelled.delete(fiber)) {
        this.config.stats.cancelled++
        return this.afterSettle()
      }
      if (this.mode === CLOSED) return
      if (exit._tag === "Success") {
        this.config.stats.successes++
        if (!this.discarding && codec.encodeEnd(id, this.writer.out) === undefined) this.writer.sent()
      } else {
        this.respond(id, this.outcomeOf(exit, request), undefined, request)
      }
      this.afterSettle()
    })
  }

  /**
   * The rest of a handler that waits, bound by the request timeout. Only
   * requests that wait pay for the timer (through the Clock: tests drive it).
   */
  private timed(rest: Effect.Effect<unknown, unknown>): Effect.Effect<unknown, unknown> {
    const timeout = this.config.requestTimeout
    if (timeout === undefined) return rest
    const error = this.timeoutError ??= new ProtocolError({
      reason: "Timeout",
      detail: `no response within ${timeout}ms`
    })
    return Effect.timeoutFail(rest, { duration: timeout, onTimeout: () => error })
  }

  private outcomeOf(exit: Exit.Exit<unknown, unknown>, input: unknown): Outcome<Res, Err> | undefined {
    const stats = this.config.stats
    if (exit._tag === "Success") {
      stats.successes++
      // one mutable object per connection: an outcome is encoded at once and never kept
      const success = this.success
      success.value = exit.value as Res
      return success
    }
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "Some") {
      const error = failure.value
      if (error instanceof ProtocolError) {
        stats.faults++
        return { _tag: "Fault", fault: error }
      }
      stats.failures++
      return { _tag: "Failure", error: error as Err }
    }
    if (Cause.isInterruptedOnly(exit.cause)) {
      stats.faults++
      return this.mode === OPEN ? INTERNAL : SHUTTING_DOWN
    }
    stats.defects++
    this.logDefect(exit.cause, input)
    if (this.config.onDefect === "close") return undefined
    return INTERNAL
  }

  private settleOneWay(exit: Exit.Exit<unknown, unknown>, input: unknown): void {
    if (exit._tag === "Success") return
    if (!Cause.isFailure(exit.cause) && !Cause.isDie(exit.cause)) return
    if (Cause.isDie(exit.cause)) {
      this.config.stats.defects++
      this.logDefect(exit.cause, input)
      if (this.config.onDefect === "close") this.closeGracefully()
      return
    }
    this.config.stats.failures++
    this.logCause("warning", "one-way handler failed", exit.cause, input)
  }

  // ---- writing responses -----------------------------------------------------

  private allocSlot(id: number | undefined): Slot {
    const slot: Slot = { id, frame: undefined, done: false, close: false }
    this.queue.push(slot)
    this.inFlightCount++
    return slot
  }

  /**
   * Sends the outcome of request `id`: into its slot (inOrder, when it had
   * one), behind the pending slots (inOrder), or at once. `undefined`: close
   * the connection (defect with policy "close").
   */
  private respond(
    id: number | undefined,
    outcome: Outcome<Res, Err> | undefined,
    slot: Slot | undefined,
    request: Req | undefined
  ): void {
    if (slot === undefined && this.config.inOrder && this.head < this.queue.length) slot = this.allocSlot(id)
    if (slot !== undefined) {
      // answered out of turn: encoded now (outcomes are not kept), written in turn
      let bytes: Uint8Array | undefined
      if (outcome !== undefined) {
        const held = ByteBuffer.make(256)
        if (this.encodeInto(id, outcome, held, request)) {
          this.codec.flush?.(held)
          bytes = held.take()
        }
      }
      slot.frame = bytes
      slot.done = true
      if (bytes === undefined) slot.close = true
      return this.drainQueue()
    }
    if (outcome === undefined) return this.closeGracefully()
    if (this.discarding) return
    if (!this.encodeInto(id, outcome, this.writer.out, request)) return this.closeGracefully()
    this.writer.sent()
  }

  /**
   * Encodes the outcome into `out`. A response that cannot be encoded or
   * framed is answered with an `Internal` fault instead; `false` when not
   * even that can be written (the connection is then closed).
   */
  private encodeInto(
    id: number | undefined,
    outcome: Outcome<Res, Err>,
    out: ByteBuffer.ByteBuffer,
    request: Req | undefined
  ): boolean {
    const error = this.codec.encodeResponse(id, outcome, out, request)
    if (error === undefined) return true
    if (outcome._tag !== "Fault") {
      if (error._tag === "FramingError") {
        this.log("error", `response not framed: ${error.message}`)
        return this.encodeInto(
          id,
          {
            _tag: "Fault",
            fault: new ProtocolError({ reason: "Internal", detail: `response not framed: ${error.reason}` })
          },
          out,
          request
        )
      }
      this.log("error", `response not encoded: ${error.message}`)
      return this.encodeInto(id, ENCODE_FAILED, out, request)
    }
    this.log("error", `fault response not encoded (closing the connection): ${error.message}`)
    return false
  }

  private drainQueue(): void {
    const queue = this.queue
    while (this.head < queue.length) {
      const slot = queue[this.head]!
      if (!slot.done) break
      queue[this.head++] = undefined
      this.inFlightCount--
      if (slot.frame !== undefined && !this.discarding) {
        this.writer.out.writeBytes(slot.frame)
        this.writer.sent()
      }
      if (slot.close) {
        // later responses must not be taken for the answer to this one: the peer sees the close instead
        this.discarding = true
        this.closeGracefully()
      }
    }
    if (this.head === queue.length) {
      queue.length = 0
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head)
      this.head = 0
    }
    this.afterSettle()
  }

  private afterSettle(): void {
    if (this.inFlightCount < this.config.maxInFlight) {
      const w = this.slotWaiter
      if (w !== undefined) {
        this.slotWaiter = undefined
        w()
      }
    }
    if (this.inFlightCount === 0) {
      if (this.mode === CLOSING) this.finishClose()
      else if (this.mode === DRAINING) this.closeWhenQuiet()
      if (this.tlsUpgrade !== undefined) this.startTlsIfIdle()
    }
  }

  private quietTimer: Fiber.RuntimeFiber<void> | undefined

  /**
   * Draining with nothing in flight: requests the peer sent before it saw
   * the notice may still be on the way (pipelined, in the socket), and each
   * must get its `ShuttingDown` refusal rather than a silent close. So the
   * connection closes once no byte has arrived for {@link DRAIN_QUIET} ms
   * (the shutdown deadline still closes it first if the peer keeps sending).
   */
  private closeWhenQuiet(): void {
    if (this.quietTimer !== undefined || this.runtime === undefined) return
    const bytesBefore = this.connection.unsafeStats().bytesRead
    this.quietTimer = Runtime.runFork(this.runtime, Effect.sleep(DRAIN_QUIET))
    this.quietTimer.addObserver(() => {
      this.quietTimer = undefined
      if (this.mode !== DRAINING || this.inFlightCount > 0) return
      if (this.connection.unsafeStats().bytesRead === bytesBefore) this.finishClose()
      else this.closeWhenQuiet()
    })
  }

  // ---- lifecycle -----------------------------------------------------------

  /** Shutdown started: tell the peer (if the protocol can), refuse new requests, close once idle. */
  drain(): void {
    if (this.mode !== OPEN) return
    this.mode = DRAINING
    const encodeDraining = this.codec.encodeDraining
    if (encodeDraining !== undefined && encodeDraining(this.writer.out) === undefined) this.writer.sent()
    if (this.inFlightCount === 0) this.closeWhenQuiet()
  }

  /** Stop reading; close once what is in flight has been answered. */
  closeGracefully(): void {
    if (this.mode >= CLOSING) return
    this.mode = CLOSING
    const w = this.slotWaiter
    if (w !== undefined) {
      this.slotWaiter = undefined
      w()
    }
    if (this.inFlightCount === 0) this.finishClose()
  }

  /** Flush and close the connection now (what is still running is left to the caller to interrupt). */
  finishClose(): void {
    if (this.mode === CLOSED) return
    this.mode = CLOSED
    const quiet = this.quietTimer
    if (quiet !== undefined) {
      this.quietTimer = undefined
      quiet.unsafeInterruptAsFork(quiet.id())
    }
    const w = this.slotWaiter
    if (w !== undefined) {
      this.slotWaiter = undefined
      w()
    }
    this.writer.flush()
    Effect.runFork(this.connection.close)
    const ws = this.closedWaiters
    this.closedWaiters = []
    for (const f of ws) f()
    if (this.tlsUpgrade !== undefined && !this.tlsUpgrade.started) this.endTls(this.tlsUpgrade)
  }

  // ---- the watchdog's view (internal/watch.ts) --------------------------------

  busy(): boolean {
    return this.inFlightCount > 0
  }

  incomplete(): number {
    return this.codec.decoder.buffered
  }

  idle(): void {
    this.log("debug", "idle: closing the connection")
    this.closeGracefully()
  }

  slow(detail: string): void {
    this.config.stats.slowReads++
    this.log("warning", `slow peer: closing the connection: ${detail}`)
    this.closeGracefully()
  }

  /** Reset the connection (slow consumer). */
  abort(): void {
    this.mode = CLOSED
    Effect.runFork(this.connection.abort)
    const ws = this.closedWaiters
    this.closedWaiters = []
    for (const f of ws) f()
    if (this.tlsUpgrade !== undefined && !this.tlsUpgrade.started) this.endTls(this.tlsUpgrade)
  }

  /** Completes once the engine has closed the connection (or started to). */
  get awaitClosed(): Effect.Effect<void> {
    return this.awaitClosedEffect ??= Effect.async<void>((resume) => {
      if (this.mode === CLOSED) return resume(Effect.void)
      this.closedWaiters.push(() => resume(Effect.void))
    })
  }

  /** The pump ended (peer FIN, reset or bad framing): serve what is in flight, then close. */
  ended(): void {
    this.closeGracefully()
  }

  /**
   * The peer is gone (reset, read error): nobody will read an answer, so the
   * handlers still running are interrupted now (their finalizers run) and the
   * connection is closed.
   */
  get dropped(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const fibers = this.running === undefined ? [] : [...this.running]
      this.finishClose()
      return fibers.length === 0 ? Effect.void : Fiber.interruptAll(fibers)
    })
  }

  /** Interrupts every handler still running (waits for them). */
  get interruptAll(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.mode = CLOSED
      this.inline?.close()
      const running = this.running
      if (running === undefined || running.size === 0) return Effect.void
      const fibers = [...running]
      running.clear()
      return Fiber.interruptAll(fibers)
    })
  }

  /** Sends a fault that no request asked for (bad framing), in its in-order place. */
  respondFault(fault: ProtocolError): void {
    if (this.mode >= CLOSING) return
    this.respond(undefined, { _tag: "Fault", fault }, undefined, undefined)
    this.writer.flush()
  }

  // ---- logging -------------------------------------------------------------

  private log(level: "debug" | "warning" | "error", message: string, input?: unknown): void {
    const effect = level === "debug"
      ? Effect.logDebug(message)
      : level === "warning"
      ? Effect.logWarning(message)
      : Effect.logError(message)
    this.runLog(input === undefined ? effect : Effect.annotateLogs(effect, "method", this.config.describe(input)))
  }

  private logDefect(cause: Cause.Cause<unknown>, input: unknown): void {
    this.logCause("error", "handler died", cause, input)
  }

  private logCause(level: "warning" | "error", message: string, cause: Cause.Cause<unknown>, input: unknown): void {
    const effect = (level === "warning" ? Effect.logWarning(message, cause) : Effect.logError(message, cause)).pipe(
      Effect.annotateLogs("method", this.config.describe(input))
    )
    this.runLog(effect)
  }

  private runLog(effect: Effect.Effect<void>): void {
    if (this.runtime !== undefined) Runtime.runFork(this.runtime, effect)
    else Effect.runFork(effect)
  }
}
