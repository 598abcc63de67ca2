import { Scheduler } from "effect"

let depth = 0

/**
 * The scheduler of a protocol connection's pump fiber: a fiber resumed from
 * a socket callback (a batch to run inline, a free slot) runs right there,
 * synchronously, instead of waiting for the next scheduler tick (a microtask,
 * and a `setTimeout` every 2048 ticks under sustained load: idle time and
 * latency on a busy server). Nested resumptions go to the default scheduler,
 * so the stack never grows. It never asks a fiber to yield: handlers do not
 * run on the pump's fiber (they are evaluated in place, or forked when they wait).
 */
export const immediate: Scheduler.Scheduler = Scheduler.make((task, priority, fiber) => {
  if (depth > 0) return Scheduler.defaultScheduler.scheduleTask(task, priority, fiber)
  depth++
  try {
    task()
  } finally {
    depth--
  }
}, () => false)
