/**
 * N worker processes of one program on one address, on Node: `node:cluster`
 * (the supervision itself is `Workers` in `@wirekit/core`, the same on every
 * runtime).
 *
 * Why cluster: Node 20's `net` has no `reusePort` (the option is ignored),
 * so a second process listening on a port gets EADDRINUSE. Under
 * `node:cluster` a worker's listen is handed to the primary, which holds one
 * socket for all workers of that address (a listen on port 0 gets the same
 * port in every worker).
 *
 * How connections reach the workers (`scheduling`):
 * - `"round-robin"` (Node's default except on Windows): the primary accepts
 *   every connection and passes it to the workers in turn. The spread is
 *   even; the primary's event loop does every accept and hands each socket
 *   over IPC.
 * - `"os"`: every worker accepts from the shared socket itself and the
 *   kernel decides who gets a connection, which can be uneven (the workers
 *   woken first take most).
 * The `NODE_CLUSTER_SCHED_POLICY` environment variable (`rr` or `none`)
 * sets the same when `scheduling` is not given.
 *
 * A primary that dies without its shutdown (SIGKILL) takes its workers
 * with it: Node ends a cluster worker whose channel to the primary closes,
 * at once, without a drain (Bun and Deno workers drain when their control
 * connection closes).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { NodeTransport, NodeWorkers } from "@wirekit/node"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(Echo.layer(options)).pipe(
 *   NodeWorkers.run({ workers: 4 }),
 *   Effect.provide(NodeTransport.layer),
 *   NodeRuntime.runMain
 * )
 * ```
 * @since 0.1.0
 */
import type { Transport } from "@wirekit/core"
import { Workers } from "@wirekit/core"
import { Effect } from "effect"
import { dual } from "effect/Function"
import cluster from "node:cluster"
import * as NodeTransport from "./NodeTransport.ts"

/**
 * Options of {@link run}: those of `Workers.Options`, and how the cluster
 * spreads connections.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options extends Workers.Options {
  /** See the module docs. Default: Node's (round-robin, except on Windows). */
  readonly scheduling?: "round-robin" | "os" | undefined
}

/**
 * The `Workers.Platform` of Node: workers are `cluster.fork()`s of this
 * entry point (same arguments, same `execArgv`).
 *
 * @since 0.1.0
 * @category platform
 */
export const platform = (options?: { readonly scheduling?: "round-robin" | "os" | undefined }): Workers.Platform => ({
  name: "node",
  pid: process.pid,
  env: (name) => process.env[name],
  memory: () => process.memoryUsage.rss(),
  reusePort: false,
  control: NodeTransport.transport,
  spawn: (env) =>
    Effect.try({
      try: () => {
        // read by cluster when it starts its first worker
        if (options?.scheduling !== undefined && Object.keys(cluster.workers ?? {}).length === 0) {
          cluster.schedulingPolicy = options.scheduling === "os" ? cluster.SCHED_NONE : cluster.SCHED_RR
        }
        const worker = cluster.fork(env)
        const exited = new Promise<Workers.ProcessExit>((resolve) =>
          worker.once("exit", (code, signal) => resolve({ code: signal ? null : code, signal: signal || null }))
        )
        // a failed fork is reported here and then as an exit
        worker.on("error", () => {})
        return {
          pid: worker.process.pid,
          exited: Effect.promise(() => exited),
          kill: (signal) => {
            try {
              worker.process.kill(signal)
            } catch {
              // already gone
            }
          }
        } satisfies Workers.WorkerProcess
      },
      catch: (cause) => new Workers.WorkersError({ reason: "Spawn", detail: "cluster.fork failed", cause })
    }),
  onHangup: (f) =>
    Effect.acquireRelease(
      Effect.sync(() => process.on("SIGHUP", f)),
      () => Effect.sync(() => process.removeListener("SIGHUP", f))
    ).pipe(Effect.asVoid),
  // a worker stays in the cluster (its IPC channel keeps the process alive) until it leaves
  release: () => cluster.worker?.disconnect()
})

/**
 * Runs `program` as `options.workers` processes of this entry point under
 * `node:cluster` (see `Workers.run`): the primary supervises, each worker
 * runs `program` with `Workers.WorkerInfo`; with 1 worker, `program` runs
 * here. Provide the transport after it (`Effect.provide(NodeTransport.layer)`).
 *
 * @since 0.1.0
 * @category running
 */
export const run: {
  (
    options: Options
  ): <A, E, R>(
    program: Effect.Effect<A, E, R>
  ) => Effect.Effect<void, E | Workers.WorkersError, Exclude<R, Workers.WorkerInfo> | Transport.Transport>
  <A, E, R>(
    program: Effect.Effect<A, E, R>,
    options: Options
  ): Effect.Effect<void, E | Workers.WorkersError, Exclude<R, Workers.WorkerInfo> | Transport.Transport>
} = dual(
  2,
  <A, E, R>(program: Effect.Effect<A, E, R>, options: Options) => Workers.run(platform(options), program, options)
)
