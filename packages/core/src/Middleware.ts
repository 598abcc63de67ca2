/**
 * Middleware: functions from handler to handler, composed with `pipe`.
 *
 * A middleware may require services (they become requirements of the server)
 * and provide services to the handler it wraps (they are removed from the
 * handler's requirements): a handler that needs a `Principal` does not
 * compile as a server handler until an auth middleware provides one.
 *
 * Order: `pipe(handler, a, b, c)` is `c(b(a(handler)))`: the LAST one is the
 * outermost. A request goes through c, then b, then a, then the handler; the
 * outcome comes back through a, b, c. Put logging/metrics/tracing last to see
 * everything (including requests refused by auth or rate limits); put
 * middleware that provides services right after the handler that needs them.
 *
 * ```
 *   pipe(handler, provideService(Principal, auth), rateLimit(...), logging())
 *   request ─▶ logging ─▶ rateLimit ─▶ auth ─▶ handler
 *   outcome ◀─ logging ◀─ rateLimit ◀─ auth ◀─┘
 * ```
 *
 * Connection-level middleware ({@link ProtocolServer.ConnectionMiddleware})
 * runs once when a connection opens: {@link ipFilter}, {@link Metrics}'
 * `connection`, or any Effect.
 *
 * Built-ins: {@link logging}, {@link timeout}, {@link concurrencyLimit} (load
 * shedding), {@link rateLimit} (per-connection token bucket), {@link metrics},
 * {@link tracing}, {@link provideService}, {@link handshake}, {@link ipFilter}.
 *
 * @example
 * ```ts
 * import { Middleware, Protocol, ProtocolServer } from "@wirekit/core"
 * import { Context, Effect, pipe } from "effect"
 *
 * class Principal extends Context.Tag("Principal")<Principal, { readonly name: string }>() {}
 *
 * const handler = (req: Req) => Effect.map(Principal, (p) => `hello ${p.name}`)
 * const authed = pipe(
 *   handler,
 *   Middleware.provideService(Principal, (req: Req) => req.token === "secret"
 *     ? Effect.succeed({ name: "alice" })
 *     : Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized" }))),
 *   Middleware.logging()
 * )
 * ProtocolServer.serve(MyProtocol, authed)
 * ```
 * @since 0.1.0
 */
import type { Context } from "effect"
import { Cause, Duration, Effect, FiberRef, LogLevel, Metric, MetricBoundaries, MetricLabel, Tracer } from "effect"
import { isTcp } from "./Address.ts"
import * as Address from "./Address.ts"
import * as Inline from "./internal/inline.ts"
import { ProtocolError } from "./Protocol.ts"
import type { ConnectionMiddleware, Handler, RequestContext } from "./ProtocolServer.ts"
import { Session } from "./Session.ts"
import * as SessionModule from "./Session.ts"

/**
 * A handler transformer. `Provides` are removed from the handler's
 * requirements, `Requires` added; `E` is added to its errors; `In` bounds the
 * messages it can see.
 *
 * @since 0.1.0
 * @category models
 */
export interface Middleware<Provides = never, Requires = never, E = never, In = unknown> {
  <Req extends In, Res, Err, R, Push>(
    handler: Handler<Req, Res, Err, R, Push>
  ): Handler<Req, Res, Err | E, Exclude<R, Provides> | Requires, Push>
}

/**
 * Builds a middleware from an "around" function, called for every message
 * with the handler's effect.
 *
 * @example
 * ```ts
 * const stamp = Middleware.make((effect, message, context) =>
 *   Effect.tap(effect, () => Effect.logDebug(`handled ${context.describe(message)}`)))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E = never, Requires = never>(
  around: <A, Err, R>(
    effect: Effect.Effect<A, Err, R>,
    message: unknown,
    context: RequestContext<any>
  ) => Effect.Effect<A, Err | E, R | Requires>
): Middleware<never, Requires, E> =>
  ((handler: Handler<any, any, any, any, any>) => (message: any, context: RequestContext<any>) =>
    around(handler(message, context), message, context)) as any

/**
 * Provides service `tag` to the handler, computed per message (e.g.
 * authentication). Failing refuses the message; fail with a
 * `ProtocolError` of reason `"Unauthorized"` to answer with a fault.
 *
 * @example
 * ```ts
 * const auth = Middleware.provideService(Principal, (_req, { session }) =>
 *   session.get(LoggedIn) ?? Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized" })))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const provideService = <I, S, E = never, R = never, In = unknown>(
  tag: Context.Tag<I, S>,
  acquire: (message: In, context: RequestContext<any>) => Effect.Effect<S, E, R>
): Middleware<I, R, E, In> =>
  ((handler: Handler<any, any, any, any, any>) => (message: any, context: RequestContext<any>) =>
    Effect.flatMap(
      acquire(message, context),
      (service) => Effect.provideService(handler(message, context), tag, service)
    )) as any

// ---------------------------------------------------------------------------
// outcome classification shared by logging, metrics, tracing
// ---------------------------------------------------------------------------

/**
 * How a handler's run ended, for logs, metrics and spans: `"success"`,
 * `"failure"` (typed error), `"fault:<Reason>"`, `"defect"` or `"interrupted"`.
 *
 * ```ts
 * Middleware.outcome(Exit.fail(new Protocol.ProtocolError({ reason: "Timeout" }))) // "fault:Timeout"
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const outcome = (
  exit: { readonly _tag: "Success" } | { readonly _tag: "Failure"; readonly cause: Cause.Cause<unknown> }
): string => {
  if (exit._tag === "Success") return "success"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    return failure.value instanceof ProtocolError
      ? `fault:${failure.value.reason}`
      : "failure"
  }
  return Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "defect"
}

const peerOf = (context: RequestContext<any>): string => Address.format(context.session.remoteAddress)

// ---------------------------------------------------------------------------
// logging
// ---------------------------------------------------------------------------

/**
 * Options of {@link logging}.
 *
 * @since 0.1.0
 * @category options
 */
export interface LoggingOptions {
  /**
   * Level of messages that got an answer of the protocol: a success or a
   * typed failure (an expected outcome, e.g. `NotFound`). Default Info.
   * Faults (timeouts, refusals, bad requests) log at Warning, defects at
   * Error with their cause.
   */
  readonly level?: LogLevel.LogLevel | undefined
}

/**
 * One structured log line per message: `method`, `kind`, `durationMs`
 * (from the read that carried the message, `context.receivedAt`, to the
 * handler's end), `outcome` (and the connection and peer annotations of the
 * server).
 *
 * @example
 * ```ts
 * pipe(handler, Middleware.logging())  // level=INFO message="request Get" method=Get kind=request durationMs=0.4 outcome=success
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const logging = (options?: LoggingOptions): Middleware => {
  const level = options?.level ?? LogLevel.Info
  const levelOf = (result: string): LogLevel.LogLevel =>
    result === "success" || result === "failure" ? level : result === "defect" ? LogLevel.Error : LogLevel.Warning
  const line = (
    exit: Inline.Observed<unknown, unknown>,
    result: string,
    message: unknown,
    context: RequestContext<any>,
    start: number
  ): Effect.Effect<void> => {
    const method = context.describe(message)
    const text = `${context.kind} ${method}`
    const log = result === "defect" && exit._tag === "Failure"
      ? Effect.logError(text, exit.cause)
      : Effect.logWithLevel(levelOf(result), text)
    return Effect.annotateLogs(log, {
      method,
      kind: context.kind,
      durationMs: Math.round((performance.now() - start) * 1000) / 1000,
      outcome: result
    })
  }
  // the minimum level is read when the message is done (the evaluation's or
  // the fiber's FiberRef, no Effect step): an outcome whose level is below
  // it costs a comparison, no log line is built
  return make((effect, message, context) => {
    const start = context.receivedAt
    return Inline.observe(effect, (exit, refs) => {
      const result = outcome(exit)
      return LogLevel.lessThan(levelOf(result), refs.getFiberRef(FiberRef.currentMinimumLogLevel))
        ? undefined
        : line(exit, result, message, context, start)
    })
  })
}

// ---------------------------------------------------------------------------
// timeout, load shedding, rate limit
// ---------------------------------------------------------------------------

/**
 * Fails the message with a `Timeout` fault (and interrupts the handler) after
 * `duration`. The server also has a global `requestTimeout`.
 *
 * @example
 * ```ts
 * pipe(handler, Middleware.timeout("200 millis"))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const timeout = (duration: Duration.DurationInput): Middleware<never, never, ProtocolError> => {
  const ms = Duration.toMillis(Duration.decode(duration))
  const options = {
    duration,
    onTimeout: () => new ProtocolError({ reason: "Timeout", detail: `no response within ${ms}ms` })
  }
  const apply = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.timeoutFail(effect, options)
  // a handler that answers without waiting never arms the timer (nothing could
  // interrupt it anyway); the server arms it for the part that waits
  return make<ProtocolError>((effect) => Inline.region(effect, apply, apply))
}

/**
 * Load shedding: at most `max` messages handled at once through this
 * middleware (server-wide: one counter per middleware value); over it, the
 * message is refused at once with an `Overloaded` fault (the client sees
 * `ClientError` "Refused").
 *
 * @example
 * ```ts
 * const limited = pipe(handler, Middleware.concurrencyLimit(100))
 * // shared by several handlers: create it once
 * const shed = Middleware.concurrencyLimit(100)
 * ProtocolServer.serve(P, { request: pipe(onRequest, shed), oneWay: pipe(onOneWay, shed) })
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const concurrencyLimit = (max: number): Middleware<never, never, ProtocolError> => {
  let running = 0
  const overloaded = new ProtocolError({ reason: "Overloaded", detail: `more than ${max} requests running` })
  return make<ProtocolError>((effect) =>
    Effect.suspend((): Effect.Effect<any, any, any> => {
      if (running >= max) return Effect.fail(overloaded)
      running++
      return Effect.ensuring(
        effect,
        Effect.sync(() => {
          running--
        })
      )
    })
  )
}

/**
 * Options of {@link rateLimit}.
 *
 * @since 0.1.0
 * @category options
 */
export interface RateLimitOptions {
  /** Tokens added per second. */
  readonly perSecond: number
  /** Bucket size (the burst allowed). Default: `perSecond`. */
  readonly burst?: number | undefined
}

/**
 * Per-connection rate limit (token bucket): each message takes a token;
 * without one it is refused with a `RateLimited` fault.
 *
 * @example
 * ```ts
 * pipe(handler, Middleware.rateLimit({ perSecond: 100, burst: 20 }))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const rateLimit = (options: RateLimitOptions): Middleware<never, never, ProtocolError> => {
  const rate = options.perSecond / 1000
  const burst = options.burst ?? options.perSecond
  const limited = new ProtocolError({ reason: "RateLimited", detail: `over ${options.perSecond} per second` })
  const bucket = SessionModule.state("wirekit.rateLimit", () => ({ tokens: burst, at: performance.now() }))
  return ((handler: Handler<any, any, any, any, any>) => (message: any, context: RequestContext<any>) => {
    const b = context.session.get(bucket)
    const now = performance.now()
    b.tokens = Math.min(burst, b.tokens + (now - b.at) * rate)
    b.at = now
    if (b.tokens < 1) return Effect.fail(limited)
    b.tokens -= 1
    return handler(message, context)
  }) as any
}

// ---------------------------------------------------------------------------
// metrics
// ---------------------------------------------------------------------------

/**
 * Options of {@link metrics}.
 *
 * @since 0.1.0
 * @category options
 */
export interface MetricsOptions {
  /** Metric name prefix. Default `"wirekit"`. */
  readonly prefix?: string | undefined
  /** Tags added to every metric (e.g. the protocol). */
  readonly tags?: Readonly<Record<string, string>> | undefined
}

/**
 * Request and connection metrics through Effect `Metric`: `middleware` for
 * requests and one-way messages, `connection` for the connection middleware
 * (connections gauge, bytes in/out counted when each connection ends).
 *
 * ```
 *   <prefix>_requests_total{kind}               counter
 *   <prefix>_errors_total{kind,outcome}         counter (failure | fault:<Reason> | defect)
 *   <prefix>_request_duration_ms{kind}          histogram (from the read that carried the message to the handler's end)
 *   <prefix>_connections                        gauge
 *   <prefix>_bytes_in_total / _bytes_out_total  counters
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Metrics {
  /** The handler middleware: counts requests and errors, times them. */
  readonly middleware: Middleware
  /** The connection middleware (`ServeOptions.connection`): the connections gauge, bytes in and out. */
  readonly connection: ConnectionMiddleware<never>
  /** `<prefix>_requests_total`, tagged `kind`. */
  readonly requests: Metric.Metric.Counter<number>
  /** `<prefix>_errors_total`, tagged `kind` and `outcome`. */
  readonly errors: Metric.Metric.Counter<number>
  /** `<prefix>_request_duration_ms`, tagged `kind`. */
  readonly duration: Metric.Metric.Histogram<number>
  /** `<prefix>_connections`: open connections. */
  readonly connections: Metric.Metric.Gauge<number>
  /** `<prefix>_bytes_in_total`, counted when each connection ends. */
  readonly bytesIn: Metric.Metric.Counter<number>
  /** `<prefix>_bytes_out_total`, counted when each connection ends. */
  readonly bytesOut: Metric.Metric.Counter<number>
}

/**
 * Creates the metrics middleware.
 *
 * @example
 * ```ts
 * const metrics = Middleware.metrics({ prefix: "kv" })
 * ProtocolServer.serve(Kv, pipe(handler, metrics.middleware), { connection: [metrics.connection] })
 * const served = yield* Metric.value(Metric.tagged(metrics.requests, "kind", "request"))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const metrics = (options?: MetricsOptions): Metrics => {
  const prefix = options?.prefix ?? "wirekit"
  const tag = <M extends Metric.Metric<any, any, any>>(m: M): M => {
    let out: any = m
    for (const [k, v] of Object.entries(options?.tags ?? {})) out = Metric.tagged(out, k, v)
    return out
  }
  const requests = tag(Metric.counter(`${prefix}_requests_total`, { description: "messages handled" }))
  const errors = tag(Metric.counter(`${prefix}_errors_total`, { description: "messages that did not succeed" }))
  const duration = tag(
    Metric.histogram(
      `${prefix}_request_duration_ms`,
      MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 20 }),
      "handling time in milliseconds"
    )
  )
  const connections = tag(Metric.gauge(`${prefix}_connections`, { description: "open connections" }))
  const bytesIn = tag(Metric.counter(`${prefix}_bytes_in_total`, { description: "bytes received" }))
  const bytesOut = tag(Metric.counter(`${prefix}_bytes_out_total`, { description: "bytes sent" }))
  const kindTags = {
    request: [MetricLabel.make("kind", "request")],
    oneway: [MetricLabel.make("kind", "oneway")]
  } as const
  const errorTags = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  const errorTagsFor = (kind: "request" | "oneway", result: string) => {
    const key = `${kind}/${result}`
    let tags = errorTags.get(key)
    if (tags === undefined) {
      tags = [MetricLabel.make("kind", kind), MetricLabel.make("outcome", result)]
      errorTags.set(key, tags)
    }
    return tags
  }
  // counters updated in place when the handler completes: no Effect per message
  const middleware = make((effect, _message, context) => {
    const start = context.receivedAt
    return Inline.observe(effect, (exit) => {
      const tags = kindTags[context.kind]
      requests.unsafeUpdate(1, tags)
      duration.unsafeUpdate(performance.now() - start, tags)
      if (exit._tag === "Failure") errors.unsafeUpdate(1, errorTagsFor(context.kind, outcome(exit)))
      return undefined
    })
  })
  const connection: ConnectionMiddleware<never> = Effect.flatMap(Session, (session) =>
    Effect.zipRight(
      Effect.sync(() => connections.unsafeModify(1, [])),
      Effect.addFinalizer(() =>
        Effect.sync(() => {
          const stats = session.connection.unsafeStats()
          connections.unsafeModify(-1, [])
          bytesIn.unsafeUpdate(stats.bytesRead, [])
          bytesOut.unsafeUpdate(stats.bytesWritten, [])
        })
      )
    )) as any
  return { middleware, connection, requests, errors, duration, connections, bytesIn, bytesOut }
}

// ---------------------------------------------------------------------------
// tracing
// ---------------------------------------------------------------------------

/**
 * Options of {@link tracing}.
 *
 * @since 0.1.0
 * @category options
 */
export interface TracingOptions {
  /** Span name. Default `"<protocol>.<method>"`. */
  readonly name?: ((method: string, context: RequestContext<any>) => string) | undefined
}

/**
 * A span per message (Effect's tracer: plug in OpenTelemetry with
 * `@effect/opentelemetry`), kind "server", with attributes `rpc.system`,
 * `rpc.method`, `wirekit.kind`, `wirekit.connection`, `net.peer.address`
 * (and `net.peer.port`) and, at the end, `wirekit.outcome`. When the request
 * carried its caller's span (a wirekit client in a span, see
 * `ClientOptions.spans`), the server span is that span's child: one trace
 * across the connection.
 *
 * @example
 * ```ts
 * pipe(handler, Middleware.tracing())
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const tracing = (options?: TracingOptions): Middleware =>
  make((effect, message, context) => {
    const method = context.describe(message)
    const remote = context.session.remoteAddress
    const attributes: Record<string, unknown> = {
      "rpc.system": "wirekit",
      "rpc.service": context.protocol,
      "rpc.method": method,
      "wirekit.kind": context.kind,
      "wirekit.connection": context.session.id,
      "net.peer.address": isTcp(remote) ? remote.host : peerOf(context)
    }
    if (isTcp(remote)) attributes["net.peer.port"] = remote.port
    const name = options?.name?.(method, context) ?? `${context.protocol}.${method}`
    const trace = context.trace
    return Effect.withSpan(
      Effect.onExit(effect, (exit) => Effect.annotateCurrentSpan("wirekit.outcome", outcome(exit))),
      name,
      trace === undefined
        ? { kind: "server", attributes }
        : { kind: "server", attributes, parent: Tracer.externalSpan(trace) }
    )
  })

// ---------------------------------------------------------------------------
// handshake
// ---------------------------------------------------------------------------

/**
 * A handshake before the first request: the first message of every
 * connection is answered by `check` instead of the handler. Messages that
 * arrive while it runs wait for it. If it fails, its error is the response,
 * later messages get an `Unauthorized` fault and the connection is closed.
 * `check` typically stores what it learned in session state (see
 * {@link Session.state}) for a {@link provideService} middleware to use.
 *
 * @example
 * ```ts
 * const User = Session.state<string | undefined>("user", () => undefined)
 * const hello = Middleware.handshake((req: Req, { session }) =>
 *   req._tag === "Hello" ? Effect.sync(() => { session.set(User, req.user); return "welcome" })
 *                        : Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized", detail: "say Hello first" })))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const handshake = <HReq, HRes, HErr = never, HR = never>(
  check: (message: HReq, context: RequestContext<any>) => Effect.Effect<HRes, HErr, HR>
) =>
<Req extends HReq, Res, Err, R, Push>(
  handler: Handler<Req, Res, Err, R, Push>
): Handler<Req, Res | HRes, Err | HErr | ProtocolError, R | HR, Push> => {
  interface State {
    phase: "none" | "running" | "ok" | "failed"
    waiters: Array<() => void>
  }
  const state = SessionModule.state<State>("wirekit.handshake", () => ({ phase: "none", waiters: [] }))
  const refused = new ProtocolError({ reason: "Unauthorized", detail: "handshake failed" })
  const after = (message: Req, context: RequestContext<Push>, s: State): Effect.Effect<Res, Err | ProtocolError, R> =>
    s.phase === "ok" ? handler(message, context) : Effect.fail(refused)
  return (message, context) => {
    const s = context.session.get(state)
    switch (s.phase) {
      case "ok":
        return handler(message, context)
      case "failed":
        return Effect.fail(refused)
      case "running":
        return Effect.flatMap(
          Effect.async<void>((resume) => {
            s.waiters.push(() => resume(Effect.void))
          }),
          () => after(message, context, s)
        )
      case "none": {
        s.phase = "running"
        return Effect.onExit(check(message, context), (exit) =>
          Effect.sync(() => {
            s.phase = exit._tag === "Success" ? "ok" : "failed"
            const ws = s.waiters
            s.waiters = []
            for (const w of ws) w()
            if (s.phase === "failed") context.session.unsafeClose()
          }))
      }
    }
  }
}

// ---------------------------------------------------------------------------
// authenticate
// ---------------------------------------------------------------------------

/**
 * Options of {@link authenticate}.
 *
 * @since 0.1.0
 * @category options
 */
export interface AuthenticateOptions<S, HReq, HRes, HErr, HR> {
  /**
   * The connection's first message: prove who you are. Succeeds with the
   * principal; fails (with a typed error or an `Unauthorized` fault) to
   * refuse it, which closes the connection.
   */
  readonly login: (message: HReq, context: RequestContext<any>) => Effect.Effect<S, HErr, HR>
  /** The first message's answer, once the principal is known. */
  readonly respond: (principal: S, message: HReq) => HRes
}

/**
 * The handshake-then-principal pattern in one call: the first message of
 * every connection is the login (answered by `respond`); every later message
 * runs with the principal it established provided as service `tag`. A
 * failed login closes the connection; messages that arrive during the login
 * wait for it.
 *
 * Order: put it right around the handler and the middleware that need the
 * principal (`pipe(handler, Middleware.authenticate(...), timeout, logging)`:
 * logging and timeouts then see the login too). For a token sent with every
 * request instead (`ClientOptions.headers`), use {@link provideService} and
 * read `context.headers`.
 *
 * @example
 * ```ts
 * const auth = Middleware.authenticate(Principal, {
 *   login: (req, _context) => req._tag === "Login" ? verify(req.token) : Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized" })),
 *   respond: (principal) => ({ user: principal.name })
 * })
 * ProtocolServer.serve(Api, pipe(handler, auth, Middleware.logging()))   // handler may `yield* Principal`
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const authenticate = <I, S, HReq, HRes, HErr = never, HR = never>(
  tag: Context.Tag<I, S>,
  options: AuthenticateOptions<S, HReq, HRes, HErr, HR>
) =>
<Req extends HReq, Res, Err, R, Push>(
  handler: Handler<Req, Res, Err, R, Push>
): Handler<Req, Res | HRes, Err | HErr | ProtocolError, Exclude<R, I> | HR, Push> => {
  // one session slot per use of the middleware (a Session.state is its own key)
  const principal = SessionModule.state<{ readonly value: S } | undefined>("wirekit.principal", () => undefined)
  const withPrincipal = provideService(tag, (_message, context) => {
    const p = context.session.get(principal)
    return p === undefined ? Effect.fail(new ProtocolError({ reason: "Unauthorized" })) : Effect.succeed(p.value)
  })(handler)
  return handshake((message: Req, context) =>
    Effect.map(options.login(message, context), (value) => {
      context.session.set(principal, { value })
      return options.respond(value, message)
    })
  )(withPrincipal) as Handler<Req, Res | HRes, Err | HErr | ProtocolError, Exclude<R, I> | HR, Push>
}

// ---------------------------------------------------------------------------
// connection-level: IP filter
// ---------------------------------------------------------------------------

/**
 * Options of {@link ipFilter}: exact addresses, IPv4 CIDR blocks (`"10.0.0.0/8"`) or `"*"`.
 *
 * @since 0.1.0
 * @category options
 */
export interface IpFilterOptions {
  /** When given, only matching peers are accepted. */
  readonly allow?: ReadonlyArray<string> | undefined
  /** Matching peers are refused (checked after `allow`). */
  readonly deny?: ReadonlyArray<string> | undefined
}

const ipv4 = (host: string): number | undefined => {
  const m = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(host)
  if (m === null) return undefined
  const parts = m.slice(1).map(Number)
  if (parts.some((p) => p > 255)) return undefined
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!
}

const matcher = (pattern: string): (host: string) => boolean => {
  if (pattern === "*") return () => true
  const slash = pattern.indexOf("/")
  if (slash > 0) {
    const base = ipv4(pattern.slice(0, slash))
    const bits = Number(pattern.slice(slash + 1))
    if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) {
      throw new globalThis.Error(`Middleware.ipFilter: bad CIDR block "${pattern}"`)
    }
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
    return (host) => {
      const ip = ipv4(host)
      return ip !== undefined && ((ip & mask) >>> 0) === ((base & mask) >>> 0)
    }
  }
  const exact = ipv4(pattern)
  return exact !== undefined ? (host) => ipv4(host) === exact : (host) => host.toLowerCase() === pattern.toLowerCase()
}

/**
 * Connection middleware: accepts or refuses a connection by the peer's IP
 * (Unix-socket peers always pass). A refused connection is closed before its
 * first message and logged.
 *
 * @example
 * ```ts
 * ProtocolServer.serve(Kv, handler, { connection: [Middleware.ipFilter({ allow: ["127.0.0.1", "10.0.0.0/8"] })] })
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const ipFilter = (options: IpFilterOptions): ConnectionMiddleware<never> => {
  const allow = options.allow?.map(matcher)
  const deny = options.deny?.map(matcher) ?? []
  return Effect.flatMap(Session, (session) => {
    const remote = session.remoteAddress
    if (!isTcp(remote)) return Effect.void
    const host = remote.host
    if (allow !== undefined && !allow.some((m) => m(host))) {
      return Effect.fail(new ProtocolError({ reason: "Unauthorized", detail: `${host} is not allowed` }))
    }
    if (deny.some((m) => m(host))) {
      return Effect.fail(new ProtocolError({ reason: "Unauthorized", detail: `${host} is denied` }))
    }
    return Effect.void
  }) as any
}
