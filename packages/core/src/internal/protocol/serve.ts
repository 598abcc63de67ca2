/**
 * The implementation of `ProtocolServer.serveListener`, `serve` and `layer`:
 * accepting connections, connection middleware, limits, the idle sweep and
 * the graceful shutdown. Each connection's requests are run by the engine in
 * `./server.ts`. The public module holds the types and the documentation.
 */
import { Cause, Context, Deferred, Duration, Effect, Exit, FiberId, FiberRef, Layer, Option, Scope } from "effect"
import type { Fiber, Scheduler } from "effect"
import { format } from "../../Address.ts"
import type { Connection } from "../../Connection.ts"
import * as Framed from "../../Framed.ts"
import { Groups } from "../../Groups.ts"
import * as GroupsModule from "../../Groups.ts"
import * as InputBudget from "../../InputBudget.ts"
import type { Protocol, PushOf } from "../../Protocol.ts"
import type { HandlerFor, ProtocolServer, ServeOptions, ShutdownResult } from "../../ProtocolServer.ts"
import type { Session as SessionT } from "../../Session.ts"
import { Session } from "../../Session.ts"
import type { Listener, ListenError } from "../../Transport.ts"
import { Transport } from "../../Transport.ts"
import * as Runner from "../runner.ts"
import { safeFormat } from "../runner.ts"
import { watch } from "../watch.ts"
import { ProtocolError, ProtocolServerError } from "./errors.ts"
import { immediate } from "./scheduler.ts"
import { makeStats, ServerConnection } from "./server.ts"

/** See `ProtocolServer.defaults`. */
export const defaults = {
  maxInFlight: 256,
  maxConnections: 10_000,
  idleTimeout: Duration.minutes(5),
  readTimeout: Duration.seconds(30),
  minReadRate: 1024,
  requestTimeout: Duration.seconds(30),
  shutdownTimeout: Duration.seconds(10),
  maxWriteBuffer: 4 * 1024 * 1024,
  maxBufferedInput: InputBudget.DEFAULT_MAX_BYTES
} as const

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.Duration): number | undefined => {
  const duration = Duration.decode(d ?? fallback)
  return Duration.isFinite(duration) ? Math.max(0, Duration.toMillis(duration)) : undefined
}

/** What a server needs of its handlers' and middleware's requirements (the rest it provides). */
export type Requirements<R> = Exclude<R, SessionT | GroupsModule.Groups | Scope.Scope>

/** See `ProtocolServer.serveListener`. */
export const serveListener = <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  listener: Listener,
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
): Effect.Effect<ProtocolServer<PushOf<P>>, never, Scope.Scope | Requirements<R | RC>> =>
  Effect.gen(function*() {
    type Push = PushOf<P>
    const stats = makeStats()
    const budget = typeof options?.maxBufferedInput === "object"
      ? options.maxBufferedInput
      : InputBudget.make({ maxBytes: options?.maxBufferedInput ?? defaults.maxBufferedInput })
    const clock = yield* Effect.clock
    const groups: GroupsModule.Groups<Push> = options?.groups ?? GroupsModule.make<Push>()
    const engines = new Set<ServerConnection<any, any, any, any, Push>>()
    const maxConnections = options?.maxConnections ?? defaults.maxConnections
    const idleTimeout = millis(options?.idleTimeout, defaults.idleTimeout)
    const readTimeout = millis(options?.readTimeout, defaults.readTimeout)
    const minReadRate = options?.minReadRate ?? defaults.minReadRate
    const shutdownTimeout = options?.shutdownTimeout ?? defaults.shutdownTimeout
    const connectionMiddleware = options?.connection ?? []
    const logOpenClose = options?.logConnections ? Effect.logInfo : Effect.logDebug
    const onRequest = typeof handler === "function" ? handler : handler.request
    const onOneWay = typeof handler === "function" ? undefined : handler.oneWay
    const config = {
      protocol: protocol.name,
      inOrder: protocol.correlation === "inOrder",
      onBadInput: protocol.onBadInput,
      onDefect: protocol.onDefect,
      describe: protocol.describe as (message: unknown) => string,
      maxInFlight: Math.max(1, options?.maxInFlight ?? defaults.maxInFlight),
      requestTimeout: millis(options?.requestTimeout, defaults.requestTimeout),
      maxWriteBuffer: options?.maxWriteBuffer ?? defaults.maxWriteBuffer,
      onRequest: onRequest as any,
      onOneWay: onOneWay as any,
      groups,
      stats
    }
    let noConnectionWaiters: Array<() => void> = []
    // the runner counts connections; `runner` is set right after it starts
    let runner: Runner.Runner | undefined
    const activeConnections = () => runner?.active() ?? 0
    const connectionEnded = () => {
      if (activeConnections() === 0) {
        const ws = noConnectionWaiters
        noConnectionWaiters = []
        for (const w of ws) w()
      }
    }
    /**
     * Waits until no connection is open, or `ms` elapse (then `false`). A
     * timer, not a race: the shutdown runs in finalizers, which are
     * uninterruptible (and, under `runMain`, belong to an interrupted fiber).
     */
    const awaitNoConnections = (ms: number | undefined) =>
      Effect.async<boolean>((resume) => {
        if (activeConnections() === 0) return resume(Effect.succeed(true))
        let timer: Fiber.RuntimeFiber<void> | undefined
        const w = () => {
          if (timer !== undefined) timer.unsafeInterruptAsFork(FiberId.none)
          resume(Effect.succeed(true))
        }
        noConnectionWaiters.push(w)
        if (ms !== undefined) {
          // the server's Clock (a TestClock in tests), on a fiber of its own
          timer = Effect.runFork(Effect.zipRight(
            clock.sleep(Duration.millis(ms)),
            Effect.sync(() => {
              noConnectionWaiters = noConnectionWaiters.filter((x) => x !== w)
              resume(Effect.succeed(false))
            })
          ))
        }
        return Effect.sync(() => {
          if (timer !== undefined) timer.unsafeInterruptAsFork(FiberId.none)
          noConnectionWaiters = noConnectionWaiters.filter((x) => x !== w)
        })
      })

    const serveConnection = (conn: Connection, scope: Scope.CloseableScope): Effect.Effect<void, never, any> => {
      const engine = new ServerConnection<any, any, any, any, Push>(conn, config, (session) => protocol.server(session))
      const peer = safeFormat(conn)
      // the scheduler the fiber had before the pump's (see below), restored however the pump ends
      let scheduler: Scheduler.Scheduler | undefined
      const program = Effect.gen(function*() {
        engines.add(engine)
        yield* logOpenClose("connection opened")
        for (const middleware of connectionMiddleware) {
          const refused = yield* Effect.either(Scope.extend(middleware, scope))
          if (refused._tag === "Left") {
            yield* Effect.logWarning(
              "connection refused by middleware",
              new ProtocolServerError({ reason: "Refused", connection: conn.id, peer, cause: refused.left })
            )
            return
          }
        }
        engine.start(yield* Effect.runtime<never>())
        // the engine bounds its own output per batch (and its output is not the Framed's)
        const framed = Framed.make(conn, engine.input, { budget, maxDeliver: Infinity })
        engine.readThrough(framed)
        // the pump's fiber runs on the immediate scheduler (see internal/protocol/scheduler.ts); set
        // and restored around it rather than `withScheduler`, which keeps frames on the stack of a
        // fiber that mostly waits for its peer
        scheduler = yield* FiberRef.get(FiberRef.currentScheduler)
        yield* FiberRef.set(FiberRef.currentScheduler, immediate)
        const exit = yield* Effect.exit(framed.pump((frames) => engine.onFrames(frames)))
        yield* FiberRef.set(FiberRef.currentScheduler, scheduler)
        scheduler = undefined
        if (exit._tag === "Failure") {
          const failure = Cause.failureOption(exit.cause)
          const error = Option.getOrUndefined(failure)
          if (error !== undefined && (error as { _tag?: string })._tag === "FramingError") {
            // a peer that ended inside a message has stopped sending: nothing to answer, and
            // nothing wrong with the bytes it did send, so it is logged as a close is. A
            // Warning (with its stack traces formatted) per such peer made each of a stream
            // of peers that send a partial request and leave (slowloris) costly to the server
            const truncated = (error as { reason?: string }).reason === "Truncated"
            yield* (truncated ? logOpenClose : Effect.logWarning)(
              "bad framing",
              new ProtocolServerError({ reason: "Framing", connection: conn.id, peer, cause: error })
            )
            if (protocol.onBadInput === "respond" && !truncated) {
              // the codec's own words when it gave some (a protocol's error text, e.g. RESP's)
              const detail = (error as { detail?: string }).detail ?? (error as Error).message
              engine.respondFault(new ProtocolError({ reason: "BadRequest", detail }))
            }
          } else if (!Cause.isInterruptedOnly(exit.cause)) {
            yield* logOpenClose(
              "connection failed",
              new ProtocolServerError({
                reason: "Connection",
                connection: conn.id,
                peer,
                cause: Cause.squash(exit.cause)
              })
            )
            // the peer is gone: what its requests still run for nobody is interrupted now
            if (error !== undefined && (error as { _tag?: string })._tag === "ConnectionError") yield* engine.dropped
          }
        }
        // the peer is done sending (or gone): answer what is in flight, then close
        engine.ended()
        yield* engine.awaitClosed
        yield* conn.closed
        yield* logOpenClose("connection closed")
      }).pipe(
        Effect.ensuring(Effect.suspend(() => {
          engines.delete(engine)
          groups.unsafeLeaveAll(engine)
          const finish = Effect.zipRight(engine.interruptAll, Scope.close(scope, Exit.void))
          return scheduler === undefined
            ? finish
            : Effect.zipRight(FiberRef.set(FiberRef.currentScheduler, scheduler), finish)
        }))
      )
      // the Session, the Groups and the annotations belong to the connection's fiber for good
      // (Runner.enter): nothing on its stack while it waits
      return Effect.zipRight(
        Runner.enter(
          Context.make(Session, engine as SessionT).pipe(Context.add(Groups, groups as GroupsModule.Groups)),
          { connection: conn.id, peer, protocol: protocol.name }
        ),
        program
      )
    }

    runner = yield* Runner.run(listener, {
      maxConnections,
      onEnded: connectionEnded,
      onRejected: (conn, max) =>
        Effect.logWarning(
          `over maxConnections (${max}): closing the new connection`,
          new ProtocolServerError({ reason: "TooManyConnections", connection: conn.id, peer: safeFormat(conn) })
        )
    }, (conn, scope) => serveConnection(conn, scope) as Effect.Effect<void>)

    yield* watch(function*() {
      for (const engine of engines) if (engine.isOpen()) yield engine
    }, { idleTimeout, readTimeout, minReadRate })

    let shutdownDone: Deferred.Deferred<ShutdownResult> | undefined
    const shutdown = (deadline?: Duration.DurationInput): Effect.Effect<ShutdownResult> =>
      Effect.suspend(() => {
        if (shutdownDone !== undefined) return Deferred.await(shutdownDone)
        const done = Deferred.unsafeMake<ShutdownResult>(FiberId.none)
        shutdownDone = done
        const run = Effect.gen(function*() {
          yield* Effect.logInfo("shutting down: draining connections")
          yield* listener.close
          for (const engine of engines) engine.drain()
          const drained = yield* awaitNoConnections(millis(deadline ?? shutdownTimeout, defaults.shutdownTimeout))
          let forced = 0
          if (!drained) {
            forced = engines.size
            yield* Effect.logWarning(
              `shutdown deadline reached: closing ${forced} connection(s) with requests in flight`
            )
            for (const engine of engines) engine.finishClose()
            yield* runner!.interruptAll
          }
          yield* Effect.logInfo("shut down")
          return { drained, forced }
        })
        return Effect.flatMap(
          Effect.uninterruptible(run),
          (result) => Effect.as(Deferred.succeed(done, result), result)
        )
      })

    yield* Effect.addFinalizer(() => shutdown())

    const server: ProtocolServer<Push> = {
      address: listener.address,
      groups,
      sessions: () => [...engines],
      stats: () => ({
        ...stats,
        active: runner!.active(),
        accepted: runner!.accepted(),
        rejected: runner!.rejected(),
        bufferedInput: budget.held(),
        inputEvictions: budget.evictions()
      }),
      shutdown
    }
    return server
  }) as any

/** See `ProtocolServer.serve`. */
export const serve = <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
): Effect.Effect<ProtocolServer<PushOf<P>>, ListenError, Transport | Scope.Scope | Requirements<R | RC>> =>
  Effect.flatMap(Transport, (transport) =>
    Effect.flatMap(
      transport.listen(options?.address ?? { host: "127.0.0.1", port: 0 }, options),
      (listener) => serveListener(listener, protocol, handler, options)
    ))

/** See `ProtocolServer.layer`. */
export const layer = <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
): Layer.Layer<never, ListenError, Transport | Requirements<R | RC>> =>
  Layer.scopedDiscard(
    Effect.tap(serve(protocol, handler, options), (server) =>
      Effect.logInfo(`${protocol.name}: listening on ${format(server.address)}`))
  )
