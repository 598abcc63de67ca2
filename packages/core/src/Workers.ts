/**
 * Workers: one program on every core of a machine. N worker processes of the
 * same program serve the same address; a primary process supervises them.
 *
 * ```
 *   primary (supervisor, no connections)
 *     ├─ worker 1: program ─▶ listen 0.0.0.0:7000 ┐
 *     ├─ worker 2: program ─▶ listen 0.0.0.0:7000 ├─ one port, connections spread over the workers
 *     └─ worker N: program ─▶ listen 0.0.0.0:7000 ┘
 * ```
 *
 * The program is the one a single process runs (`Layer.launch` of a
 * `Server` or `ProtocolServer` layer); `run` decides what this process is:
 * - with 1 worker it runs the program here, with {@link WorkerInfo} set to
 *   {@link single};
 * - in the primary it starts N processes of the same entry point and
 *   supervises them; it serves no connection itself;
 * - in a worker (its environment says which) it runs the program with
 *   {@link WorkerInfo} (id 1..N), every log line annotated `worker=<id>`.
 *
 * How workers share one address is the runtime's (see each adapter:
 * `NodeWorkers` uses `node:cluster`, whose primary holds the socket;
 * `BunWorkers` and `DenoWorkers` give every worker its own socket with
 * `reusePort` and the kernel spreads connections). A worker's listens go
 * through a {@link Transport.Transport} that adds what the runtime needs, so
 * provide the transport outside `run`, as below. A listen on port 0 gets
 * the same port in every worker.
 *
 * Supervision, the same on every runtime:
 * - Start: worker 1 first, then the others; the start fails (the primary
 *   exits 1) if one exits before it is ready or is not ready within
 *   `readyTimeout`. A worker is ready once its first listen succeeded.
 * - A worker that dies (exit code other than 0, or a signal) is started
 *   again after a backoff (`restartDelay`, doubling up to `maxRestartDelay`;
 *   it starts over once a worker served for a minute). Past
 *   `maxRestartsPerMinute` restarts of one worker within a minute the
 *   primary stops every worker and fails with `TooManyRestarts`: a crash
 *   loop does not spin. A worker that exits with 0 on its own (it got
 *   SIGINT or SIGTERM itself) is not replaced; once none is left the
 *   primary exits 0.
 * - SIGINT or SIGTERM on the primary (`runMain` interrupts it): every worker
 *   is told to drain, i.e. its program is interrupted, which runs the
 *   program's usual graceful shutdown (a `ProtocolServer` answers what it
 *   has started, refuses the rest, closes). Workers still running after
 *   `shutdownTimeout` are killed; the primary then exits 0. Drain orders go
 *   through a control connection, not a signal: a second SIGINT would kill a
 *   worker that already drains on Ctrl-C (the terminal signals every process
 *   of the group).
 * - Rolling restart (SIGHUP on the primary, or {@link Supervisor.rollingRestart}):
 *   one worker at a time, a new process starts and is ready before the old one
 *   is told to drain, so the address keeps serving.
 * - Stats: {@link Supervisor.stats} asks every worker (uptime, memory, its
 *   listeners); each worker logs the same when it exits.
 *
 * Timers run on Effect's `Clock`. The primary talks to its workers over a
 * plain TCP connection on 127.0.0.1 (the runtime's own transport),
 * authenticated by a random token passed in the workers' environment.
 *
 * Worth knowing:
 * - Every worker is a process of its own: state in memory (a store, chat
 *   rooms) is per worker; share it through something outside (a database,
 *   a `Backplane` for groups).
 * - A program that listens on several addresses is ready at its first
 *   listen; the others follow within the same start.
 * - Give a fixed port in production: a port-0 listen shares the port the
 *   first worker got, but once every worker died at once a new one may get
 *   another.
 * - On Bun and Deno only TCP listens are shared: a Unix socket path can be
 *   bound by one worker only (Node's cluster shares those too).
 * - Where workers listen with `reusePort` (Bun, Deno), Linux resets the
 *   connections waiting in a closing listener's backlog unless
 *   `net.ipv4.tcp_migrate_req` is 1; see `BunWorkers`.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { NodeTransport, NodeWorkers } from "@wirekit/node"
 * import { Effect, Layer } from "effect"
 *
 * Layer.launch(ProtocolServer.layer(Kv, handler, { address: { host: "0.0.0.0", port: 7000 } })).pipe(
 *   NodeWorkers.run({ workers: 4 }),
 *   Effect.provide(NodeTransport.layer),
 *   NodeRuntime.runMain
 * )
 * ```
 * @since 0.1.0
 */
import type { Duration, Effect, Scope } from "effect"
import type { Context } from "effect"
import * as internal from "./internal/workers.ts"
import type { Transport, TransportService } from "./Transport.ts"

// ---------------------------------------------------------------------------
// identity
// ---------------------------------------------------------------------------

/**
 * Which worker this process is: `id` from 1 to `count`, or `single` when the
 * program runs alone in its process (1 worker: id 1, count 1).
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerInfo {
  /** 1..count; a replacement of a dead worker keeps its id. */
  readonly id: number
  /** How many workers serve. */
  readonly count: number
  /** True when there is no supervisor: the program runs alone in this process. */
  readonly single: boolean
}

/**
 * The worker's identity, as a service (provided by `run` in every process).
 *
 * @since 0.1.0
 * @category services
 */
export const WorkerInfo: Context.Tag<WorkerInfo, WorkerInfo> = internal.WorkerInfo

/**
 * The identity of a program running alone in its process.
 *
 * @since 0.1.0
 * @category constructors
 */
export const single: WorkerInfo = internal.single

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/**
 * Why the workers could not run:
 * - `BadOptions`: `workers` is not an integer from 1 to 1024.
 * - `Spawn`: the runtime could not start a process.
 * - `Control`: the control connection between primary and worker failed
 *   (or a worker's environment is broken).
 * - `StartFailed`: a worker exited, or was not ready in time, during the start.
 * - `NotReady`: a new worker of a rolling restart was not ready in time.
 * - `TooManyRestarts`: one worker died more than `maxRestartsPerMinute` times within a minute.
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkersErrorReason = internal.WorkersErrorReason

/**
 * The workers could not run (see {@link WorkersErrorReason}), with the
 * worker's id when one worker is the cause.
 *
 * @since 0.1.0
 * @category errors
 */
export const WorkersError: typeof internal.WorkersError = internal.WorkersError

/**
 * The instance type of {@link WorkersError}.
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkersError = internal.WorkersError

// ---------------------------------------------------------------------------
// the per-runtime process interface
// ---------------------------------------------------------------------------

/**
 * How a worker process ended: its exit code, or the signal that killed it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessExit {
  readonly code: number | null
  readonly signal: string | null
}

/**
 * A worker process, as the runtime adapter started it.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerProcess {
  readonly pid: number | undefined
  /** Completes once the process exited. */
  readonly exited: Effect.Effect<ProcessExit>
  /** Sends a signal; SIGKILL is what stragglers get at the shutdown deadline. */
  readonly kill: (signal: "SIGTERM" | "SIGKILL") => void
}

/**
 * What a runtime adapter provides (`NodeWorkers`, `BunWorkers`,
 * `DenoWorkers`): starting processes of this program, its environment, and
 * how its workers share a listening address. Everything else is here.
 *
 * @since 0.1.0
 * @category models
 */
export interface Platform {
  /** "node", "bun", "deno": for logs. */
  readonly name: string
  /** This process's id. */
  readonly pid: number
  /** Reads a variable of this process's environment (a worker learns who it is from it). */
  readonly env: (name: string) => string | undefined
  /** Resident memory of this process in bytes, for the stats. */
  readonly memory: () => number
  /** Starts one more process of this program (same entry, same arguments) with `env` added to its environment. */
  readonly spawn: (env: Readonly<Record<string, string>>) => Effect.Effect<WorkerProcess, WorkersError>
  /** Calls `f` on every SIGHUP until the scope closes (the primary's rolling restart). */
  readonly onHangup: (f: () => void) => Effect.Effect<void, never, Scope.Scope>
  /**
   * True when every worker listens on its own socket with `reusePort` (Bun,
   * Deno): `run` then adds `reusePort` to the workers' TCP listens and gives
   * their port-0 listens worker 1's port. False under `node:cluster`, whose
   * primary shares one socket.
   */
  readonly reusePort: boolean
  /** Called in a worker once its program ended, to let the process exit (Node: leave the cluster). */
  readonly release?: (() => void) | undefined
  /**
   * The runtime's plain transport, for the connection between the primary and
   * each worker: the program's own may speak TLS by default (`layerTls`).
   */
  readonly control: TransportService
}

// ---------------------------------------------------------------------------
// options and the supervisor
// ---------------------------------------------------------------------------

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** Worker processes (1 to 1024); 1 runs the program in this process, with no supervisor. */
  readonly workers: number
  /** How long a new worker may take to listen. Default 30 seconds. */
  readonly readyTimeout?: Duration.DurationInput | undefined
  /**
   * How long draining workers may take on shutdown (and an old worker in a
   * rolling restart) before they are killed. Keep it above the program's own
   * shutdown deadline (a `ProtocolServer`'s `shutdownTimeout`). Default 30 seconds.
   */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** The first wait before a dead worker is started again; it doubles on each death. Default 100 ms. */
  readonly restartDelay?: Duration.DurationInput | undefined
  /** The longest wait before a restart. Default 10 seconds. */
  readonly maxRestartDelay?: Duration.DurationInput | undefined
  /** Restarts of one worker within a minute past which the primary gives up (`TooManyRestarts`). Default 10. */
  readonly maxRestartsPerMinute?: number | undefined
}

/**
 * Default options of {@link run}.
 *
 * @since 0.1.0
 * @category options
 */
export const defaults: {
  readonly readyTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly restartDelay: Duration.Duration
  readonly maxRestartDelay: Duration.Duration
  readonly maxRestartsPerMinute: number
  readonly maxWorkers: number
} = internal.defaults

/**
 * What a worker reports about itself.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerStats {
  readonly id: number
  /** Processes started for this id so far (1 for the first). */
  readonly generation: number
  readonly pid: number
  /** Milliseconds since the worker started. */
  readonly uptime: number
  /** Resident memory in bytes. */
  readonly memory: number
  /** The addresses it listens on. */
  readonly listening: ReadonlyArray<string>
  /** Connections its listeners closed at once because their accept queue was full. */
  readonly rejected: number
}

/**
 * One worker as the primary sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerState {
  readonly id: number
  readonly generation: number
  readonly pid: number | undefined
  /** It listens (false while it starts, or while it is being replaced after a death). */
  readonly ready: boolean
  /** Times it was started again after dying. */
  readonly restarts: number
  /** Its own report; `undefined` when it did not answer within 2 seconds. */
  readonly stats: WorkerStats | undefined
}

/**
 * The primary's handle on its workers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Supervisor {
  /** How many workers it keeps. */
  readonly workers: number
  /** Asks every worker for its stats. */
  readonly stats: Effect.Effect<ReadonlyArray<WorkerState>>
  /**
   * Replaces every worker, one at a time: the new process is ready before the
   * old one drains. Stops with `NotReady` or `StartFailed` (the old worker
   * keeps serving) when a new one does not start. One at a time: a second
   * call waits for the first.
   */
  readonly rollingRestart: Effect.Effect<void, WorkersError>
}

/**
 * Runs `program` as N workers (see the module docs). In the primary it
 * returns once every worker stopped: after an interruption (SIGINT/SIGTERM
 * through `runMain`) once they drained, or with a `WorkersError`. In a
 * worker and with 1 worker it is the program.
 *
 * Adapters wrap it with their {@link Platform}: `NodeWorkers.run`,
 * `BunWorkers.run`, `DenoWorkers.run`.
 *
 * @since 0.1.0
 * @category running
 */
export const run: <A, E, R>(
  platform: Platform,
  program: Effect.Effect<A, E, R>,
  options: Options
) => Effect.Effect<void, E | WorkersError, Exclude<R, WorkerInfo> | Transport> = internal.run

/**
 * The primary's supervisor on its own, for a primary that does more than
 * wait (an admin endpoint that asks for stats or a rolling restart): starts
 * the workers and stops them when the scope closes. `done` completes once
 * every worker stopped on its own and fails on a crash loop. Call it only
 * where `run` would be the primary (this process has no worker environment).
 *
 * @example
 * ```ts
 * const platform = NodeWorkers.platform()
 * const main = Workers.isWorker(platform)
 *   ? Workers.run(platform, Layer.launch(app), { workers: 4 })
 *   : Effect.scoped(Effect.gen(function* () {
 *       const supervisor = yield* Workers.supervise(platform, { workers: 4 })
 *       // e.g. log every worker's memory each minute
 *       yield* Effect.fork(Effect.repeat(
 *         Effect.flatMap(supervisor.stats, (ws) => Effect.logInfo(ws.map((w) => `${w.id}: ${w.stats?.memory}`).join(", "))),
 *         Schedule.spaced("1 minute")
 *       ))
 *       yield* supervisor.done
 *     }))
 * main.pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const supervise: (
  platform: Platform,
  options: Options
) => Effect.Effect<Supervisor & { readonly done: Effect.Effect<void, WorkersError> }, WorkersError, Scope.Scope> =
  internal.supervise

/**
 * True when this process is a worker started by a primary.
 *
 * @since 0.1.0
 * @category running
 */
export const isWorker = (platform: Platform): boolean => platform.env(internal.env.id) !== undefined
