import { it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { expect } from "vitest"
import type { Deadline } from "../src/internal/deadlines.ts"
import { Deadlines } from "../src/internal/deadlines.ts"

it.effect("deadlines fire in time order, on the Clock, each once; cancelled ones never", () =>
  Effect.gen(function*() {
    const d = new Deadlines(yield* Effect.clock)
    const fired: Array<string> = []
    d.add(300, () => fired.push("c"))
    const b = d.add(200, () => fired.push("b"))
    d.add(100, () => fired.push("a"))
    d.add(200, () => fired.push("b2"))
    d.cancel(b)
    d.cancel(b)
    expect(d.size).toBe(3)
    yield* TestClock.adjust("99 millis")
    expect(fired).toEqual([])
    yield* TestClock.adjust("1 millis")
    expect(fired).toEqual(["a"])
    yield* TestClock.adjust("250 millis")
    expect(fired).toEqual(["a", "b2", "c"])
    expect(d.size).toBe(0)
  }))

it.effect("a deadline earlier than the armed one re-arms the timer; one added later does not delay it", () =>
  Effect.gen(function*() {
    const d = new Deadlines(yield* Effect.clock)
    const fired: Array<number> = []
    d.add(1000, () => fired.push(1000))
    d.add(10, () => fired.push(10))
    yield* TestClock.adjust("10 millis")
    expect(fired).toEqual([10])
    d.add(5000, () => fired.push(5000))
    yield* TestClock.adjust("990 millis")
    expect(fired).toEqual([10, 1000])
    yield* TestClock.adjust("4009 millis")
    expect(fired).toEqual([10, 1000])
    yield* TestClock.adjust("1 millis")
    expect(fired).toEqual([10, 1000, 5000])
  }))

it.effect("10,000 deadlines (50 distinct times) added and cancelled at random fire in time order", () =>
  Effect.gen(function*() {
    const d = new Deadlines(yield* Effect.clock)
    const fired: Array<number> = []
    const live = new Set<number>()
    const handles: Array<{ at: number; h: Deadline }> = []
    let seed = 7
    const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647
    for (let i = 0; i < 10_000; i++) {
      const at = Math.floor(rand() * 50)
      handles.push({ at, h: d.add(at, () => fired.push(at)) })
      live.add(i)
    }
    for (let i = 0; i < 10_000; i += 3) {
      d.cancel(handles[i]!.h)
      live.delete(i)
    }
    yield* TestClock.adjust("1000 millis")
    const expected = [...live].map((i) => handles[i]!.at).sort((a, b) => a - b)
    expect(fired).toEqual(expected)
  }))

it.effect("close: nothing fires afterwards", () =>
  Effect.gen(function*() {
    const d = new Deadlines(yield* Effect.clock)
    const fired: Array<number> = []
    d.add(10, () => fired.push(1))
    d.close()
    yield* TestClock.adjust("1 second")
    expect(fired).toEqual([])
  }))
