/**
 * `runMain` for Deno: runs the program's main Effect, turns SIGINT and SIGTERM
 * into an interruption of the main fiber (so every scope closes: listeners
 * stop, connections close gracefully), reports a failure, and exits with 0
 * after a signal or success, 1 after a failure. The Deno counterpart of
 * `NodeRuntime.runMain` / `BunRuntime.runMain` (`@effect/platform` has none
 * for Deno).
 *
 * @example
 * ```ts
 * import { DenoRuntime, DenoTransport } from "@wirekit/deno"
 * import { Effect, Layer } from "effect"
 * Layer.launch(app).pipe(Effect.provide(DenoTransport.layer), DenoRuntime.runMain)
 * ```
 * @since 0.1.0
 */
import { makeRunMain } from "@effect/platform/Runtime"
import type { RunMain } from "@effect/platform/Runtime"
import type { DenoNamespace } from "./deno-types.d.ts"

const deno = (): DenoNamespace => (globalThis as unknown as { Deno: DenoNamespace }).Deno

/**
 * Runs `effect` as the program; see the module docs.
 *
 * @since 0.1.0
 * @category running
 */
export const runMain: RunMain = makeRunMain(({ fiber, teardown }) => {
  const D = deno()
  // keep the event loop alive while the program runs, even with no I/O pending
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let receivedSignal = false
  const onSignal = () => {
    receivedSignal = true
    D.removeSignalListener("SIGINT", onSignal)
    D.removeSignalListener("SIGTERM", onSignal)
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  D.addSignalListener("SIGINT", onSignal)
  D.addSignalListener("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    if (!receivedSignal) {
      D.removeSignalListener("SIGINT", onSignal)
      D.removeSignalListener("SIGTERM", onSignal)
    }
    clearInterval(keepAlive)
    teardown(exit, (code) => {
      if (receivedSignal || code !== 0) D.exit(code)
    })
  })
})
