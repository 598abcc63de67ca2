import { Effect } from "effect"
import type { Connection } from "../Connection.ts"
import { FramingError } from "../Framing.ts"
import type { InputBudget } from "../InputBudget.ts"

/** One connection's share: the bytes its decoder holds for an incomplete message. */
export class Holder {
  held = 0
  constructor(readonly connection: Connection, readonly codec: string) {}
}

export class Budget implements InputBudget {
  private total = 0
  private evicted = 0
  /** Holders with bytes held (only those can be chosen when the budget runs out). */
  private readonly holding = new Set<Holder>()

  constructor(readonly maxBytes: number) {}

  held(): number {
    return this.total
  }

  evictions(): number {
    return this.evicted
  }

  /**
   * `holder` now holds `held` bytes. Within the budget: `undefined`. Past it,
   * the connection holding the most gives way: when that is `holder` itself
   * the error to fail its read with is returned; another is aborted now
   * (waiting for its next bytes would leave the memory held).
   */
  charge(holder: Holder, held: number): FramingError | undefined {
    const before = holder.held
    if (held === before) return undefined
    this.total += held - before
    holder.held = held
    if (held > 0) this.holding.add(holder)
    else this.holding.delete(holder)
    while (this.total > this.maxBytes) {
      let largest = holder
      for (const h of this.holding) if (h.held > largest.held) largest = h
      this.evicted++
      const error = new FramingError({
        reason: "FrameTooLarge",
        codec: largest.codec,
        limit: this.maxBytes,
        actual: this.total,
        detail: `the server's input budget is spent (${this.total} bytes held by incomplete messages, limit ${this.maxBytes}); ` +
          `this connection held the most (${largest.held})`
      })
      this.release(largest)
      if (largest === holder) return error
      Effect.runSync(largest.connection.abort)
    }
    return undefined
  }

  /** The connection is done with the budget (its pump ended). */
  release(holder: Holder): void {
    this.total -= holder.held
    holder.held = 0
    this.holding.delete(holder)
  }
}

export const make = (options: { readonly maxBytes: number }): InputBudget => {
  const maxBytes = options.maxBytes
  if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) {
    throw new RangeError(`InputBudget.make: maxBytes must be a positive integer, got ${maxBytes}`)
  }
  return new Budget(maxBytes)
}
