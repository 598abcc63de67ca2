import type { Fiber } from "effect"
import { FiberRef, Scheduler } from "effect"

type Task = () => void

/**
 * A scheduler for I/O-driven fibers. A fiber resumed from an I/O callback (data
 * arrived, the socket drained) runs at once on the callback's stack instead of
 * after a microtask hop; fibers woken while another one runs are queued and
 * run right after it (a trampoline: no re-entrancy, no deep stacks).
 * Cooperative yields (a fiber past its op budget) and anything beyond
 * `maxBatch` tasks in one turn go to Effect's default scheduler, so a busy
 * fiber can never starve the event loop.
 */
export class IoScheduler implements Scheduler.Scheduler {
  private queue: Array<Task> = []
  private running = false
  private readonly yielding = new WeakSet<Fiber.RuntimeFiber<unknown, unknown>>()

  constructor(private readonly fallback: Scheduler.Scheduler, private readonly maxBatch = 4096) {}

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    if (fiber.currentOpCount > fiber.getFiberRef(FiberRef.currentMaxOpsBeforeYield)) {
      this.yielding.add(fiber)
      return fiber.getFiberRef(FiberRef.currentSchedulingPriority)
    }
    return false
  }

  scheduleTask(task: Task, priority: number, fiber?: Fiber.RuntimeFiber<unknown, unknown>): void {
    if (fiber !== undefined && this.yielding.has(fiber)) {
      this.yielding.delete(fiber)
      return this.fallback.scheduleTask(task, priority, fiber)
    }
    if (this.running) {
      if (this.queue.length >= this.maxBatch) return this.fallback.scheduleTask(task, priority, fiber)
      this.queue.push(task)
      return
    }
    this.running = true
    try {
      task()
      for (let i = 0; i < this.queue.length; i++) this.queue[i]!()
    } finally {
      this.queue = []
      this.running = false
    }
  }
}

/** The process-wide I/O scheduler. */
export const ioScheduler: Scheduler.Scheduler = new IoScheduler(Scheduler.defaultScheduler)
