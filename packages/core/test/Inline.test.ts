/**
 * Differential tests of the inline evaluator (src/internal/inline.ts): every
 * case is run once by Effect's own run loop (a fiber) and once by
 * `InlineHost.evaluate` (then, if it suspended, its rest on a fiber); the
 * Exit and the order of side effects must be the same, and the evaluation
 * must complete without a fiber exactly when nothing waits.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  Clock,
  Context,
  Data,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberRef,
  Logger,
  LogLevel,
  Option,
  Runtime,
  RuntimeFlags,
  TestClock
} from "effect"
import * as fc from "fast-check"
import { GenCall, InlineHost, region, Suspended } from "../src/internal/inline.ts"

// ---------------------------------------------------------------------------
// harness
// ---------------------------------------------------------------------------

class Svc extends Context.Tag("test/Inline/Svc")<Svc, { readonly name: string }>() {}
class Other extends Context.Tag("test/Inline/Other")<Other, string>() {}
class Boom extends Data.TaggedError("Boom")<{ readonly n: number }> {}
class Bang extends Data.TaggedError("Bang")<{ readonly s: string }> {}

const Ref = FiberRef.unsafeMake(0)

type Log = Array<string>
type Build = (log: Log) => Effect.Effect<unknown, unknown, any>

/** A comparable picture of a cause (no fiber ids, no stack traces). */
const causeShape = (cause: Cause.Cause<unknown>): unknown => {
  switch (cause._tag) {
    case "Empty":
      return "empty"
    case "Fail":
      return { fail: cause.error instanceof Error ? errorShape(cause.error) : cause.error }
    case "Die":
      return { die: cause.defect instanceof Error ? errorShape(cause.defect) : cause.defect }
    case "Interrupt":
      return "interrupt"
    case "Sequential":
      return { seq: [causeShape(cause.left), causeShape(cause.right)] }
    case "Parallel":
      return { par: [causeShape(cause.left), causeShape(cause.right)] }
  }
}
const errorShape = (e: Error) => ({ ...e, name: e.name, message: e.message })
const exitShape = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? { ok: exit.value } : { cause: causeShape(exit.cause) }

interface Outcome {
  readonly exit: Exit.Exit<unknown, unknown>
  readonly log: Log
  readonly suspended: boolean
}

const reference = (rt: Runtime.Runtime<never>, build: Build): Promise<Outcome> => {
  const log: Log = []
  return Runtime.runPromiseExit(rt)(build(log) as Effect.Effect<unknown, unknown, never>).then((exit) => ({
    exit,
    log,
    suspended: false
  }))
}

/** The evaluator's way: evaluate, then run a suspended rest on a fiber (as the server does). */
const inline = (rt: Runtime.Runtime<never>, build: Build, host = new InlineHost(rt)): Promise<Outcome> => {
  const log: Log = []
  const r = host.evaluate(build(log))
  if (!(r instanceof Suspended)) {
    log.push("<sync>")
    return Promise.resolve({ exit: r, log, suspended: false })
  }
  log.push("<suspended>")
  const fiber = Runtime.runFork(r.runtime, r.effect)
  return Effect.runPromise(Fiber.await(fiber)).then((exit) => ({ exit, log, suspended: true }))
}

const without = (log: Log) => log.filter((l) => l !== "<sync>" && l !== "<suspended>")

/**
 * Runs `build` both ways and checks Exit and log; `sync` says whether the
 * evaluation must complete without a fiber (undefined: either).
 */
const same = (rt: Runtime.Runtime<never>, build: Build, sync: boolean | undefined) =>
  Effect.promise(async () => {
    const a = await reference(rt, build)
    const b = await inline(rt, build)
    expect(exitShape(b.exit)).toEqual(exitShape(a.exit))
    expect(without(b.log)).toEqual(a.log)
    if (sync !== undefined) expect(b.suspended).toBe(!sync)
    return { reference: a, inline: b }
  })

/** The test's runtime with services, as a connection's would be. */
const testRuntime = Effect.runtime<never>().pipe(
  Effect.provideService(Svc, { name: "root" }),
  Effect.provideService(Other, "other")
)

const push = (log: Log, s: string) => Effect.sync(() => void log.push(s))

// ---------------------------------------------------------------------------
// synchronous cases
// ---------------------------------------------------------------------------

describe("InlineHost: completes without a fiber, as Effect would", () => {
  const cases: Array<[string, Build]> = [
    ["succeed", () => Effect.succeed(1)],
    ["fail", () => Effect.fail("e")],
    ["die", () => Effect.die(new Error("dead"))],
    ["dieMessage", () => Effect.dieMessage("dead")],
    ["void", () => Effect.void],
    ["sync", (log) => Effect.sync(() => log.push("a"))],
    ["map/flatMap/tap", (log) =>
      Effect.succeed(1).pipe(
        Effect.map((n) => n + 1),
        Effect.tap((n) => push(log, `tap ${n}`)),
        Effect.flatMap((n) => Effect.sync(() => (log.push(`fm ${n}`), n * 10)))
      )],
    ["gen with succeed/sync/tags/Option/Either", (log) =>
      Effect.gen(function*() {
        const a = yield* Effect.succeed(1)
        log.push(`a ${a}`)
        const b = yield* Effect.sync(() => (log.push("b"), 2))
        const svc = yield* Svc
        const other = yield* Other
        const c = yield* Option.some(3)
        const d = yield* Either.right(4)
        log.push(`${svc.name} ${other} ${c} ${d}`)
        return a + b + c + d
      })],
    ["gen yielding Effect.fail stops", (log) =>
      Effect.gen(function*() {
        log.push("1")
        yield* Effect.fail("stop")
        log.push("never")
      })],
    ["gen yielding a tagged error", (log) =>
      Effect.gen(function*() {
        log.push("1")
        yield* new Boom({ n: 1 })
        log.push("never")
      })],
    ["gen yielding Option.none", () =>
      Effect.gen(function*() {
        return yield* Option.none()
      })],
    ["gen yielding Either.left", () =>
      Effect.gen(function*() {
        return yield* Either.left("left")
      })],
    ["catchTag", (log) =>
      Effect.gen(function*() {
        yield* new Boom({ n: 7 })
      }).pipe(
        Effect.catchTag("Boom", (e) => Effect.sync(() => (log.push(`caught ${e.n}`), e.n)))
      )],
    [
      "catchTag misses another tag",
      (log) =>
        (Effect.fail(new Bang({ s: "x" })) as Effect.Effect<never, Boom | Bang>).pipe(
          Effect.catchTag("Boom", () => push(log, "wrong"))
        )
    ],
    ["catchAll / catchAllCause / orElse", (log) =>
      Effect.fail("e1").pipe(
        Effect.catchAll((e) => (log.push(`c1 ${e}`), Effect.fail("e2"))),
        Effect.catchAllCause((c) => (log.push(`c2 ${Cause.squash(c)}`), Effect.die("d"))),
        Effect.catchAllDefect((d) => (log.push(`c3 ${d}`), Effect.fail("e3"))),
        Effect.orElse(() => Effect.succeed("recovered"))
      )],
    ["catchAll does not catch a defect", (log) => Effect.die("d").pipe(Effect.catchAll(() => push(log, "wrong")))],
    ["either / exit / option", () =>
      Effect.all([
        Effect.either(Effect.fail(1)),
        Effect.either(Effect.succeed(2)),
        Effect.map(Effect.exit(Effect.fail(3)), exitShape),
        Effect.option(Effect.fail(4))
      ])],
    ["ensuring / onExit order", (log) =>
      push(log, "body").pipe(
        Effect.ensuring(push(log, "fin1")),
        Effect.onExit((exit) => push(log, `exit ${exit._tag}`)),
        Effect.ensuring(push(log, "fin2"))
      )],
    [
      "ensuring on failure, the failure kept",
      (log) => Effect.fail("x").pipe(Effect.ensuring(push(log, "fin")), Effect.onError(() => push(log, "onError")))
    ],
    [
      "a failing finalizer",
      (log) => Effect.fail("x").pipe(Effect.ensuring(Effect.die("fin died")), Effect.ensuring(push(log, "fin2")))
    ],
    ["acquireUseRelease order", (log) =>
      Effect.acquireUseRelease(
        Effect.sync(() => (log.push("acquire"), 1)),
        (n) => Effect.sync(() => (log.push(`use ${n}`), n + 1)),
        (n, exit) => push(log, `release ${n} ${exit._tag}`)
      )],
    ["acquireUseRelease with a failing use", (log) =>
      Effect.acquireUseRelease(
        Effect.sync(() => (log.push("acquire"), 1)),
        () => Effect.fail("use failed"),
        (_, exit) => push(log, `release ${exit._tag}`)
      )],
    ["uninterruptibleMask with restore", (log) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          yield* Effect.checkInterruptible((b) => push(log, `masked ${b}`))
          yield* restore(Effect.checkInterruptible((b) => push(log, `restored ${b}`)))
          yield* Effect.checkInterruptible((b) => push(log, `masked again ${b}`))
        })
      ).pipe(Effect.zipRight(Effect.checkInterruptible((b) => push(log, `after ${b}`))))],
    [
      "uninterruptible inside interruptible inside uninterruptible",
      (log) =>
        Effect.checkInterruptible((b) => push(log, `inner ${b}`)).pipe(
          Effect.uninterruptible,
          Effect.zipLeft(Effect.checkInterruptible((b) => push(log, `mid ${b}`))),
          Effect.interruptible,
          Effect.uninterruptible
        )
    ],
    ["forEach (While loop)", (log) => Effect.forEach([1, 2, 3], (n) => Effect.sync(() => (log.push(`n ${n}`), n * 2)))],
    [
      "forEach failing in the middle",
      (log) => Effect.forEach([1, 2, 3], (n) => n === 2 ? Effect.fail(`at ${n}`) : push(log, `n ${n}`))
    ],
    ["forEach discard + whileLoop + loop", (log) =>
      Effect.gen(function*() {
        yield* Effect.forEach([1, 2], (n) => push(log, `d ${n}`), { discard: true })
        let i = 0
        yield* Effect.whileLoop({
          while: () => i < 3,
          body: () => Effect.succeed(i),
          step: (n) => (log.push(`w ${n}`), i++)
        })
        return yield* Effect.loop(0, { while: (n) => n < 3, step: (n) => n + 1, body: (n) => Effect.succeed(n * n) })
      })],
    ["all / zip / iterate", () =>
      Effect.all({
        a: Effect.zip(Effect.succeed(1), Effect.succeed(2)),
        b: Effect.iterate(0, { while: (n) => n < 5, body: (n) => Effect.succeed(n + 1) })
      })],
    ["provideService inside the handler", (log) =>
      Effect.gen(function*() {
        const inner = yield* Effect.provideService(Effect.map(Svc, (s) => s.name), Svc, { name: "inner" })
        const outer = yield* Svc
        log.push(`${inner} ${outer.name}`)
      })],
    ["Effect.provide a context", () => Effect.provide(Effect.all([Svc, Other]), Context.make(Other, "provided"))],
    ["a missing service is a defect", () =>
      Effect.gen(function*() {
        return yield* Context.GenericTag<"Missing", number>("Missing")
      })],
    ["FiberRef get/set/update/locally", (log) =>
      Effect.gen(function*() {
        log.push(`start ${yield* FiberRef.get(Ref)}`)
        yield* FiberRef.set(Ref, 1)
        const inner = yield* Effect.locally(FiberRef.get(Ref), Ref, 5)
        yield* FiberRef.update(Ref, (n) => n + 10)
        log.push(`inner ${inner} after ${yield* FiberRef.get(Ref)}`)
      })],
    ["defect thrown in Effect.sync", (log) => Effect.sync(() => (log.push("before"), JSON.parse("{")))],
    ["defect thrown in map", () =>
      Effect.map(Effect.succeed(1), () => {
        throw new Error("in map")
      })],
    ["defect thrown in flatMap", () =>
      Effect.flatMap(Effect.succeed(1), () => {
        throw new Error("in flatMap")
      })],
    ["defect thrown in a generator body", (log) =>
      Effect.gen(function*() {
        yield* push(log, "a")
        throw new Error("in gen")
      })],
    ["defect thrown in a catchAll handler", () =>
      Effect.catchAll(Effect.fail(1), () => {
        throw new Error("in handler")
      })],
    ["defect thrown in a finalizer", (log) =>
      Effect.ensuring(
        push(log, "body"),
        Effect.sync(() => {
          throw new Error("in finalizer")
        })
      )],
    [
      "Effect.die caught by catchAllDefect",
      (log) =>
        Effect.die(new Error("x")).pipe(Effect.catchAllDefect((d) => (log.push(String(d)), Effect.succeed("ok"))))
    ],
    ["a generator's finally does not run on failure (as in Effect)", (log) =>
      Effect.gen(function*() {
        try {
          yield* Effect.fail("f")
        } finally {
          log.push("finally")
        }
      })],
    ["a generator's try/catch does not catch yielded failures", (log) =>
      Effect.gen(function*() {
        try {
          yield* Effect.fail("f")
        } catch {
          log.push("caught?")
        }
      })],
    ["suspend / Effect.fn / nested gens", (log) => {
      const f = Effect.fn("f")(function*(n: number) {
        log.push(`f ${n}`)
        return n + 1
      })
      return Effect.suspend(() =>
        Effect.gen(function*() {
          const a = yield* f(1)
          const b = yield* Effect.gen(function*() {
            return (yield* f(a)) * 2
          })
          return b
        })
      )
    }],
    ["withSpan / annotateCurrentSpan", () =>
      Effect.gen(function*() {
        yield* Effect.annotateCurrentSpan("k", "v")
        const span = yield* Effect.currentSpan
        return span.name
      }).pipe(Effect.withSpan("my-span"))],
    [
      "fiberId / descriptor do not throw",
      () => Effect.map(Effect.all([Effect.fiberId, Effect.descriptor]), () => "ok")
    ],
    [
      "Effect.fail with Error value and cause",
      () => Effect.fail(new Error("plain")).pipe(Effect.mapError((e) => e.message))
    ],
    [
      "sandbox / unsandbox",
      () => Effect.sandbox(Effect.die("d")).pipe(Effect.catchAll((c) => Effect.succeed(Cause.isDie(c))))
    ],
    ["retry (no schedule wait: recurs 0)", (log) => {
      let i = 0
      return Effect.sync(() => (log.push(`try ${i}`), i++)).pipe(
        Effect.flatMap((n) => n < 2 ? Effect.fail(n) : Effect.succeed(n)),
        Effect.retry({ times: 5 })
      )
    }]
  ]
  for (const [name, build] of cases) {
    it.live(name, () => Effect.flatMap(testRuntime, (rt) => same(rt, build, true)))
  }

  it.live("withFiberRuntime sees the current runtime flags on the fiber", () =>
    Effect.flatMap(testRuntime, (rt) =>
      same(rt, () =>
        Effect.uninterruptible(
          Effect.withFiberRuntime<boolean>((fiber) =>
            Effect.succeed(RuntimeFlags.interruption((fiber as any).currentRuntimeFlags))
          )
        ), true)))

  it.live("a value returned by flatMap that is not an Effect", () =>
    Effect.flatMap(testRuntime, (rt) => same(rt, () => Effect.flatMap(Effect.void, () => undefined as any), undefined)))

  it.live("an InterruptedException thrown in sync (as the run loop treats it)", () =>
    Effect.flatMap(testRuntime, (rt) =>
      same(rt, () =>
        Effect.sync(() => {
          throw new Cause.InterruptedException("thrown")
        }), undefined)))

  it.effect("logDebug with a test logger and the runtime's minimum log level", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => lines.push(`${logLevel.label} ${String(message)}`))
      const build: Build = (log) =>
        Effect.gen(function*() {
          yield* Effect.logDebug("debug line")
          yield* Effect.logInfo("info line")
          yield* Effect.logTrace("trace line")
          log.push("logged")
        }).pipe(Effect.annotateLogs("k", "v"))
      for (const level of [LogLevel.Debug, LogLevel.Info]) {
        const rt = yield* testRuntime.pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(level)
        )
        lines.length = 0
        const { inline: b, reference: a } = yield* same(rt, build, true)
        const both = lines.slice()
        expect(both.length % 2).toBe(0)
        expect(both.slice(0, both.length / 2)).toEqual(both.slice(both.length / 2))
        expect(both.slice(0, both.length / 2)).toEqual(
          level === LogLevel.Debug ? ["DEBUG debug line", "INFO info line"] : ["INFO info line"]
        )
        expect(b.exit._tag).toBe(a.exit._tag)
      }
    }))

  it.effect("Clock.currentTimeMillis with the TestClock of the runtime", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1234 millis")
      const rt = yield* testRuntime
      const host = new InlineHost(rt)
      const r = host.evaluate(Effect.all([Clock.currentTimeMillis, Effect.clockWith((c) => c.currentTimeMillis)]))
      expect(r).toEqual(Exit.succeed([1234, 1234]))
      expect(host.completed).toBe(1)
    }))

  it.live("services come from the runtime's context", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const host = new InlineHost(rt)
      expect(host.evaluate(Effect.map(Svc, (s) => s.name))).toEqual(Exit.succeed("root"))
      // after the host fiber exists too
      expect(host.evaluate(Effect.flatMap(FiberRef.get(Ref), () => Effect.map(Svc, (s) => s.name)))).toEqual(
        Exit.succeed("root")
      )
      expect(host.evaluate(Effect.map(Svc, (s) => s.name))).toEqual(Exit.succeed("root"))
    }))
})

// ---------------------------------------------------------------------------
// suspension
// ---------------------------------------------------------------------------

const waits: Array<[string, (log: Log) => Effect.Effect<unknown>]> = [
  ["sleep", () => Effect.sleep("2 millis")],
  ["yieldNow", () => Effect.yieldNow()],
  ["async", (log) =>
    Effect.async<string>((resume) => {
      log.push("registered")
      setTimeout(() => resume(Effect.succeed("async value")), 1)
    })],
  ["promise", () => Effect.promise(() => Promise.resolve(7))]
]

describe("InlineHost: suspends and the rest continues on a fiber", () => {
  for (const [wait, w] of waits) {
    it.live(`gen resumes where it stopped (${wait}), each step once`, () =>
      Effect.flatMap(testRuntime, (rt) =>
        Effect.gen(function*() {
          let count = 0
          const build: Build = (log) =>
            Effect.gen(function*() {
              count = 0
              log.push(`a ${++count}`)
              const x = yield* Effect.sync(() => (log.push(`b ${++count}`), 1))
              const v = yield* w(log)
              log.push(`c ${++count} ${String(v)}`)
              const y = yield* Effect.sync(() => (log.push(`d ${++count}`), 2))
              const svc = yield* Svc
              return `${x + y} ${svc.name}`
            })
          const { inline: b } = yield* same(rt, build, false)
          expect(count).toBe(4)
          // evaluated in place up to the wait, the rest on the fiber
          const at = b.log.indexOf("<suspended>")
          expect(b.log.slice(0, at).filter((l) => l.startsWith("a ") || l.startsWith("b "))).toHaveLength(2)
          expect(b.log.slice(at).filter((l) => l.startsWith("c ") || l.startsWith("d "))).toHaveLength(2)
        })))
  }

  it.live("GenCall (a generator function made once, called per run): in place, suspended, failing, thrown, nested", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        const self = { unit: 10 }
        function* body(this: typeof self, log: Log, n: unknown): Generator<any, unknown, any> {
          log.push(`start ${String(n)} ${this.unit}`)
          const svc = yield* Svc
          if (n === "wait") yield* Effect.sleep(1)
          if (n === "fail") return yield* new Boom({ n: 1 })
          if (n === "throw") throw new Error("thrown")
          if (String(n).startsWith("inner")) return n
          const inner = yield* new GenCall(body as any, self, log, "inner-" + String(n))
          log.push(`end ${String(n)}`)
          return `${svc.name} ${String(inner)}`
        }
        for (const [n, sync] of [["now", true], ["wait", false], ["fail", true], ["throw", true]] as const) {
          yield* same(rt, (log) => new GenCall(body as any, self, log, n), sync)
        }
      })))

  it.live("two waits in a row, nested gens, a loop of waits", () =>
    Effect.flatMap(testRuntime, (rt) =>
      same(rt, (log) =>
        Effect.gen(function*() {
          const inner = Effect.gen(function*() {
            log.push("inner 1")
            yield* Effect.yieldNow()
            log.push("inner 2")
            yield* Effect.sleep(1)
            return "inner"
          })
          const a = yield* inner
          for (let i = 0; i < 3; i++) {
            yield* Effect.yieldNow()
            log.push(`loop ${i}`)
          }
          return a
        }), false)))

  it.live("suspension inside ensuring / onExit / onError: the finalizer runs once, after", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        for (const fail of [false, true]) {
          yield* same(rt, (log) =>
            Effect.gen(function*() {
              log.push("before")
              yield* Effect.sleep(1)
              log.push("after")
              if (fail) return yield* Effect.fail("failed")
              return "ok"
            }).pipe(
              Effect.ensuring(push(log, "fin")),
              Effect.onExit((exit) => push(log, `exit ${exit._tag}`)),
              Effect.onError(() => push(log, "onError")),
              Effect.ensuring(push(log, "fin outer"))
            ), false)
        }
      })))

  it.live("suspension inside a finalizer", () =>
    Effect.flatMap(testRuntime, (rt) =>
      same(rt, (log) =>
        push(log, "body").pipe(
          Effect.ensuring(Effect.gen(function*() {
            log.push("fin 1")
            yield* Effect.yieldNow()
            log.push("fin 2")
          })),
          Effect.ensuring(push(log, "fin outer"))
        ), false)))

  it.live("suspension inside acquireUseRelease (in acquire, use, release)", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        for (const where of ["acquire", "use", "release"]) {
          for (const fail of [false, true]) {
            const step = (log: Log, name: string) =>
              Effect.gen(function*() {
                log.push(`${name} 1`)
                if (name === where) yield* Effect.sleep(1)
                yield* Effect.checkInterruptible((b) => push(log, `${name} interruptible ${b}`))
                log.push(`${name} 2`)
              })
            yield* same(rt, (log) =>
              Effect.acquireUseRelease(
                step(log, "acquire"),
                () => Effect.zipRight(step(log, "use"), fail ? Effect.fail("use failed") : Effect.succeed("used")),
                (_, exit) => Effect.zipRight(push(log, `release ${exit._tag}`), step(log, "release"))
              ), false)
          }
        }
      })))

  it.live("suspension inside uninterruptibleMask, inside and outside restore", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        const check = (log: Log, s: string) => Effect.checkInterruptible((b) => push(log, `${s} ${b}`))
        yield* same(rt, (log) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.gen(function*() {
              yield* check(log, "masked")
              yield* Effect.yieldNow()
              yield* check(log, "masked after wait")
              yield* restore(Effect.gen(function*() {
                yield* check(log, "restored")
                yield* Effect.sleep(1)
                yield* check(log, "restored after wait")
              }))
              yield* check(log, "masked again")
            })
          ).pipe(Effect.zipRight(check(log, "outside"))), false)
      })))

  it.live("interrupting the rest inside an uninterruptible region waits for the region to end", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        const build = (log: Log) =>
          Effect.gen(function*() {
            yield* Effect.uninterruptible(Effect.gen(function*() {
              log.push("region start")
              yield* Effect.sleep(20)
              log.push("region end")
            }))
            log.push("after region")
          }).pipe(Effect.onExit((exit) => push(log, `exit ${exit._tag}`)))
        // reference: a fiber interrupted while it sleeps in the region
        const logA: Log = []
        const fa = Runtime.runFork(rt, build(logA))
        yield* Effect.sleep(5)
        const exitA = yield* Fiber.interrupt(fa)
        // inline: the rest interrupted the same way
        const logB: Log = []
        const r = new InlineHost(rt).evaluate(build(logB))
        expect(r).toBeInstanceOf(Suspended)
        const fb = Runtime.runFork((r as Suspended).runtime, (r as Suspended).effect)
        yield* Effect.sleep(5)
        const exitB = yield* Fiber.interrupt(fb)
        expect(logA).toEqual(["region start", "region end", "exit Failure"])
        expect(logB).toEqual(logA)
        expect(exitShape(exitB)).toEqual(exitShape(exitA))
      })))

  it.live("interrupting the rest right after the fork, inside uninterruptibleMask", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        const build = (log: Log) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.gen(function*() {
              log.push("masked")
              yield* Effect.yieldNow()
              log.push("masked 2")
              yield* restore(Effect.sleep(50))
              log.push("never")
            })
          ).pipe(Effect.ensuring(push(log, "fin")))
        const logB: Log = []
        const r = new InlineHost(rt).evaluate(build(logB))
        expect(r).toBeInstanceOf(Suspended)
        const fb = Runtime.runFork((r as Suspended).runtime, (r as Suspended).effect)
        fb.unsafeInterruptAsFork(fb.id())
        const exitB = yield* Fiber.await(fb)
        expect(logB).toEqual(["masked", "masked 2", "fin"])
        expect(Exit.isInterrupted(exitB)).toBe(true)
      })))

  it.live("suspension inside provideService: the rest still sees the service", () =>
    Effect.flatMap(testRuntime, (rt) =>
      same(rt, (log) =>
        Effect.gen(function*() {
          const inner = yield* Effect.provideService(
            Effect.gen(function*() {
              log.push(`before ${(yield* Svc).name}`)
              yield* Effect.sleep(1)
              log.push(`after ${(yield* Svc).name}`)
              return (yield* Svc).name
            }),
            Svc,
            { name: "provided" }
          )
          log.push(`outside ${(yield* Svc).name}`)
          return inner
        }), false)))

  it.live("suspension inside FiberRef.locally: the rest sees the local value; the host does not keep it", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        const build: Build = (log) =>
          Effect.gen(function*() {
            const v = yield* Effect.locally(
              Effect.gen(function*() {
                log.push(`before ${yield* FiberRef.get(Ref)}`)
                yield* Effect.sleep(1)
                log.push(`after ${yield* FiberRef.get(Ref)}`)
                yield* FiberRef.set(Ref, 8)
                return yield* FiberRef.get(Ref)
              }),
              Ref,
              7
            )
            log.push(`outside ${yield* FiberRef.get(Ref)}`)
            return v
          })
        yield* same(rt, build, false)
        const host = new InlineHost(rt)
        const b = yield* Effect.promise(() => inline(rt, build, host))
        expect(b.suspended).toBe(true)
        expect(host.evaluate(FiberRef.get(Ref))).toEqual(Exit.succeed(0))
      })))

  it.live("suspension inside Effect.forEach / whileLoop", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        yield* same(rt, (log) =>
          Effect.forEach([1, 2, 3, 4], (n) =>
            Effect.gen(function*() {
              log.push(`start ${n}`)
              if (n % 2 === 0) yield* Effect.yieldNow()
              log.push(`end ${n}`)
              return n * 10
            })), false)
        yield* same(rt, (log) =>
          Effect.forEach([1, 2, 3], (n) =>
            n === 2 ? Effect.zipRight(Effect.sleep(1), push(log, `n ${n}`)) : push(log, `n ${n}`), {
            discard: true
          }), false)
        yield* same(rt, (log) => {
          let i = 0
          return Effect.whileLoop({
            while: () =>
              i < 4,
            body: () =>
              i === 1 ? Effect.as(Effect.yieldNow(), i) : Effect.succeed(i),
            step: (n) => (log.push(`step ${n}`), i++)
          })
        }, false)
      })))

  it.live("suspension after (and inside) catchAll", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        yield* same(rt, (log) =>
          Effect.fail("e").pipe(
            Effect.catchAll((e) =>
              Effect.gen(function*() {
                log.push(`caught ${e}`)
                yield* Effect.sleep(1)
                log.push("handled")
                return "recovered"
              })
            ),
            Effect.tap(() => Effect.yieldNow()),
            Effect.tap((v) => push(log, `then ${v}`))
          ), false)
        yield* same(rt, (log) =>
          Effect.gen(function*() {
            log.push("1")
            yield* Effect.sleep(1)
            return yield* new Boom({ n: 2 })
          }).pipe(
            Effect.catchTag("Boom", (e) => Effect.as(push(log, `boom ${e.n}`), "ok")),
            Effect.catchAllCause(() => push(log, "wrong"))
          ), false)
      })))

  it.live("failures and defects after a suspension", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        yield* same(rt, (log) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow()
            log.push("x")
            throw new Error("after wait")
          }), false)
        yield* same(rt, () => Effect.flatMap(Effect.yieldNow(), () => Effect.die("d")), false)
        yield* same(rt, () => Effect.flatMap(Effect.yieldNow(), () => Option.none()), false)
        yield* same(rt, (log) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow()
            const n = yield* Either.left("l")
            log.push(`never ${n}`)
          }), false)
      })))

  it.live("Effect.timeout around a waiting effect", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        yield* same(
          rt,
          (log) => Effect.timeout(Effect.zipRight(Effect.sleep(100), push(log, "late")), "5 millis"),
          false
        )
        yield* same(
          rt,
          (log) => Effect.timeout(Effect.zipRight(Effect.sleep(1), push(log, "early")), "1 second"),
          false
        )
      })))

  it.live("concurrent forEach (forks on the host) inside an uninterruptible region", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        for (const wrap of [Effect.uninterruptible, <A, E, R>(e: Effect.Effect<A, E, R>) => e]) {
          yield* same(rt, (log) =>
            wrap(Effect.forEach([1, 2, 3], (n) =>
              Effect.checkInterruptible((b) =>
                push(log, `child ${n} ${b}`)
              ).pipe(
                Effect.zipRight(n === 2 ? Effect.yieldNow() : Effect.void),
                Effect.as(n)
              ), { concurrency: 2 })), false)
        }
      })))

  it.live("Effect.interrupt and onInterrupt", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        yield* same(rt, (log) => Effect.interrupt.pipe(Effect.onInterrupt(() => push(log, "onInterrupt"))), true)
        yield* same(rt, (log) =>
          Effect.interrupt.pipe(
            Effect.catchAllCause((c) => Effect.as(push(log, `interrupted ${Cause.isInterruptedOnly(c)}`), 1))
          ), true)
        yield* same(
          rt,
          (log) =>
            Effect.zipRight(Effect.yieldNow(), Effect.interrupt).pipe(
              Effect.onInterrupt(() => push(log, "onInterrupt"))
            ),
          false
        )
      })))

  it.live("Effect.scoped with acquireRelease / addFinalizer, waiting inside and outside", () =>
    Effect.flatMap(testRuntime, (rt) =>
      Effect.gen(function*() {
        for (const waitAt of ["none", "acquire", "body", "release"]) {
          for (const fail of [false, true]) {
            const maybeWait = (where: string) => waitAt === where ? Effect.yieldNow() : Effect.void
            yield* same(rt, (log) =>
              Effect.scoped(Effect.gen(function*() {
                const r = yield* Effect.acquireRelease(
                  Effect.zipRight(maybeWait("acquire"), Effect.sync(() => (log.push("acquire"), 1))),
                  (_, exit) => Effect.zipRight(maybeWait("release"), push(log, `release ${exit._tag}`))
                )
                yield* Effect.addFinalizer(() => Effect.checkInterruptible((b) => push(log, `finalizer ${b}`)))
                yield* maybeWait("body")
                log.push(`use ${r}`)
                if (fail) return yield* Effect.fail("body failed")
                return r
              })), waitAt === "none")
          }
        }
      })))

  it.effect("log annotations and spans across a suspension", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.make(({ annotations, message, spans }) =>
        lines.push(`${String(message)} ${JSON.stringify([...annotations])} ${[...spans].map((s) => s.label).join(",")}`)
      )
      const rt = yield* testRuntime.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* Effect.promise(async () => {
        const build: Build = () =>
          Effect.gen(function*() {
            yield* Effect.log("one")
            yield* Effect.yieldNow()
            yield* Effect.log("two")
          }).pipe(Effect.annotateLogs("k", "v"), Effect.withLogSpan("span"), Effect.zipRight(Effect.log("three")))
        await reference(rt, build)
        const a = lines.splice(0)
        await inline(rt, build)
        expect(lines.map((l) => l.replace(/=\d+ms/g, ""))).toEqual(a.map((l) => l.replace(/=\d+ms/g, "")))
      })
    }))

  it.live("fork + join across a suspension", () =>
    Effect.flatMap(testRuntime, (rt) =>
      same(rt, (log) =>
        Effect.gen(function*() {
          yield* FiberRef.set(Ref, 3)
          const f = yield* Effect.fork(Effect.gen(function*() {
            yield* Effect.sleep(1)
            yield* FiberRef.update(Ref, (n) => n + 1)
            log.push(`child ${yield* FiberRef.get(Ref)}`)
            return "child"
          }))
          yield* Effect.sleep(5)
          const v = yield* Fiber.join(f)
          log.push(`joined ${v} ${yield* FiberRef.get(Ref)}`)
          return v
        }), false)))
})

// ---------------------------------------------------------------------------
// the host fiber
// ---------------------------------------------------------------------------

describe("InlineHost: the host fiber", () => {
  it.live("fiber refs do not leak between evaluations", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const host = new InlineHost(rt)
      expect(host.evaluate(Effect.zipRight(FiberRef.set(Ref, 5), FiberRef.get(Ref)))).toEqual(Exit.succeed(5))
      expect(host.evaluate(FiberRef.get(Ref))).toEqual(Exit.succeed(0))
      expect(host.evaluate(Effect.zipRight(FiberRef.set(Ref, 6), Effect.fail("x")))).toEqual(Exit.fail("x"))
      expect(host.evaluate(FiberRef.get(Ref))).toEqual(Exit.succeed(0))
      expect(host.evaluate(Effect.flatMap(Effect.provideService(Effect.void, Svc, { name: "p" }), () => Svc))).toEqual(
        Exit.succeed({ name: "root" })
      )
      // a FiberRef set by a suspended evaluation stays with its rest
      const r = host.evaluate(Effect.gen(function*() {
        yield* FiberRef.set(Ref, 9)
        yield* Effect.sleep(1)
        return yield* FiberRef.get(Ref)
      }))
      expect(r).toBeInstanceOf(Suspended)
      expect(host.evaluate(FiberRef.get(Ref))).toEqual(Exit.succeed(0))
      const exit = yield* Fiber.await(Runtime.runFork((r as Suspended).runtime, (r as Suspended).effect))
      expect(exit).toEqual(Exit.succeed(9))
      expect(host.evaluate(FiberRef.get(Ref))).toEqual(Exit.succeed(0))
      // and a Tag read after a provideService elsewhere sees the runtime's service
      expect(host.evaluate(Svc)).toEqual(Exit.succeed({ name: "root" }))
      host.close()
    }))

  it.live("runtime flags do not leak between evaluations", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const host = new InlineHost(rt)
      const r1 = host.evaluate(Effect.uninterruptible(Effect.fail("x")))
      expect(r1).toEqual(Exit.fail("x"))
      const r2 = host.evaluate(Effect.uninterruptible(Effect.flatMap(Effect.void, () => {
        throw new Error("t")
      })))
      expect(Exit.isFailure(r2 as Exit.Exit<unknown, unknown>)).toBe(true)
      expect(host.evaluate(Effect.checkInterruptible((b) => Effect.succeed(b)))).toEqual(Exit.succeed(true))
    }))

  it.live("a fiber forked by an effect that completes synchronously is interrupted at its end", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const build = (log: Log) =>
        Effect.gen(function*() {
          yield* Effect.fork(
            Effect.gen(function*() {
              log.push("child started")
              yield* Effect.sleep(5)
              log.push("child done")
            }).pipe(Effect.onInterrupt(() => push(log, "child interrupted")))
          )
          log.push("parent done")
          return "parent"
        })
      const a = yield* Effect.promise(() => reference(rt, build))
      yield* Effect.sleep(20)
      const host = new InlineHost(rt)
      const b = yield* Effect.promise(() => inline(rt, build, host))
      expect(b.suspended).toBe(false)
      yield* Effect.sleep(20)
      expect(exitShape(b.exit)).toEqual(exitShape(a.exit))
      expect(without(b.log)).toEqual(a.log)
      host.close()
    }))

  it.live("a fiber forked and left running by an effect that suspended is interrupted when the rest ends", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const build = (log: Log) =>
        Effect.gen(function*() {
          yield* Effect.fork(
            Effect.gen(function*() {
              log.push("child started")
              yield* Effect.sleep(30)
              log.push("child done")
            }).pipe(Effect.onInterrupt(() => push(log, "child interrupted")))
          )
          yield* Effect.sleep(5)
          log.push("parent done")
          return "parent"
        })
      const a = yield* Effect.promise(() => reference(rt, build))
      yield* Effect.sleep(50)
      const host = new InlineHost(rt)
      const b = yield* Effect.promise(() => inline(rt, build, host))
      expect(b.suspended).toBe(true)
      yield* Effect.sleep(50)
      expect(exitShape(b.exit)).toEqual(exitShape(a.exit))
      expect(without(b.log)).toEqual(a.log)
      host.close()
    }))

  it.live("a later synchronous evaluation does not interrupt an earlier suspended one's children", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const host = new InlineHost(rt)
      const log: Log = []
      const r = host.evaluate(Effect.gen(function*() {
        const child = yield* Effect.fork(Effect.as(Effect.sleep(10), "child value"))
        yield* Effect.sleep(1)
        return yield* Fiber.join(child)
      }))
      expect(r).toBeInstanceOf(Suspended)
      const fiber = Runtime.runFork((r as Suspended).runtime, (r as Suspended).effect)
      expect(host.evaluate(push(log, "other request"))).toEqual(Exit.void)
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(Exit.succeed("child value"))
      host.close()
    }))

  it.live("forkDaemon escapes supervision, as in Effect", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const build = (log: Log) =>
        Effect.zipRight(
          Effect.forkDaemon(Effect.zipRight(Effect.sleep(2), push(log, "daemon done"))),
          push(log, "parent")
        )
      const a = yield* Effect.promise(() => reference(rt, build))
      yield* Effect.sleep(20)
      const host = new InlineHost(rt)
      const b = yield* Effect.promise(() => inline(rt, build, host))
      yield* Effect.sleep(20)
      expect(without(b.log)).toEqual(a.log)
      expect(a.log).toEqual(["parent", "daemon done"])
      host.close()
    }))

  it.live("a budget of 10,000 steps hands a long synchronous loop to a fiber, with the right result", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const build = (log: Log) =>
        Effect.gen(function*() {
          let sum = 0
          for (let i = 0; i < 20_000; i++) sum += yield* Effect.succeed(i)
          yield* Effect.forEach(Array.from({ length: 5000 }, (_, i) => i), (i) =>
            Effect.sync(() => {
              sum += i
            }), { discard: true })
          log.push(`sum ${sum}`)
          return sum
        })
      const { inline: b } = yield* same(rt, build, false)
      expect(b.exit).toEqual(Exit.succeed(199_990_000 + 12_497_500))
      // a short one stays synchronous
      yield* same(rt, () => Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) => Effect.succeed(i)), true)
    }))
})

// ---------------------------------------------------------------------------
// region
// ---------------------------------------------------------------------------

describe("region", () => {
  const timed = (effect: Effect.Effect<unknown, unknown, never>, log: Log) =>
    region(
      effect,
      (e) => Effect.zipRight(push(log, "whenRun"), Effect.timeout(e, "50 millis")),
      (rest) => Effect.zipRight(push(log, "resume"), Effect.timeout(rest, "50 millis"))
    )

  it.live("a region that completes in place costs nothing: neither whenRun nor resume", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const log: Log = []
      const r = new InlineHost(rt).evaluate(timed(Effect.as(push(log, "inner"), 1), log))
      expect(r).toEqual(Exit.succeed(1))
      expect(log).toEqual(["inner"])
      // a fiber runs whenRun
      const log2: Log = []
      expect(yield* Effect.exit(timed(Effect.as(push(log2, "inner"), 1), log2))).toEqual(Exit.succeed(1))
      expect(log2).toEqual(["whenRun", "inner"])
    }))

  it.live("a region that waits runs its rest through resume, from where it stopped", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const log: Log = []
      const r = new InlineHost(rt).evaluate(
        Effect.gen(function*() {
          log.push("before")
          const v = yield* timed(
            Effect.gen(function*() {
              log.push("inner 1")
              yield* Effect.sleep(1)
              log.push("inner 2")
              return 2
            }),
            log
          )
          log.push(`after ${v}`)
          return v
        })
      )
      expect(r).toBeInstanceOf(Suspended)
      const exit = yield* Fiber.await(Runtime.runFork((r as Suspended).runtime, (r as Suspended).effect))
      expect(exit).toEqual(Exit.succeed(2))
      expect(log).toEqual(["before", "inner 1", "resume", "inner 2", "after 2"])
    }))

  it.live("the resumed rest of a region times out", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const log: Log = []
      const r = new InlineHost(rt).evaluate(
        timed(
          Effect.gen(function*() {
            log.push("inner 1")
            yield* Effect.sleep(Duration.seconds(5))
            log.push("never")
          }),
          log
        )
      )
      expect(r).toBeInstanceOf(Suspended)
      const exit = yield* Fiber.await(Runtime.runFork((r as Suspended).runtime, (r as Suspended).effect))
      expect(Exit.isFailure(exit) && Cause.isTimeoutException(Cause.squash(exit.cause))).toBe(true)
      expect(log).toEqual(["inner 1", "resume"])
    }))

  it.live("a region inside uninterruptible, with a suspension inside the region", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const log: Log = []
      const r = new InlineHost(rt).evaluate(
        Effect.uninterruptible(timed(
          Effect.gen(function*() {
            yield* Effect.yieldNow()
            yield* Effect.checkInterruptible((b) => push(log, `in region ${b}`))
          }),
          log
        )).pipe(Effect.zipRight(Effect.checkInterruptible((b) => push(log, `outside ${b}`))))
      )
      expect(r).toBeInstanceOf(Suspended)
      yield* Fiber.await(Runtime.runFork((r as Suspended).runtime, (r as Suspended).effect))
      // as a fiber running whenRun would see it
      const log2: Log = []
      yield* Effect.uninterruptible(timed(
        Effect.gen(function*() {
          yield* Effect.yieldNow()
          yield* Effect.checkInterruptible((b) => push(log2, `in region ${b}`))
        }),
        log2
      )).pipe(Effect.zipRight(Effect.checkInterruptible((b) => push(log2, `outside ${b}`))))
      expect(log.filter((l) => l !== "resume")).toEqual(log2.filter((l) => l !== "whenRun"))
    }))
})

// ---------------------------------------------------------------------------
// property: random programs
// ---------------------------------------------------------------------------

type P =
  | { readonly t: "succeed" }
  | { readonly t: "fail" }
  | { readonly t: "die" }
  | { readonly t: "sync" }
  | { readonly t: "throw" }
  | { readonly t: "wait"; readonly kind: "sleep" | "yield" | "async" }
  | { readonly t: "some" | "none" | "right" | "left" }
  | { readonly t: "readSvc" | "getRef" | "setRef" | "checkInt" | "taggedError" }
  | {
    readonly t: "seq" | "catchAll" | "catchAllCause" | "ensuring" | "onExit" | "mask" | "zip"
    readonly a: P
    readonly b: P
  }
  | { readonly t: "aur"; readonly a: P; readonly b: P; readonly c: P }
  | {
    readonly t: "map" | "either" | "exit" | "provide" | "locally" | "uninterruptible" | "interruptible" | "catchTag"
    readonly a: P
  }
  | { readonly t: "forEach"; readonly n: number; readonly a: P }
  | { readonly t: "gen"; readonly items: ReadonlyArray<P> }

const { prog } = fc.letrec<{ prog: P }>((tie) => ({
  prog: fc.oneof(
    { depthSize: "small", maxDepth: 5 },
    fc.constantFrom<P>(
      { t: "succeed" },
      { t: "fail" },
      { t: "die" },
      { t: "sync" },
      { t: "throw" },
      { t: "some" },
      { t: "none" },
      { t: "right" },
      { t: "left" },
      { t: "readSvc" },
      { t: "getRef" },
      { t: "setRef" },
      { t: "checkInt" },
      { t: "taggedError" }
    ),
    fc.constantFrom("sleep", "yield", "async").map((kind): P => ({ t: "wait", kind: kind as "sleep" })),
    fc.record({
      t: fc.constantFrom("seq", "catchAll", "catchAllCause", "ensuring", "onExit", "mask", "zip"),
      a: tie("prog"),
      b: tie("prog")
    }) as fc.Arbitrary<P>,
    fc.record({ t: fc.constant("aur"), a: tie("prog"), b: tie("prog"), c: tie("prog") }) as fc.Arbitrary<P>,
    fc.record({
      t: fc.constantFrom("map", "either", "exit", "provide", "locally", "uninterruptible", "interruptible", "catchTag"),
      a: tie("prog")
    }) as fc.Arbitrary<P>,
    fc.record({ t: fc.constant("forEach"), n: fc.integer({ min: 0, max: 3 }), a: tie("prog") }) as fc.Arbitrary<P>,
    fc.record({ t: fc.constant("gen"), items: fc.array(tie("prog"), { maxLength: 4 }) }) as fc.Arbitrary<P>
  )
}))

type Numbered = P & { readonly id: number; readonly kids: ReadonlyArray<Numbered> }
const number = (p: P, counter = { n: 0 }): Numbered => {
  const id = counter.n++
  const kids = "items" in p ? p.items : "c" in p ? [p.a, p.b, p.c] : "b" in p ? [p.a, p.b] : "a" in p ? [p.a] : []
  return { ...p, id, kids: kids.map((k) => number(k, counter)) } as Numbered
}

const str = (v: unknown): string =>
  typeof v === "object" && v !== null ? (Either.isEither(v) || Exit.isExit(v) ? String(v._tag) : "obj") : String(v)

const interp = (p: Numbered, log: Log): Effect.Effect<unknown, unknown, Svc> => {
  const id = p.id
  const [a, b, c] = p.kids
  const L = (s: string) => push(log, `${s}#${id}`)
  switch (p.t) {
    case "succeed":
      return Effect.succeed(id)
    case "fail":
      return Effect.fail(`e${id}`)
    case "die":
      return Effect.die(`d${id}`)
    case "sync":
      return Effect.sync(() => (log.push(`sync#${id}`), id))
    case "throw":
      return Effect.sync(() => {
        log.push(`throw#${id}`)
        throw new Error(`boom${id}`)
      })
    case "wait":
      return Effect.zipRight(
        p.kind === "sleep"
          ? Effect.sleep(1)
          : p.kind === "yield"
          ? Effect.yieldNow()
          : Effect.async<void>((resume) => {
            log.push(`register#${id}`)
            setTimeout(() => resume(Effect.void), 0)
          }),
        Effect.sync(() => (log.push(`waited#${id}`), id))
      )
    case "some":
      return Option.some(id)
    case "none":
      return Option.none()
    case "right":
      return Either.right(id)
    case "left":
      return Either.left(`l${id}`)
    case "taggedError":
      return new Boom({ n: id })
    case "readSvc":
      return Effect.map(Svc, (s) => (log.push(`svc#${id}:${s.name}`), s.name))
    case "getRef":
      return Effect.map(FiberRef.get(Ref), (n) => (log.push(`ref#${id}:${n}`), n))
    case "setRef":
      return Effect.as(FiberRef.set(Ref, id), id)
    case "checkInt":
      return Effect.checkInterruptible((i) => Effect.as(L(`int:${i}`), i))
    case "seq":
      return Effect.flatMap(interp(a, log), (v) => Effect.zipRight(L(`seq:${str(v)}`), interp(b, log)))
    case "zip":
      return Effect.map(Effect.zip(interp(a, log), interp(b, log)), ([x, y]) => `${str(x)},${str(y)}`)
    case "map":
      return Effect.map(interp(a, log), (v) => (log.push(`map#${id}:${str(v)}`), `m${str(v)}`))
    case "catchAll":
      return Effect.catchAll(interp(a, log), (e) => Effect.zipRight(L(`catch:${str(e)}`), interp(b, log)))
    case "catchTag":
      return Effect.catchTag(
        interp(a, log) as Effect.Effect<unknown, Boom, Svc>,
        "Boom",
        (e) => Effect.as(L(`boom:${e.n}`), `boom${e.n}`)
      )
    case "catchAllCause":
      return Effect.catchAllCause(
        interp(a, log),
        (cause) => Effect.zipRight(L(`cause:${JSON.stringify(causeShape(cause))}`), interp(b, log))
      )
    case "ensuring":
      return Effect.ensuring(interp(a, log), Effect.zipRight(L("fin"), Effect.exit(interp(b, log))))
    case "onExit":
      return Effect.onExit(
        interp(a, log),
        (exit) => Effect.zipRight(L(`onExit:${JSON.stringify(exitShape(exit))}`), Effect.exit(interp(b, log)))
      )
    case "aur":
      return Effect.acquireUseRelease(
        interp(a, log),
        (v) => Effect.zipRight(L(`use:${str(v)}`), interp(b, log)),
        (v, exit) => Effect.zipRight(L(`release:${str(v)}:${exit._tag}`), Effect.exit(interp(c, log)))
      )
    case "mask":
      return Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(interp(a, log), (v) => Effect.zipRight(L(`masked:${str(v)}`), restore(interp(b, log))))
      )
    case "uninterruptible":
      return Effect.uninterruptible(interp(a, log))
    case "interruptible":
      return Effect.interruptible(interp(a, log))
    case "either":
      return Effect.map(Effect.either(interp(a, log)), (e) => Either.isLeft(e) ? `L${str(e.left)}` : `R${str(e.right)}`)
    case "exit":
      return Effect.map(Effect.exit(interp(a, log)), (e) => JSON.stringify(exitShape(e)))
    case "provide":
      return Effect.provideService(interp(a, log), Svc, { name: `svc${id}` })
    case "locally":
      return Effect.locally(interp(a, log), Ref, 1000 + id)
    case "forEach":
      return Effect.forEach(
        Array.from({ length: p.n }, (_, i) => i),
        (i) => Effect.tap(interp(a, log), (v) => L(`each${i}:${str(v)}`))
      ).pipe(Effect.map((vs) => vs.map(str).join("|")))
    case "gen":
      return Effect.gen(function*() {
        let last: unknown = "empty"
        for (const item of p.kids) {
          last = yield* interp(item, log)
          log.push(`gen#${id}:${str(last)}`)
        }
        return last
      })
  }
}

const waitsIn = (p: Numbered): boolean => p.t === "wait" || p.kids.some(waitsIn)

describe("InlineHost: random programs behave as on a fiber", () => {
  it.live("property", () =>
    Effect.gen(function*() {
      const rt = yield* testRuntime
      const host = new InlineHost(rt)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(prog, async (p) => {
            const n = number(p)
            const build: Build = (log) => interp(n, log)
            const a = await reference(rt, build)
            // a fresh host, and a shared one (refs must not leak between runs)
            for (const h of [new InlineHost(rt), host]) {
              const b = await inline(rt, build, h)
              expect(exitShape(b.exit)).toEqual(exitShape(a.exit))
              expect(without(b.log)).toEqual(a.log)
              // what does not wait completes in place
              if (!waitsIn(n)) expect(b.suspended).toBe(false)
              // a program that always waits first never completes in place
            }
          }),
          { numRuns: 400 }
        )
      )
      host.close()
    }), 120_000)
})
