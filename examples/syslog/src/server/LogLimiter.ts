/**
 * Bounds the warnings one sender's garbage can produce: at most `perSecond`
 * malformed-input warnings are logged per one-second window (of Effect's
 * Clock); the rest are only counted, and the next window that logs starts
 * with one line saying how many were left out. Every malformed message is
 * still counted in the counters; only its log line is dropped.
 */

/** What to log now. */
export interface Allowance {
  /** How many of the warnings asked for may be logged. */
  readonly allowed: number
  /** Warnings left out since the last line that said so (to be reported first), or 0. */
  readonly suppressedBefore: number
}

/** A limiter of warnings per second (see the module docs). */
export class LogLimiter {
  private windowStart = Number.NEGATIVE_INFINITY
  private logged = 0
  private suppressed = 0

  constructor(readonly perSecond: number) {
    if (!Number.isInteger(perSecond) || perSecond < 0) {
      throw new RangeError(`perSecond must be an integer >= 0 (got ${perSecond})`)
    }
  }

  /** Asks to log `wanted` warnings at `now` (milliseconds). */
  take(now: number, wanted: number): Allowance {
    let suppressedBefore = 0
    if (now - this.windowStart >= 1000) {
      this.windowStart = now
      this.logged = 0
    }
    const allowed = Math.min(wanted, this.perSecond - this.logged)
    if (allowed > 0 && this.suppressed > 0) {
      suppressedBefore = this.suppressed
      this.suppressed = 0
    }
    this.logged += allowed
    this.suppressed += wanted - allowed
    return { allowed, suppressedBefore }
  }
}
