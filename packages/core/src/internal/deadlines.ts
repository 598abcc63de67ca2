import { Duration, Effect, FiberId } from "effect"
import type { Clock, Fiber } from "effect"

/** A scheduled callback; pass it to {@link Deadlines.cancel}. */
export interface Deadline {
  /** When it fires, in the Clock's milliseconds. */
  readonly at: number
  /** Position in the heap; -1 once fired or cancelled. */
  index: number
  readonly fire: () => void
}

/**
 * Many timeouts on one Clock-driven timer: a min-heap of deadlines and one
 * sleeping fiber for the earliest. Adding and cancelling are O(log n) and
 * allocate one small object; no timer is created per deadline. The timer is
 * re-armed only for a deadline earlier than the one it sleeps for, so with
 * one timeout for everything (deadlines in increasing order) it wakes at most
 * about once per timeout period, however many requests come and go.
 *
 * Every wait goes through the given `Clock`, so tests drive it with
 * `TestClock`.
 */
export class Deadlines {
  private readonly heap: Array<Deadline> = []
  private timer: Fiber.RuntimeFiber<void> | undefined
  /** Which arming the running timer belongs to (a zero wait may complete during the fork). */
  private token: object | undefined
  private armedAt = Infinity
  private closed = false

  constructor(private readonly clock: Clock.Clock) {}

  /** Calls `fire` after `ms` milliseconds, unless cancelled first. */
  add(ms: number, fire: () => void): Deadline {
    const deadline: Deadline = { at: this.clock.unsafeCurrentTimeMillis() + ms, index: this.heap.length, fire }
    this.heap.push(deadline)
    this.up(deadline.index)
    if (deadline.at < this.armedAt) this.arm(deadline.at)
    return deadline
  }

  /** Forgets `deadline` (a no-op once it fired or was cancelled). */
  cancel(deadline: Deadline): void {
    const i = deadline.index
    if (i < 0) return
    deadline.index = -1
    const last = this.heap.pop()!
    if (last === deadline) return
    this.heap[i] = last
    last.index = i
    this.down(i)
    this.up(last.index)
  }

  /** Deadlines waiting. */
  get size(): number {
    return this.heap.length
  }

  /** Stops the timer; nothing fires afterwards. */
  close(): void {
    this.closed = true
    for (const d of this.heap) d.index = -1
    this.heap.length = 0
    this.disarm()
  }

  private disarm(): void {
    const timer = this.timer
    this.timer = undefined
    this.token = undefined
    this.armedAt = Infinity
    if (timer !== undefined) timer.unsafeInterruptAsFork(FiberId.none)
  }

  private arm(at: number): void {
    if (this.closed) return
    this.disarm()
    this.armedAt = at
    const wait = Math.max(0, at - this.clock.unsafeCurrentTimeMillis())
    const token = {}
    this.token = token
    // yield first: nothing fires from inside `add`, even for a zero wait
    const timer = Effect.runFork(
      Effect.yieldNow().pipe(
        Effect.zipRight(this.clock.sleep(Duration.millis(wait))),
        Effect.zipRight(Effect.sync(() => this.expire(token)))
      )
    )
    if (this.token === token) this.timer = timer
  }

  private expire(token: object): void {
    if (this.token !== token) return
    this.timer = undefined
    this.token = undefined
    this.armedAt = Infinity
    const now = this.clock.unsafeCurrentTimeMillis()
    const heap = this.heap
    while (heap.length > 0 && heap[0]!.at <= now) {
      const first = heap[0]!
      this.cancel(first)
      first.fire()
    }
    if (heap.length > 0 && heap[0]!.at < this.armedAt) this.arm(heap[0]!.at)
  }

  private up(i: number): void {
    const heap = this.heap
    const item = heap[i]!
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = heap[p]!
      if (parent.at <= item.at) break
      heap[i] = parent
      parent.index = i
      i = p
    }
    heap[i] = item
    item.index = i
  }

  private down(i: number): void {
    const heap = this.heap
    const n = heap.length
    const item = heap[i]!
    while (true) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && heap[r]!.at < heap[l]!.at ? r : l
      const child = heap[c]!
      if (child.at >= item.at) break
      heap[i] = child
      child.index = i
      i = c
    }
    heap[i] = item
    item.index = i
  }
}
