import { describe, expect, it } from "@effect/vitest"
import { LogLimiter } from "../src/server/LogLimiter.ts"

describe("LogLimiter", () => {
  it("allows perSecond warnings per one-second window and reports the left-out ones first in the next", () => {
    const limiter = new LogLimiter(3)
    expect(limiter.take(1000, 2)).toEqual({ allowed: 2, suppressedBefore: 0 })
    expect(limiter.take(1500, 5)).toEqual({ allowed: 1, suppressedBefore: 0 })
    expect(limiter.take(1999, 1)).toEqual({ allowed: 0, suppressedBefore: 0 })
    // a new window: the 5 left out are reported with the first line it logs
    expect(limiter.take(2000, 1)).toEqual({ allowed: 1, suppressedBefore: 5 })
    expect(limiter.take(2100, 1)).toEqual({ allowed: 1, suppressedBefore: 0 })
    expect(limiter.take(2200, 4)).toEqual({ allowed: 1, suppressedBefore: 0 })
    expect(limiter.take(9000, 0)).toEqual({ allowed: 0, suppressedBefore: 0 })
    expect(limiter.take(9001, 1)).toEqual({ allowed: 1, suppressedBefore: 3 })
  })

  it("with 0 per second nothing is logged; a negative or fractional limit is refused", () => {
    const silent = new LogLimiter(0)
    expect(silent.take(0, 10)).toEqual({ allowed: 0, suppressedBefore: 0 })
    expect(silent.take(5000, 1)).toEqual({ allowed: 0, suppressedBefore: 0 })
    expect(() => new LogLimiter(-1)).toThrow(RangeError)
    expect(() => new LogLimiter(1.5)).toThrow(RangeError)
  })
})
