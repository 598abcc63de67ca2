import {
  Clock,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Fiber,
  Runtime,
  Scope
} from "effect"
import type { Address, TcpAddress } from "../Address.ts"
import { format, isTcp, tcp } from "../Address.ts"
import { EOF } from "../Connection.ts"
import type { Connection } from "../Connection.ts"
import * as Framed from "../Framed.ts"
import * as Lines from "../Lines.ts"
import type { Listener, TransportService } from "../Transport.ts"
import { Transport } from "../Transport.ts"
import type { Options, Platform, ProcessExit, Supervisor, WorkerProcess, WorkerState, WorkerStats } from "../Workers.ts"

// ---------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------

/** Which worker this process is. */
export interface WorkerInfo {
  readonly id: number
  readonly count: number
  readonly single: boolean
}

export const WorkerInfo: Context.Tag<WorkerInfo, WorkerInfo> = Context.GenericTag<WorkerInfo>(
  "@wirekit/core/Workers/WorkerInfo"
)

export const single: WorkerInfo = { id: 1, count: 1, single: true }

export type WorkersErrorReason = "BadOptions" | "Spawn" | "Control" | "StartFailed" | "NotReady" | "TooManyRestarts"

export class WorkersError extends Data.TaggedError("WorkersError")<{
  readonly reason: WorkersErrorReason
  readonly worker?: number | undefined
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `workers: ${this.reason}${this.worker !== undefined ? ` (worker ${this.worker})` : ""}: ${this.detail}`
  }
}

export const defaults = {
  readyTimeout: Duration.seconds(30),
  shutdownTimeout: Duration.seconds(30),
  restartDelay: Duration.millis(100),
  maxRestartDelay: Duration.seconds(10),
  maxRestartsPerMinute: 10,
  maxWorkers: 1024
} as const

// ---------------------------------------------------------------------------
// the control channel: one line of JSON per message, each way
// ---------------------------------------------------------------------------

/** The environment a primary hands its workers. */
export const env = {
  id: "WIREKIT_WORKER_ID",
  count: "WIREKIT_WORKER_COUNT",
  generation: "WIREKIT_WORKER_GENERATION",
  control: "WIREKIT_WORKERS_CONTROL",
  token: "WIREKIT_WORKERS_TOKEN",
  ports: "WIREKIT_WORKERS_PORTS"
} as const

type ToPrimary =
  | {
    readonly t: "hello"
    readonly id: number
    readonly generation: number
    readonly token: string
    readonly pid: number
  }
  | { readonly t: "listening"; readonly index: number; readonly port: number }
  | { readonly t: "ready" }
  | { readonly t: "stats"; readonly seq: number; readonly stats: WorkerStats }

type ToWorker = { readonly t: "drain" } | { readonly t: "stats"; readonly seq: number }

/** A control line holds one small message: anything longer is a broken or hostile peer. */
const maxControlLine = 64 * 1024
const helloTimeout = Duration.seconds(10)
const statsTimeout = Duration.seconds(2)
/** After the deadline the stragglers get SIGKILL; this bounds the wait for their exit. */
const killWait = Duration.seconds(5)
/** A worker that served this long since ready was not crash-looping: its backoff starts over. */
const stableAfterMs = 60_000

const encoder = new TextEncoder()
const encode = (message: ToPrimary | ToWorker): Uint8Array => encoder.encode(JSON.stringify(message))
const decodeLine = (line: Uint8Array): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(line))
    return typeof value === "object" && value !== null ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}
const isInt = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u)

const controlFraming = () => Lines.make({ delimiter: "lf", maxLength: maxControlLine })

/** A control message's longest wait for a peer that does not read. */
const sendTimeout = Duration.seconds(5)

/**
 * Sends a message; a control connection that is gone is not an error here (its
 * reader sees the close). Bounded, and interruptible even from a finalizer:
 * the shutdown's drain orders must not hang on a worker that stopped reading.
 */
const sendOn = (framed: Framed.Framed, message: ToPrimary | ToWorker) =>
  Effect.ignore(Effect.timeout(Effect.interruptible(framed.send(encode(message))), sendTimeout))

const randomToken = (): string => {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
}

const describeExit = (exit: ProcessExit) => exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code}`

// ---------------------------------------------------------------------------
// run: the entry point, in every process
// ---------------------------------------------------------------------------

export const run = <A, E, R>(
  platform: Platform,
  program: Effect.Effect<A, E, R>,
  options: Options
): Effect.Effect<void, E | WorkersError, Exclude<R, WorkerInfo> | Transport> =>
  Effect.suspend(() => {
    if (platform.env(env.id) !== undefined) return worker(platform, program)
    const n = options.workers
    if (!Number.isSafeInteger(n) || n < 1 || n > defaults.maxWorkers) {
      return Effect.fail(
        new WorkersError({
          reason: "BadOptions",
          detail: `workers must be an integer from 1 to ${defaults.maxWorkers} (got ${n})`
        })
      )
    }
    if (n === 1) {
      return Effect.asVoid(Effect.provideService(program, WorkerInfo, single)) as Effect.Effect<
        void,
        E,
        Exclude<R, WorkerInfo>
      >
    }
    return primary(platform, options)
  })

// ---------------------------------------------------------------------------
// worker side
// ---------------------------------------------------------------------------

interface WorkerEnv {
  readonly id: number
  readonly count: number
  readonly generation: number
  readonly control: TcpAddress
  readonly token: string
  readonly ports: ReadonlyArray<number | undefined>
}

const readWorkerEnv = (platform: Platform): WorkerEnv | undefined => {
  const id = Number(platform.env(env.id))
  const count = Number(platform.env(env.count))
  const generation = Number(platform.env(env.generation) ?? "1")
  const control = platform.env(env.control) ?? ""
  const token = platform.env(env.token) ?? ""
  const colon = control.lastIndexOf(":")
  const port = Number(control.slice(colon + 1))
  if (
    !isInt(id) || !isInt(count) || id < 1 || id > count || !isInt(generation) || colon < 1 || !isInt(port) ||
    token === ""
  ) return undefined
  const ports = (platform.env(env.ports) ?? "").split(",").map((p) => (p === "" ? undefined : Number(p)))
  return { id, count, generation, control: tcp(control.slice(0, colon), port), token, ports }
}

const worker = <A, E, R>(
  platform: Platform,
  program: Effect.Effect<A, E, R>
): Effect.Effect<void, E | WorkersError, Exclude<R, WorkerInfo> | Transport> =>
  Effect.gen(function*() {
    const we = readWorkerEnv(platform)
    if (we === undefined) {
      return yield* new WorkersError({
        reason: "Control",
        detail: `this process has ${env.id} but not a valid worker environment`
      })
    }
    const transport = yield* Transport
    const info: WorkerInfo = { id: we.id, count: we.count, single: false }
    yield* Effect.scoped(Effect.gen(function*() {
      const conn = yield* platform.control.connect(we.control, { timeout: Duration.toMillis(helloTimeout) }).pipe(
        Effect.mapError((cause) =>
          new WorkersError({
            reason: "Control",
            worker: we.id,
            detail: `cannot reach the primary at ${format(we.control)}`,
            cause
          })
        )
      )
      const framed = Framed.make(conn, controlFraming())
      yield* sendOn(framed, { t: "hello", id: we.id, generation: we.generation, token: we.token, pid: platform.pid })
      const startedAt = yield* Clock.currentTimeMillis
      const listeners: Array<Listener> = []
      let tcpListens = 0
      let ready = false
      const listen: TransportService["listen"] = (address, options) =>
        Effect.suspend(() => {
          const index = isTcp(address) ? tcpListens++ : -1
          // only where every worker has its own socket: under node:cluster the primary already shares one
          const shared = platform.reusePort && index >= 0 && isTcp(address) && address.port === 0
            ? we.ports[index]
            : undefined
          const target: Address = shared !== undefined && isTcp(address) ? tcp(address.host, shared) : address
          const withReuse = platform.reusePort && index >= 0 ? { ...options, reusePort: true } : options
          return Effect.tap(transport.listen(target, withReuse), (listener) =>
            Effect.suspend(() => {
              listeners.push(listener)
              const messages: Array<ToPrimary> = []
              if (index >= 0 && isTcp(listener.address)) {
                messages.push({ t: "listening", index, port: listener.address.port })
              }
              if (!ready) {
                ready = true
                messages.push({ t: "ready" })
              }
              return Effect.forEach(messages, (m) => sendOn(framed, m), { discard: true })
            }))
        })
      const workerTransport: TransportService = { name: transport.name, connect: transport.connect, listen }
      const stats = Effect.map(Clock.currentTimeMillis, (now): WorkerStats => ({
        id: we.id,
        generation: we.generation,
        pid: platform.pid,
        uptime: now - startedAt,
        memory: platform.memory(),
        listening: listeners.map((l) => format(l.address)),
        rejected: listeners.reduce((n, l) => n + l.rejected(), 0)
      }))

      const fiber = yield* Effect.fork(
        program.pipe(Effect.provideService(WorkerInfo, info), Effect.provideService(Transport, workerTransport))
      )
      // the primary's orders; its close (the primary is gone) is an order to drain too
      const reader = yield* Effect.fork(Effect.gen(function*() {
        while (true) {
          const line = yield* Effect.orElseSucceed(framed.read, (): EOF => EOF)
          if (line === EOF) break
          const m = decodeLine(line)
          if (m?.t === "drain") break
          if (m?.t === "stats" && isInt(m.seq)) yield* sendOn(framed, { t: "stats", seq: m.seq, stats: yield* stats })
        }
        yield* Effect.logInfo("draining")
        yield* Fiber.interruptFork(fiber)
      }))
      const finish = Effect.gen(function*() {
        yield* Fiber.interruptFork(reader)
        const s = yield* stats
        yield* Effect.logInfo(
          `worker ${we.id} exiting after ${Math.round(s.uptime / 1000)}s: listened on ${
            s.listening.join(", ") || "nothing"
          }, ${s.rejected} connections rejected, ${Math.round(s.memory / 1048576)} MiB resident`
        )
      })
      // a signal of its own (Ctrl-C reaches every process of the group) interrupts this fiber: drain the program the same way
      const exit = yield* Fiber.await(fiber).pipe(
        Effect.onInterrupt(() => Effect.zipRight(Fiber.interrupt(fiber), finish))
      )
      yield* finish
      // interrupted by the primary's drain or by a signal: a clean stop
      if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) return yield* exit
    }))
  }).pipe(
    Effect.ensuring(Effect.sync(() => platform.release?.())),
    Effect.annotateLogs("worker", platform.env(env.id) ?? "?")
  ) as Effect.Effect<void, E | WorkersError, Exclude<R, WorkerInfo> | Transport>

// ---------------------------------------------------------------------------
// primary side: the supervisor
// ---------------------------------------------------------------------------

/** The primary's end of one worker's control connection. */
interface Link {
  readonly framed: Framed.Framed
  readonly pendingStats: Map<number, Deferred.Deferred<WorkerStats>>
}

/** One process started for a slot. */
interface Run {
  readonly slot: Slot
  readonly generation: number
  proc: WorkerProcess | undefined
  readonly ready: Deferred.Deferred<void, WorkersError>
  readonly exited: Deferred.Deferred<ProcessExit>
  link: Link | undefined
  readyAt: number | undefined
  /** Asked to stop (drain, rolling restart, shutdown): its exit is no crash. */
  stopping: boolean
  hasExited: boolean
}

/** A worker id and the process serving it. */
interface Slot {
  readonly id: number
  current: Run | undefined
  generations: number
  restarts: number
  /** When it was restarted, for the restarts-per-minute bound. */
  recent: Array<number>
  backoff: number
}

const primary = (platform: Platform, options: Options): Effect.Effect<void, WorkersError> =>
  Effect.scoped(Effect.gen(function*() {
    const supervisor = yield* supervise(platform, options)
    yield* supervisor.done
  })).pipe(Effect.annotateLogs("worker", "primary"))

/** Starts the workers; `done` ends when all stopped on their own, or fails on a crash loop. */
export const supervise = (
  platform: Platform,
  options: Options
): Effect.Effect<Supervisor & { readonly done: Effect.Effect<void, WorkersError> }, WorkersError, Scope.Scope> =>
  Effect.gen(function*() {
    const n = options.workers
    const readyTimeout = Duration.decode(options.readyTimeout ?? defaults.readyTimeout)
    const shutdownTimeout = Duration.decode(options.shutdownTimeout ?? defaults.shutdownTimeout)
    const restartDelay = Duration.toMillis(options.restartDelay ?? defaults.restartDelay)
    const maxRestartDelay = Duration.toMillis(options.maxRestartDelay ?? defaults.maxRestartDelay)
    const maxRestarts = options.maxRestartsPerMinute ?? defaults.maxRestartsPerMinute
    const scope = yield* Effect.scope
    const token = randomToken()
    const control = yield* platform.control.listen(tcp("127.0.0.1", 0)).pipe(
      Effect.mapError((cause) =>
        new WorkersError({ reason: "Control", detail: "cannot listen for the workers' control connections", cause })
      )
    )
    // the processes' watchers and control connections live until after the shutdown below
    const fibers = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    const runtime = yield* Effect.runtime<never>()
    const done = yield* Deferred.make<void, WorkersError>()
    const slots: Array<Slot> = Array.from(
      { length: n },
      (_, i) => ({ id: i + 1, current: undefined, generations: 0, restarts: 0, recent: [], backoff: restartDelay })
    )
    /** Every process alive: the current ones and old ones draining. */
    const live = new Set<Run>()
    /** Runs waiting for their control connection, by `id:generation`. */
    const expected = new Map<string, Run>()
    /** The ports worker 1 got for its port-0 listens, in listen order: the others listen on the same (reusePort). */
    const ports: Array<number | undefined> = []
    let starting = true
    let stopping = false
    const restartLock = yield* Effect.makeSemaphore(1)

    // ---- control connections
    const serveLink = (conn: Connection) =>
      Effect.gen(function*() {
        const framed = Framed.make(conn, controlFraming())
        const first = yield* Effect.orElseSucceed(Effect.timeout(framed.read, helloTimeout), (): EOF => EOF)
        const hello = first === EOF ? undefined : decodeLine(first)
        const run = hello?.t === "hello" && hello.token === token
          ? expected.get(`${hello.id}:${hello.generation}`)
          : undefined
        if (run === undefined) {
          yield* Effect.logWarning(
            `closing a control connection from ${
              conn.remoteAddress ? format(conn.remoteAddress) : "?"
            } without a valid hello`
          )
          return
        }
        expected.delete(`${run.slot.id}:${run.generation}`)
        const link: Link = { framed, pendingStats: new Map() }
        run.link = link
        while (true) {
          const line = yield* Effect.orElseSucceed(framed.read, (): EOF => EOF)
          if (line === EOF) break
          const m = decodeLine(line)
          if (m?.t === "listening" && isInt(m.index) && isInt(m.port) && m.index >= 0 && m.index < 64) {
            if (ports[m.index] === undefined) ports[m.index] = m.port
          } else if (m?.t === "ready") {
            const now = yield* Clock.currentTimeMillis
            run.readyAt = now
            yield* Effect.logInfo(`worker ${run.slot.id} ready (pid ${run.proc?.pid})`)
            yield* Deferred.succeed(run.ready, undefined)
          } else if (m?.t === "stats" && isInt(m.seq)) {
            const d = link.pendingStats.get(m.seq)
            link.pendingStats.delete(m.seq)
            if (d !== undefined) yield* Deferred.succeed(d, m.stats as WorkerStats)
          }
        }
        run.link = undefined
      })
    // every worker has one, and an old and a new one overlap in a rolling restart: more is someone else
    const maxLinks = 2 * n + 16
    let links = 0
    yield* Effect.forkIn(
      Effect.ignore(Effect.forever(Effect.gen(function*() {
        const connScope = yield* Scope.make()
        const conn = yield* Effect.tapError(
          Scope.extend(control.accept, connScope),
          () => Scope.close(connScope, Exit.void)
        )
        if (links >= maxLinks) {
          yield* Effect.logWarning(`closing a control connection: ${links} are open already`)
          return yield* Effect.zipRight(conn.abort, Scope.close(connScope, Exit.void))
        }
        links++
        yield* Effect.forkIn(
          Effect.ensuring(
            serveLink(conn),
            Effect.zipRight(Scope.close(connScope, Exit.void), Effect.sync(() => links--))
          ),
          fibers
        )
      }))),
      fibers
    )

    // ---- starting, watching and restarting processes
    const orderDrain = (run: Run) =>
      Effect.suspend(() => {
        run.stopping = true
        if (run.link !== undefined) return sendOn(run.link.framed, { t: "drain" })
        // not connected yet: its program has not started serving; a signal is all it can get
        return Effect.sync(() => run.proc?.kill("SIGTERM"))
      })

    const startRun = (slot: Slot): Effect.Effect<Run, WorkersError> =>
      Effect.gen(function*() {
        const generation = ++slot.generations
        const run: Run = {
          slot,
          generation,
          proc: undefined,
          ready: yield* Deferred.make<void, WorkersError>(),
          exited: yield* Deferred.make<ProcessExit>(),
          link: undefined,
          readyAt: undefined,
          stopping: false,
          hasExited: false
        }
        expected.set(`${slot.id}:${generation}`, run)
        const proc = yield* platform.spawn({
          [env.id]: String(slot.id),
          [env.count]: String(n),
          [env.generation]: String(generation),
          [env.control]: format(control.address),
          [env.token]: token,
          [env.ports]: ports.map((p) => (p === undefined ? "" : String(p))).join(",")
        }).pipe(Effect.tapError(() => Effect.sync(() => expected.delete(`${slot.id}:${generation}`))))
        run.proc = proc
        live.add(run)
        yield* Effect.logInfo(`worker ${slot.id} started (pid ${proc.pid})`)
        yield* Effect.forkIn(Effect.flatMap(proc.exited, (exit) => onExit(run, exit)), fibers)
        yield* Effect.forkIn(
          Effect.flatMap(
            Effect.exit(Effect.timeout(Effect.interruptible(Deferred.await(run.ready)), readyTimeout)),
            (e) =>
              Exit.isFailure(e) && !run.stopping && !run.hasExited
                ? Effect.zipRight(
                  Effect.logWarning(
                    `worker ${slot.id} (pid ${proc.pid}) not ready after ${Duration.format(readyTimeout)}: killing it`
                  ),
                  Effect.sync(() => proc.kill("SIGKILL"))
                )
                : Effect.void
          ),
          fibers
        )
        return run
      })

    const awaitReady = (run: Run) =>
      Effect.timeoutFail(Effect.interruptible(Deferred.await(run.ready)), {
        duration: readyTimeout,
        onTimeout: () =>
          new WorkersError({
            reason: "NotReady",
            worker: run.slot.id,
            detail: `not ready after ${Duration.format(readyTimeout)}`
          })
      })

    const onExit = (run: Run, exit: ProcessExit): Effect.Effect<void> =>
      Effect.gen(function*() {
        run.hasExited = true
        live.delete(run)
        expected.delete(`${run.slot.id}:${run.generation}`)
        yield* Deferred.succeed(run.exited, exit)
        const slot = run.slot
        const wasReady = run.readyAt !== undefined
        yield* Deferred.fail(
          run.ready,
          new WorkersError({
            reason: "StartFailed",
            worker: slot.id,
            detail: `exited before it was ready (${describeExit(exit)})`
          })
        )
        if (slot.current !== run) {
          // an old process of a rolling restart, or a new one that failed to start: its caller decides
          yield* Effect.logInfo(`worker ${slot.id} (pid ${run.proc?.pid}) exited (${describeExit(exit)})`)
          return
        }
        if (run.stopping || stopping) {
          yield* Effect.logInfo(`worker ${slot.id} (pid ${run.proc?.pid}) exited (${describeExit(exit)})`)
          slot.current = undefined
          return
        }
        if (exit.code === 0 && exit.signal === null) {
          // stopped on purpose (its own SIGINT/SIGTERM: Ctrl-C reaches every process of the group)
          yield* Effect.logInfo(`worker ${slot.id} (pid ${run.proc?.pid}) stopped (code 0): not replaced`)
          slot.current = undefined
          if (slots.every((s) => s.current === undefined)) yield* Deferred.succeed(done, undefined)
          return
        }
        if (starting && !wasReady) return // the start-up fails as a whole (see below)
        const now = yield* Clock.currentTimeMillis
        if (run.readyAt !== undefined && now - run.readyAt >= stableAfterMs) slot.backoff = restartDelay
        slot.recent = slot.recent.filter((t) => now - t < 60_000)
        if (slot.recent.length >= maxRestarts) {
          yield* Effect.logError(
            `worker ${slot.id} died (${describeExit(exit)}) ${maxRestarts} times within a minute: stopping`
          )
          slot.current = undefined
          yield* Deferred.fail(
            done,
            new WorkersError({
              reason: "TooManyRestarts",
              worker: slot.id,
              detail: `restarted ${maxRestarts} times within a minute; last exit: ${describeExit(exit)}`
            })
          )
          return
        }
        slot.recent.push(now)
        const delay = slot.backoff
        slot.backoff = Math.min(maxRestartDelay, slot.backoff * 2)
        yield* Effect.logWarning(
          `worker ${slot.id} (pid ${run.proc?.pid}) died (${describeExit(exit)}): restarting in ${delay}ms`
        )
        yield* Effect.sleep(Duration.millis(delay))
        if (stopping || slot.current !== run) return
        slot.restarts++
        const replaced = yield* Effect.either(startRun(slot))
        if (replaced._tag === "Left") {
          // spawning failed: count it as one more death of this slot
          yield* Effect.logError("cannot start a worker", replaced.left)
          return yield* onExit(run, { code: null, signal: null })
        }
        slot.current = replaced.right
      })

    // ---- shutdown: drain every process, kill the stragglers at the deadline
    const shutdown = Effect.gen(function*() {
      stopping = true
      const runs = [...live]
      if (runs.length === 0) return
      yield* Effect.logInfo(`draining ${runs.length} worker${runs.length === 1 ? "" : "s"}`)
      yield* Effect.forEach(runs, orderDrain, { discard: true })
      // the shutdown is a finalizer, uninterruptible: a wait a timeout must be able to cut is made interruptible
      const all = Effect.interruptible(Effect.forEach(runs, (r) => Deferred.await(r.exited), { discard: true }))
      const inTime = yield* Effect.timeout(all, shutdownTimeout).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
      if (inTime) {
        yield* Effect.logInfo("all workers drained")
        return
      }
      const stragglers = runs.filter((r) => !r.hasExited)
      yield* Effect.logWarning(
        `killing ${stragglers.length} worker(s) still running after ${Duration.format(shutdownTimeout)}: ${
          stragglers.map((r) => r.slot.id).join(", ")
        }`
      )
      for (const r of stragglers) r.proc?.kill("SIGKILL")
      yield* Effect.ignore(Effect.timeout(all, killWait))
    })

    // ---- rolling restart: one slot at a time, the new process ready before the old one drains
    const rollingRestart: Effect.Effect<void, WorkersError> = restartLock.withPermits(1)(Effect.gen(function*() {
      yield* Effect.logInfo("rolling restart")
      for (const slot of slots) {
        if (stopping) return
        const old = slot.current
        const next = yield* startRun(slot)
        const ok = yield* Effect.either(awaitReady(next))
        if (ok._tag === "Left") {
          next.stopping = true
          next.proc?.kill("SIGKILL")
          yield* Effect.logError(`rolling restart stopped: the new worker ${slot.id} did not start`, ok.left)
          return yield* ok.left
        }
        slot.current = next
        if (old !== undefined && !old.hasExited) {
          yield* orderDrain(old)
          const inTime = yield* Effect.timeout(Effect.interruptible(Deferred.await(old.exited)), shutdownTimeout).pipe(
            Effect.as(true),
            Effect.orElseSucceed(() => false)
          )
          if (!inTime) {
            old.proc?.kill("SIGKILL")
            yield* Effect.ignore(Effect.timeout(Effect.interruptible(Deferred.await(old.exited)), killWait))
          }
        }
      }
      yield* Effect.logInfo("rolling restart done")
    }))

    // from before the start to after the shutdown: SIGHUP's default action would end the primary
    yield* platform.onHangup(() => {
      Runtime.runFork(runtime)(
        starting
          ? Effect.logWarning("SIGHUP while the workers start: no rolling restart")
          : Effect.ignore(rollingRestart)
      )
    })
    yield* Effect.addFinalizer(() => shutdown)

    // ---- start: with reusePort worker 1 first (its port-0 listens fix the ports the others share), then the rest
    const startSlots = (some: ReadonlyArray<Slot>) =>
      Effect.flatMap(
        Effect.forEach(some, (slot) => Effect.tap(startRun(slot), (run) => Effect.sync(() => (slot.current = run)))),
        (runs) => Effect.forEach(runs, awaitReady, { concurrency: "unbounded", discard: true })
      )
    const startAll = platform.reusePort
      ? Effect.zipRight(startSlots(slots.slice(0, 1)), startSlots(slots.slice(1)))
      : startSlots(slots)
    yield* startAll.pipe(
      Effect.tapError((e) => Effect.logError("workers failed to start", e)),
      Effect.mapError((e) => e.reason === "NotReady" ? new WorkersError({ ...e, reason: "StartFailed" }) : e)
    )
    starting = false
    yield* Effect.logInfo(`${n} workers ready (${platform.name})`)

    let statsSeq = 0
    const stats: Effect.Effect<ReadonlyArray<WorkerState>> = Effect.forEach(slots, (slot) =>
      Effect.gen(function*() {
        const run = slot.current
        let s: WorkerStats | undefined
        const link = run?.link
        if (link !== undefined) {
          const seq = ++statsSeq
          const d = yield* Deferred.make<WorkerStats>()
          link.pendingStats.set(seq, d)
          yield* sendOn(link.framed, { t: "stats", seq })
          s = yield* Effect.orElseSucceed(Effect.timeout(Effect.interruptible(Deferred.await(d)), statsTimeout), () =>
            undefined)
          link.pendingStats.delete(seq)
        }
        return {
          id: slot.id,
          generation: run?.generation ?? slot.generations,
          pid: run?.proc?.pid,
          ready: run?.readyAt !== undefined,
          restarts: slot.restarts,
          stats: s
        } satisfies WorkerState
      }), { concurrency: "unbounded" })

    return { workers: n, stats, rollingRestart, done: Deferred.await(done) }
  })
