/**
 * N worker processes of one program on one address, on Deno (the
 * supervision itself is `Workers` in `@wirekit/core`, the same on every
 * runtime).
 *
 * Every worker is a `deno run` of the same main module (same arguments) with
 * `--unstable-net` added, since Deno's `reusePort` needs it, and listens on
 * its own socket with `reusePort` (SO_REUSEPORT), which `Workers.run` adds
 * to the workers' TCP listens: the kernel spreads new connections over the
 * sockets of one address (on Linux, by a hash of the connection's
 * addresses). A listen on port 0 gets worker 1's port in every worker. Linux
 * resets connections still waiting in a socket's backlog when it closes, so
 * a connection arriving at the instant a draining worker closes its
 * listener can be reset, unless `net.ipv4.tcp_migrate_req` is 1 (Linux
 * 5.14+), which moves them to another socket of the port. Node's cluster,
 * whose primary holds the one socket, has no such window.
 *
 * Permissions: a worker gets the permissions the primary holds in full
 * (`-A` when it holds them all, else `--allow-net`, `--allow-read`, ... for
 * each one granted); a permission granted only in part (`--allow-net=host`)
 * is not passed on: give the flags with `flags` then. The primary needs
 * `--allow-run` to start the workers and `--allow-env` for them to read
 * their identity.
 *
 * @example
 * ```ts
 * import { DenoRuntime, DenoTransport, DenoWorkers } from "@wirekit/deno"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(Echo.layer(options)).pipe(
 *   DenoWorkers.run({ workers: 4 }),
 *   Effect.provide(DenoTransport.layer),
 *   DenoRuntime.runMain
 * )
 * ```
 * @since 0.1.0
 */
import type { Transport } from "@wirekit/core"
import { Workers } from "@wirekit/core"
import { Effect } from "effect"
import { dual } from "effect/Function"
import * as DenoTransport from "./DenoTransport.ts"

/** The slice of the `Deno` global this module uses. */
interface DenoProcessApi {
  readonly Command: new(command: string, options: {
    readonly args: ReadonlyArray<string>
    readonly env?: Readonly<Record<string, string>>
    readonly stdin?: "null" | "inherit"
    readonly stdout?: "inherit"
    readonly stderr?: "inherit"
  }) => { spawn(): DenoChild }
  execPath(): string
  readonly mainModule: string
  readonly args: ReadonlyArray<string>
  readonly pid: number
  readonly env: { get(name: string): string | undefined }
  memoryUsage(): { readonly rss: number }
  readonly permissions: {
    querySync(desc: { readonly name: string }): { readonly state: "granted" | "prompt" | "denied" }
  }
  addSignalListener(signal: "SIGHUP", handler: () => void): void
  removeSignalListener(signal: "SIGHUP", handler: () => void): void
}

interface DenoChild {
  readonly pid: number
  readonly status: Promise<{ readonly code: number; readonly signal: string | null }>
  kill(signal?: string): void
}

const deno = (): DenoProcessApi => (globalThis as unknown as { readonly Deno: DenoProcessApi }).Deno

/** The permissions a worker may need, as `deno run` flags. */
const permissions = ["read", "write", "net", "env", "run", "sys", "ffi"] as const

/** The permission flags of this process, for its workers (see the module docs). */
const inheritedFlags = (): ReadonlyArray<string> => {
  const D = deno()
  const granted = permissions.filter((name) => {
    try {
      return D.permissions.querySync({ name }).state === "granted"
    } catch {
      return false
    }
  })
  return granted.length === permissions.length ? ["-A"] : granted.map((name) => `--allow-${name}`)
}

/**
 * Options of {@link run}: those of `Workers.Options`, and the `deno run`
 * flags of the workers.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options extends Workers.Options {
  /**
   * The workers' `deno run` flags (permissions, config); `--unstable-net` is
   * always added. Default: the permissions this process holds in full.
   */
  readonly flags?: ReadonlyArray<string> | undefined
}

/**
 * The `Workers.Platform` of Deno: workers are `deno run --unstable-net` of
 * this main module with the same arguments.
 *
 * @since 0.1.0
 * @category platform
 */
export const platform = (options?: { readonly flags?: ReadonlyArray<string> | undefined }): Workers.Platform => ({
  name: "deno",
  pid: deno().pid,
  env: (name) => {
    try {
      return deno().env.get(name)
    } catch {
      // no --allow-env: not a worker we started
      return undefined
    }
  },
  memory: () => deno().memoryUsage().rss,
  reusePort: true,
  control: DenoTransport.transport,
  spawn: (env) =>
    Effect.try({
      try: () => {
        const D = deno()
        const flags = [...(options?.flags ?? inheritedFlags())]
        if (!flags.includes("--unstable-net")) flags.push("--unstable-net")
        const child = new D.Command(D.execPath(), {
          args: ["run", ...flags, D.mainModule, ...D.args],
          env,
          stdin: "null",
          stdout: "inherit",
          stderr: "inherit"
        }).spawn()
        const exited = child.status.then(
          (s): Workers.ProcessExit => ({ code: s.signal ? null : s.code, signal: s.signal ?? null }),
          (): Workers.ProcessExit => ({ code: null, signal: null })
        )
        return {
          pid: child.pid,
          exited: Effect.promise(() => exited),
          kill: (signal) => {
            try {
              child.kill(signal)
            } catch {
              // already gone
            }
          }
        } satisfies Workers.WorkerProcess
      },
      catch: (cause) =>
        new Workers.WorkersError({
          reason: "Spawn",
          detail: "cannot start a deno worker (does the primary have --allow-run?)",
          cause
        })
    }),
  onHangup: (f) =>
    Effect.acquireRelease(
      Effect.sync(() => deno().addSignalListener("SIGHUP", f)),
      () => Effect.sync(() => deno().removeSignalListener("SIGHUP", f))
    )
})

/**
 * Runs `program` as `options.workers` processes of this main module, each
 * listening with `reusePort` (see `Workers.run`): the primary supervises,
 * each worker runs `program` with `Workers.WorkerInfo`; with 1 worker,
 * `program` runs here. Provide the transport after it
 * (`Effect.provide(DenoTransport.layer)`).
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
