/**
 * The supervision logic of Workers, runtime-free: "processes" are fibers of
 * this test, started by a fake Platform, talking to the primary over the
 * memory transport. Real processes on each runtime: packages/node/test/workers.e2e.test.ts.
 */
import { it } from "@effect/vitest"
import { Connection, MemoryTransport, Transport, Workers } from "@wirekit/core"
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Option, Scope, TestClock } from "effect"
import { expect } from "vitest"

/** What the fake processes did, in order. */
type Event = {
  readonly t: number
  readonly what: "spawn" | "exit"
  readonly id: number
  readonly generation: number
  readonly code: number | null
}

/** A Platform whose processes are fibers running `run` again with the worker's environment. */
const fakePlatform = <E>(
  program: Effect.Effect<void, E, Transport.Transport | Workers.WorkerInfo>,
  events: Array<Event>,
  transport: Transport.TransportService
) => {
  let hangup: (() => void) | undefined
  let pids = 100
  let lastEnv: Readonly<Record<string, string>> = {}
  const base = (env: (name: string) => string | undefined, pid: number): Workers.Platform => ({
    name: "fake",
    pid,
    env,
    memory: () => 0,
    reusePort: false,
    control: transport,
    onHangup: (f) =>
      Effect.acquireRelease(Effect.sync(() => (hangup = f)), () => Effect.sync(() => (hangup = undefined))),
    spawn: (vars) =>
      Effect.gen(function*() {
        const pid = ++pids
        lastEnv = vars
        const id = Number(vars["WIREKIT_WORKER_ID"])
        const generation = Number(vars["WIREKIT_WORKER_GENERATION"])
        const now = yield* Clock.currentTimeMillis
        events.push({ t: now, what: "spawn", id, generation, code: null })
        const child = base((name) => vars[name], pid)
        // a process of its own: not a child of the supervisor's fiber
        const fiber = yield* Effect.forkDaemon(
          Effect.provideService(Workers.run(child, program, { workers: 1 }), Transport.Transport, transport)
        )
        // SIGKILL ends the "process" at once, whatever its program does
        const killed = yield* Deferred.make<void>()
        const exited = Effect.flatMap(
          Effect.raceFirst(Fiber.await(fiber), Effect.as(Deferred.await(killed), undefined)),
          (exit) =>
            Effect.map(Clock.currentTimeMillis, (t): Workers.ProcessExit => {
              const signal = exit === undefined || Exit.isInterrupted(exit) ? "SIGKILL" : null
              const code = signal !== null ? null : Exit.isSuccess(exit!) ? 0 : 1
              events.push({ t, what: "exit", id, generation, code })
              return { code, signal }
            })
        )
        const cached = yield* Effect.cached(exited)
        yield* Effect.forkDaemon(cached)
        const kill = () => {
          Deferred.unsafeDone(killed, Exit.void)
          Effect.runFork(Fiber.interruptFork(fiber))
        }
        return { pid, exited: cached, kill } satisfies Workers.WorkerProcess
      })
  })
  return { platform: base(() => undefined, 1), hangup: () => hangup?.(), lastEnv: () => lastEnv }
}

/** Lets the fibers and the memory transport's callbacks run. */
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))

/** Moves the test clock by `ms`, in steps, letting everything run in between. */
const advance = (ms: number, step = 50) =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += step) {
      yield* TestClock.adjust(`${step} millis`)
      for (let i = 0; i < 5; i++) yield* settle
    }
  })

/** A worker that listens (so it is ready) and serves until interrupted. */
const serving = (seen: Array<Workers.WorkerInfo>) =>
  Effect.gen(function*() {
    seen.push(yield* Workers.WorkerInfo)
    const t = yield* Transport.Transport
    yield* t.listen({ host: "w", port: 0 })
    return yield* Effect.never
  }).pipe(Effect.scoped)

it.scoped("1 worker runs the program here with WorkerInfo single; a bad count is a typed BadOptions", () =>
  Effect.gen(function*() {
    const { platform } = fakePlatform(Effect.void, [], yield* Transport.Transport)
    const info = yield* Workers.run(platform, Effect.map(Workers.WorkerInfo, (i) => i), { workers: 1 }).pipe(
      Effect.as("ran")
    )
    expect(info).toBe("ran")
    const seen: Array<Workers.WorkerInfo> = []
    yield* Workers.run(platform, Effect.tap(Workers.WorkerInfo, (i) => Effect.sync(() => seen.push(i))), { workers: 1 })
    expect(seen).toEqual([Workers.single])
    const err = yield* Effect.flip(Workers.run(platform, Effect.void, { workers: 0 }))
    expect(err.reason).toBe("BadOptions")
  }).pipe(Effect.provide(MemoryTransport.layer())))

it.scoped("N workers: each runs with its id; stats reach every worker; interrupting the primary drains them all (exit 0)", () =>
  Effect.gen(function*() {
    const events: Array<Event> = []
    const seen: Array<Workers.WorkerInfo> = []
    const { platform } = fakePlatform(serving(seen), events, yield* Transport.Transport)
    const supervisor = yield* Workers.supervise(platform, { workers: 3 })
    expect(seen.map((i) => i.id).sort()).toEqual([1, 2, 3])
    expect(seen.every((i) => i.count === 3 && !i.single)).toBe(true)
    const states = yield* supervisor.stats
    expect(states.map((s) => [s.id, s.ready, s.stats?.id, s.stats?.listening.length])).toEqual([[1, true, 1, 1], [
      2,
      true,
      2,
      1
    ], [3, true, 3, 1]])
    // started in id order
    expect(events.filter((e) => e.what === "spawn").map((e) => e.id)).toEqual([1, 2, 3])
    return events
  }).pipe(
    Effect.scoped,
    Effect.map((events) => {
      // the scope closed: every worker drained on the primary's order, none killed
      const exits = events.filter((e) => e.what === "exit")
      expect(exits.map((e) => e.code)).toEqual([0, 0, 0])
    }),
    Effect.provide(MemoryTransport.layer())
  ))

it.scoped("a worker that dies is restarted after a doubling backoff; a crash loop stops with TooManyRestarts", () =>
  Effect.gen(function*() {
    const events: Array<Event> = []
    // worker 2 dies one second after it is ready, every time
    const program = Effect.gen(function*() {
      const info = yield* Workers.WorkerInfo
      const t = yield* Transport.Transport
      yield* t.listen({ host: "w", port: 0 })
      if (info.id === 2) {
        yield* Effect.sleep("1 second")
        return yield* Effect.dieMessage("crash")
      }
      return yield* Effect.never
    }).pipe(Effect.scoped)
    const { platform } = fakePlatform(program, events, yield* Transport.Transport)
    const fiber = yield* Effect.fork(
      Workers.run(platform, program, { workers: 2, maxRestartsPerMinute: 3, restartDelay: "100 millis" })
    )
    // both started (at time 0) before the clock moves
    yield* Effect.repeat(settle, { until: () => events.some((e) => e.what === "spawn" && e.id === 2) })
    for (let i = 0; i < 20; i++) yield* settle
    yield* advance(6000)
    const exit = yield* Fiber.await(fiber)
    expect(Exit.isFailure(exit)).toBe(true)
    const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    expect(Option.map(failure, (e) => (e as Workers.WorkersError).reason)).toEqual(Option.some("TooManyRestarts"))
    // started again 100, 200 and 400 ms after each death; the fourth death within the minute is one too many
    const spawns2 = events.filter((e) => e.what === "spawn" && e.id === 2).map((e) => e.t)
    const deaths2 = events.filter((e) => e.what === "exit" && e.id === 2).map((e) => e.t)
    expect(spawns2.length).toBe(4)
    expect(deaths2.length).toBe(4)
    expect(spawns2.slice(1).map((t, i) => t - deaths2[i]!)).toEqual([100, 200, 400])
    // worker 1 was drained (code 0) when the primary gave up
    expect(events.filter((e) => e.what === "exit" && e.id === 1).map((e) => e.code)).toEqual([0])
  }).pipe(Effect.provide(MemoryTransport.layer())))

it.scoped("a worker that exits before it is ready fails the start: StartFailed, the others are stopped", () =>
  Effect.gen(function*() {
    const events: Array<Event> = []
    const program = Effect.gen(function*() {
      const info = yield* Workers.WorkerInfo
      if (info.id === 2) return yield* Effect.fail("cannot listen")
      const t = yield* Transport.Transport
      yield* t.listen({ host: "w", port: 0 })
      return yield* Effect.never
    }).pipe(Effect.scoped)
    const { platform } = fakePlatform(program, events, yield* Transport.Transport)
    const err = yield* Effect.flip(Workers.run(platform, program, { workers: 2 }))
    expect(err).toMatchObject({ _tag: "WorkersError", reason: "StartFailed", worker: 2 })
    expect(events.filter((e) => e.what === "exit").map((e) => [e.id, e.code]).sort()).toEqual([[1, 0], [2, 1]])
  }).pipe(Effect.provide(MemoryTransport.layer())))

it.scoped("rolling restart: one worker at a time, the new process ready before the old one is told to drain", () =>
  Effect.gen(function*() {
    const events: Array<Event> = []
    const seen: Array<Workers.WorkerInfo> = []
    const { hangup, platform } = fakePlatform(serving(seen), events, yield* Transport.Transport)
    const supervisor = yield* Workers.supervise(platform, { workers: 2 })
    const restarted = yield* Deferred.make<void>()
    yield* Effect.fork(Effect.zipRight(supervisor.rollingRestart, Deferred.succeed(restarted, undefined)))
    yield* Deferred.await(restarted)
    const order = events.map((e) => `${e.what} ${e.id}.${e.generation}${e.code === null ? "" : `:${e.code}`}`)
    expect(order).toEqual(["spawn 1.1", "spawn 2.1", "spawn 1.2", "exit 1.1:0", "spawn 2.2", "exit 2.1:0"])
    const states = yield* supervisor.stats
    expect(states.map((s) => [s.id, s.generation, s.ready])).toEqual([[1, 2, true], [2, 2, true]])
    // SIGHUP does the same
    hangup()
    yield* Effect.repeat(settle, { until: () => events.filter((e) => e.what === "exit").length === 4 })
    expect(events.slice(6).map((e) => `${e.what} ${e.id}.${e.generation}`)).toEqual([
      "spawn 1.3",
      "exit 1.2",
      "spawn 2.3",
      "exit 2.2"
    ])
  }).pipe(Effect.provide(MemoryTransport.layer())))

it.scoped("a control connection without a valid hello (a wrong token, no worker expected) is closed; the workers keep theirs", () =>
  Effect.gen(function*() {
    const events: Array<Event> = []
    const { lastEnv, platform } = fakePlatform(serving([]), events, yield* Transport.Transport)
    const supervisor = yield* Workers.supervise(platform, { workers: 2 })
    const [host, port] = lastEnv()["WIREKIT_WORKERS_CONTROL"]!.split(":")
    const t = yield* Transport.Transport
    const intruder = yield* t.connect({ host: host!, port: Number(port) })
    yield* intruder.write(
      new TextEncoder().encode(JSON.stringify({ t: "hello", id: 1, generation: 1, token: "guess" }) + "\n")
    )
    const reply = yield* Connection.readAll(intruder)
    expect(reply.length).toBe(0)
    const states = yield* supervisor.stats
    expect(states.map((s) => [s.id, s.generation, s.stats?.id])).toEqual([[1, 1, 1], [2, 1, 2]])
  }).pipe(Effect.provide(MemoryTransport.layer())))

it.scoped("shutdown: a worker still running at the deadline is killed, and the primary's shutdown ends", () =>
  Effect.gen(function*() {
    const events: Array<Event> = []
    // worker 2 ignores the drain: its program cannot be interrupted
    const program = Effect.gen(function*() {
      const info = yield* Workers.WorkerInfo
      const t = yield* Transport.Transport
      yield* t.listen({ host: "w", port: 0 })
      return yield* info.id === 2 ? Effect.uninterruptible(Effect.never) : Effect.never
    }).pipe(Effect.scoped)
    const { platform } = fakePlatform(program, events, yield* Transport.Transport)
    const scope = yield* Scope.make()
    yield* Scope.extend(Workers.supervise(platform, { workers: 2, shutdownTimeout: "5 seconds" }), scope)
    const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
    yield* advance(4900)
    expect(events.filter((e) => e.what === "exit").map((e) => [e.id, e.code])).toEqual([[1, 0]])
    yield* advance(200)
    yield* Fiber.join(closing)
    const exits = events.filter((e) => e.what === "exit")
    expect(exits.map((e) => [e.id, e.code])).toEqual([[1, 0], [2, null]])
    expect(exits[1]!.t).toBe(5000)
  }).pipe(Effect.provide(MemoryTransport.layer())))
