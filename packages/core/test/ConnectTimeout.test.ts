/**
 * The connect timeout adapters share (`Driver.connectWithTimeout`), against a
 * fake connect the test settles by hand. Real timers: the timeout is
 * wall-clock time, not the Effect Clock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option } from "effect"
import * as Driver from "../src/Driver.ts"
import type { ConnectError } from "../src/Transport.ts"

const address = { host: "192.0.2.7", port: 4242 }
const errorCode = (cause: unknown) => (cause as { readonly code?: string } | undefined)?.code

/** A connect that settles only when the test says so; counts its cancellations. */
const manual = () => {
  const state = {
    attempt: undefined as Driver.ConnectAttempt<string> | undefined,
    cancels: 0,
    made: 0
  }
  const start = (attempt: Driver.ConnectAttempt<string>) => {
    state.attempt = attempt
    return () => {
      state.cancels++
    }
  }
  const make = () => {
    state.made++
    return "socket"
  }
  return { state, start, make }
}

const sleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

describe("connectWithTimeout", () => {
  it.live("succeeds with what `make` builds; the timer is cleared and nothing is cancelled", () =>
    Effect.gen(function*() {
      const m = manual()
      const fiber = yield* Effect.fork(Driver.connectWithTimeout(address, { timeout: 30, errorCode }, m.start))
      yield* sleep(5)
      expect(m.state.attempt!.succeed(m.make)).toBe(true)
      expect(yield* Fiber.join(fiber)).toBe("socket")
      // past the timeout: it never fires
      yield* sleep(60)
      expect(m.state.cancels).toBe(0)
      expect(m.state.attempt!.succeed(m.make)).toBe(false)
      expect(m.state.made).toBe(1)
    }))

  it.live("times out with TimedOut (the timeout and ETIMEDOUT), cancels the connect once; a late success is refused without `make`", () =>
    Effect.gen(function*() {
      const m = manual()
      const started = Date.now()
      const err = yield* Effect.flip(Driver.connectWithTimeout(address, { timeout: 40, errorCode }, m.start))
      expect(Date.now() - started).toBeGreaterThanOrEqual(35)
      expect(err._tag).toBe("ConnectError")
      expect(err).toMatchObject({ reason: "TimedOut", timeout: 40, code: "ETIMEDOUT", address })
      expect(m.state.cancels).toBe(1)
      expect(m.state.attempt!.succeed(m.make)).toBe(false)
      m.state.attempt!.fail(new Error("late"))
      expect(m.state.made).toBe(0)
      expect(m.state.cancels).toBe(1)
    }))

  it.live("a failure maps its code to the reason and keeps the cause; later outcomes are ignored", () =>
    Effect.gen(function*() {
      const m = manual()
      const fiber = yield* Effect.fork(Driver.connectWithTimeout(address, { timeout: 1000, errorCode }, m.start))
      yield* sleep(1)
      const cause = Object.assign(new Error("refused"), { code: "ECONNREFUSED" })
      m.state.attempt!.fail(cause)
      expect(m.state.attempt!.succeed(m.make)).toBe(false)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      const err = yield* Effect.flip(exit)
      expect(err).toMatchObject({ reason: "Refused", code: "ECONNREFUSED", cause, address })
      expect(m.state.cancels).toBe(0)
    }))

  it.live("a start that throws fails the attempt", () =>
    Effect.gen(function*() {
      const boom = Object.assign(new Error("no such host"), { code: "ENOTFOUND" })
      const err = yield* Effect.flip(Driver.connectWithTimeout<string>(address, { timeout: 1000, errorCode }, () => {
        throw boom
      }))
      expect(err).toMatchObject({ reason: "NotFound", code: "ENOTFOUND", cause: boom })
    }))

  it.live("an interrupt cancels the connect and clears the timer", () =>
    Effect.gen(function*() {
      const m = manual()
      const fiber = yield* Effect.fork(Driver.connectWithTimeout(address, { timeout: 30, errorCode }, m.start))
      yield* sleep(5)
      yield* Fiber.interrupt(fiber)
      expect(m.state.cancels).toBe(1)
      yield* sleep(60)
      expect(m.state.cancels).toBe(1)
      expect(m.state.attempt!.succeed(m.make)).toBe(false)
    }))

  it.live("no timer for a timeout the runtime's setTimeout cannot hold (Infinity, past 2^31 - 1 ms)", () =>
    Effect.gen(function*() {
      for (const timeout of [Infinity, 2 ** 31, Number.NaN]) {
        const m = manual()
        const result = yield* Driver.connectWithTimeout(address, { timeout, errorCode }, m.start).pipe(
          Effect.timeoutOption("50 millis")
        )
        expect(Option.isNone(result)).toBe(true)
        expect(m.state.cancels).toBe(1)
      }
    }))

  it.live("timeout 0 times out at once, unless the connect settles synchronously", () =>
    Effect.gen(function*() {
      const slow = manual()
      const err: ConnectError = yield* Effect.flip(
        Driver.connectWithTimeout(address, { timeout: 0, errorCode }, slow.start)
      )
      expect(err.reason).toBe("TimedOut")
      expect(err.timeout).toBe(0)
      const value = yield* Driver.connectWithTimeout<string>(address, { timeout: 0, errorCode }, (attempt) => {
        attempt.succeed(() => "now")
      })
      expect(value).toBe("now")
    }))
})
