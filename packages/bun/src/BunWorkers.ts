/**
 * N worker processes of one program on one address, on Bun (the supervision
 * itself is `Workers` in `@wirekit/core`, the same on every runtime).
 *
 * Every worker is a child process of the same entry point (same arguments)
 * and listens on its own socket with `reusePort` (SO_REUSEPORT), which
 * `Workers.run` adds to the workers' TCP listens: the kernel spreads new
 * connections over the sockets of one address (on Linux, by a hash of the
 * connection's addresses). A listen on port 0 gets worker 1's port in every
 * worker. Linux resets the connections still waiting in a socket's accept
 * backlog when that socket closes, so a connection arriving at the instant a
 * draining worker closes its listener can be reset, unless
 * `net.ipv4.tcp_migrate_req` is 1 (Linux 5.14+), which moves them to another
 * socket of the port. Node's cluster, whose primary holds the one socket, has
 * no such window.
 *
 * @example
 * ```ts
 * import { BunRuntime } from "@effect/platform-bun"
 * import { BunTransport, BunWorkers } from "@wirekit/bun"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(Echo.layer(options)).pipe(
 *   BunWorkers.run({ workers: 4 }),
 *   Effect.provide(BunTransport.layer),
 *   BunRuntime.runMain
 * )
 * ```
 * @since 0.1.0
 */
import type { Transport } from "@wirekit/core"
import { Workers } from "@wirekit/core"
import { Effect } from "effect"
import { dual } from "effect/Function"
import { spawn } from "node:child_process"
import * as BunTransport from "./BunTransport.ts"

/**
 * The `Workers.Platform` of Bun: workers are child processes of this entry
 * point, run by the same `bun` with the same arguments.
 *
 * @since 0.1.0
 * @category platform
 */
export const platform = (): Workers.Platform => ({
  name: "bun",
  pid: process.pid,
  env: (name) => process.env[name],
  memory: () => process.memoryUsage.rss(),
  reusePort: true,
  control: BunTransport.transport,
  spawn: (env) =>
    Effect.try({
      try: () => {
        const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
          stdio: ["ignore", "inherit", "inherit"],
          env: { ...process.env, ...env }
        })
        const exited = new Promise<Workers.ProcessExit>((resolve) =>
          child.once("exit", (code, signal) => resolve({ code: signal ? null : code, signal: signal ?? null }))
        )
        // a failed spawn is reported here and then as an exit
        child.on("error", () => {})
        return {
          pid: child.pid,
          exited: Effect.promise(() => exited),
          kill: (signal) => {
            child.kill(signal)
          }
        } satisfies Workers.WorkerProcess
      },
      catch: (cause) => new Workers.WorkersError({ reason: "Spawn", detail: `cannot start ${process.execPath}`, cause })
    }),
  onHangup: (f) =>
    Effect.acquireRelease(
      Effect.sync(() => process.on("SIGHUP", f)),
      () => Effect.sync(() => process.removeListener("SIGHUP", f))
    ).pipe(Effect.asVoid)
})

/**
 * Runs `program` as `options.workers` processes of this entry point, each
 * listening with `reusePort` (see `Workers.run`): the primary supervises,
 * each worker runs `program` with `Workers.WorkerInfo`; with 1 worker,
 * `program` runs here. Provide the transport after it
 * (`Effect.provide(BunTransport.layer)`).
 *
 * @since 0.1.0
 * @category running
 */
export const run: {
  (
    options: Workers.Options
  ): <A, E, R>(
    program: Effect.Effect<A, E, R>
  ) => Effect.Effect<void, E | Workers.WorkersError, Exclude<R, Workers.WorkerInfo> | Transport.Transport>
  <A, E, R>(
    program: Effect.Effect<A, E, R>,
    options: Workers.Options
  ): Effect.Effect<void, E | Workers.WorkersError, Exclude<R, Workers.WorkerInfo> | Transport.Transport>
} = dual(
  2,
  <A, E, R>(program: Effect.Effect<A, E, R>, options: Workers.Options) => Workers.run(platform(), program, options)
)
