import { Effect } from "effect"
import type { Address } from "../Address.ts"
import type { ConnectAttempt, ConnectTimeoutOptions } from "../Driver.ts"
import { ConnectError, connectReasonOf, defaultConnectTimeout } from "../Transport.ts"

/** The longest delay a runtime's `setTimeout` honours; longer ones (and Infinity) would fire at once. */
const maxDelay = 2 ** 31 - 1

/** @internal */
export const connectWithTimeout = <A>(
  address: Address,
  options: ConnectTimeoutOptions,
  start: (attempt: ConnectAttempt<A>) => (() => void) | void
): Effect.Effect<A, ConnectError> =>
  Effect.async<A, ConnectError>((resume) => {
    const timeout = options.timeout ?? defaultConnectTimeout
    let settled = false
    let cancel: (() => void) | void = undefined
    // a plain timer, not the Effect Clock: a connect timeout is wall-clock time spent in the
    // runtime's connect, also under a TestClock
    const timer = Number.isFinite(timeout) && timeout <= maxDelay
      ? setTimeout(() => {
        if (settled) return
        settled = true
        if (cancel) cancel()
        resume(Effect.fail(new ConnectError({ reason: "TimedOut", address, timeout, code: "ETIMEDOUT" })))
      }, Math.max(0, timeout))
      : undefined
    const attempt: ConnectAttempt<A> = {
      succeed: (make) => {
        if (settled) return false
        settled = true
        clearTimeout(timer)
        resume(Effect.succeed(make()))
        return true
      },
      fail: (cause) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        const code = options.errorCode(cause)
        resume(Effect.fail(new ConnectError({ reason: connectReasonOf(code), address, code, cause })))
      }
    }
    try {
      cancel = start(attempt)
    } catch (cause) {
      attempt.fail(cause)
    }
    return Effect.sync(() => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (cancel) cancel()
    })
  })
