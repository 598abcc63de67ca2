import { Clock, Duration, Effect } from "effect"
import type { Connection } from "../Connection.ts"
import { FramingError } from "../Framing.ts"
import type { InputBudget, InputBudgetOptions } from "../InputBudget.ts"

/** One connection's share: the bytes its decoder holds for an incomplete message. */
export class Holder {
  held = 0
  /** When its incomplete message began, as a sequence number (lower: older). */
  since = 0
  constructor(readonly connection: Connection, readonly codec: string) {}
}

const budgetError = (holder: Holder, limit: number, actual: number, detail: string): FramingError =>
  new FramingError({ reason: "FrameTooLarge", codec: holder.codec, limit, actual, detail })

export class Budget implements InputBudget {
  private total = 0
  private evicted = 0
  private started = 0
  private paused = 0
  /** Holders with bytes held (only those can be chosen to give way). */
  private readonly holding = new Set<Holder>()
  /** Readers paused until the total is back within `maxBytes`. */
  private waiters: Array<() => void> = []
  /** Clock time of the last eviction of the oldest partial message. */
  private lastEviction = Number.NEGATIVE_INFINITY

  constructor(readonly maxBytes: number, readonly hardBytes: number, readonly evictAfterMillis: number) {}

  held(): number {
    return this.total
  }

  evictions(): number {
    return this.evicted
  }

  pauses(): number {
    return this.paused
  }

  /**
   * `holder` now holds `held` bytes. `undefined`, or the error to fail this
   * connection's read with: its message alone is past the budget, or its
   * read took the total past `hardBytes` (every paused reader's last read
   * counted).
   */
  charge(holder: Holder, held: number): FramingError | undefined {
    const before = holder.held
    if (held === before) return undefined
    this.total += held - before
    holder.held = held
    if (held > 0) {
      if (before === 0) {
        holder.since = ++this.started
        this.holding.add(holder)
      }
    } else {
      this.holding.delete(holder)
    }
    if (held > this.maxBytes) {
      this.evicted++
      this.release(holder)
      return budgetError(
        holder,
        this.maxBytes,
        held,
        `one incomplete message holds ${held} bytes, more than the server's whole input budget (${this.maxBytes})`
      )
    }
    if (this.total > this.hardBytes) {
      // the read that took the total past the hard bound is the one to give way: its bytes are
      // all it read (closing an older holder would throw away more bytes already read)
      this.evicted++
      const total = this.total
      this.release(holder)
      return budgetError(
        holder,
        this.maxBytes,
        total,
        `the server's input budget is spent (${total} bytes held by incomplete messages, limit ${this.maxBytes}, hard limit ${this.hardBytes}); ` +
          `this connection's read took it past the hard limit (it held ${held})`
      )
    }
    if (held < before) this.wake()
    return undefined
  }

  /** True when a reader holding bytes must wait ({@link Budget.room}) before reading more. */
  mustWait(holder: Holder): boolean {
    return this.total > this.maxBytes && holder.held > 0
  }

  /**
   * Waits until the total is back within `maxBytes`. While it is not, every
   * `evictAfter` the connection whose incomplete message is the oldest is
   * closed (the memory it holds comes back): a peer that stopped halfway
   * cannot keep the others waiting. Fails when that connection is this one.
   */
  room(holder: Holder): Effect.Effect<void, FramingError> {
    const wait = Effect.async<void>((resume) => {
      const waiter = () => resume(Effect.void)
      this.waiters.push(waiter)
      return Effect.sync(() => {
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) this.waiters.splice(i, 1)
      })
    })
    const evictAfter = Duration.millis(this.evictAfterMillis)
    const loop: Effect.Effect<void, FramingError> = Effect.suspend(() => {
      if (!this.mustWait(holder)) return Effect.void
      return Effect.zipRight(
        Effect.raceFirst(wait, Effect.sleep(evictAfter)),
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (this.mustWait(holder) && now - this.lastEviction >= this.evictAfterMillis) {
            this.lastEviction = now
            const error = this.evictOldest(holder)
            if (error !== undefined) return Effect.fail(error)
          }
          return loop
        })
      )
    })
    return Effect.suspend(() => {
      if (!this.mustWait(holder)) return Effect.void
      this.paused++
      return loop
    })
  }

  /** Closes the connection whose incomplete message began first; the error for `holder` when it is that one. */
  private evictOldest(holder: Holder): FramingError | undefined {
    let oldest: Holder | undefined
    for (const h of this.holding) if (oldest === undefined || h.since < oldest.since) oldest = h
    if (oldest === undefined) return undefined
    this.evicted++
    const error = budgetError(
      oldest,
      this.maxBytes,
      this.total,
      `the server's input budget is spent (${this.total} bytes held by incomplete messages, limit ${this.maxBytes}) ` +
        `and others wait for it: this connection's incomplete message is the oldest (${oldest.held} bytes)`
    )
    this.release(oldest)
    if (oldest === holder) return error
    Effect.runSync(oldest.connection.abort)
    return undefined
  }

  /** The connection is done with the budget (its pump ended). */
  release(holder: Holder): void {
    if (holder.held === 0) return
    this.total -= holder.held
    holder.held = 0
    this.holding.delete(holder)
    this.wake()
  }

  private wake(): void {
    if (this.waiters.length === 0 || this.total > this.maxBytes) return
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}

/** Long enough that evictions (whose bytes were read for nothing) stay rare under attack. */
const DEFAULT_EVICT_AFTER = 5000

const positive = (name: string, n: number): number => {
  if (!(Number.isSafeInteger(n) && n > 0)) {
    throw new RangeError(`InputBudget.make: ${name} must be a positive integer, got ${n}`)
  }
  return n
}

export const make = (options: InputBudgetOptions): InputBudget => {
  const maxBytes = positive("maxBytes", options.maxBytes)
  const hardBytes = positive("hardBytes", options.hardBytes ?? maxBytes + Math.ceil(maxBytes / 4))
  if (hardBytes < maxBytes) {
    throw new RangeError(`InputBudget.make: hardBytes (${hardBytes}) must be at least maxBytes (${maxBytes})`)
  }
  const evictAfter = options.evictAfter === undefined
    ? DEFAULT_EVICT_AFTER
    : Duration.toMillis(Duration.decode(options.evictAfter))
  if (!(evictAfter >= 0 && Number.isFinite(evictAfter))) {
    throw new RangeError(`InputBudget.make: evictAfter must be a finite duration, got ${evictAfter}ms`)
  }
  return new Budget(maxBytes, hardBytes, evictAfter)
}
