/**
 * The protocol conformance suite: one function that registers every behaviour
 * of typed protocols (`Protocol`, `ProtocolServer`, `Client`, `Middleware`,
 * `Session`, `Groups`) against a transport Layer: correlation in order and by
 * id, one-way messages, push and broadcast, timeouts, typed errors and faults,
 * bad input, graceful shutdown, limits, evaluation in place, the client's
 * reconnect and pool, and the middleware. Every adapter (node, bun, deno,
 * memory) runs exactly this suite under its own runtime, over real sockets on
 * 127.0.0.1 port 0 (or the in-memory network). Every test runs on the real
 * clock (`it.scopedLive`).
 *
 * @example
 * ```ts
 * // packages/node/test/protocol.test.ts
 * import { ProtocolConformance } from "@wirekit/testing"
 * import { NodeTransport } from "@wirekit/node"
 * ProtocolConformance.run({ name: "node", layer: NodeTransport.layer })
 * ```
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import type { Address as Address$ } from "@wirekit/core"
import { Client } from "@wirekit/core"
import { Connection } from "@wirekit/core"
import { Framed } from "@wirekit/core"
import { Framing } from "@wirekit/core"
import { LengthField } from "@wirekit/core"
import { Lines } from "@wirekit/core"
import { MessageCodec } from "@wirekit/core"
import { Middleware } from "@wirekit/core"
import { Protocol } from "@wirekit/core"
import { ProtocolServer } from "@wirekit/core"
import { Session } from "@wirekit/core"
import { Transport } from "@wirekit/core"
import * as Msgpack from "@wirekit/core/msgpack"
import {
  Cause,
  Chunk,
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  HashMap,
  Layer,
  Logger,
  LogLevel,
  Metric,
  pipe,
  Queue,
  Random,
  Schedule,
  Schema,
  Scope,
  Stream,
  Tracer
} from "effect"
import { expect } from "vitest"
type Address = Address$.Address

// ---------------------------------------------------------------------------
// protocols and handlers used by the tests
// ---------------------------------------------------------------------------

const Work = Schema.TaggedStruct("Work", { n: Schema.Number, ms: Schema.Number })
const Fail = Schema.TaggedStruct("Fail", { n: Schema.Number })
const Die = Schema.TaggedStruct("Die", {})
const Count = Schema.TaggedStruct("Count", {})
const Oops = Schema.TaggedStruct("Oops", { n: Schema.Number })
const Log = Schema.TaggedStruct("Log", { line: Schema.String })
const Note = Schema.TaggedStruct("Note", { text: Schema.String })

/** The rpc tests' protocol: a method per operation, each with its own success and error schemas. */
class ValueTooLong extends Schema.TaggedError<ValueTooLong>()("ValueTooLong", { max: Schema.Number }) {}
const RGet = Protocol.method("Get", { payload: { key: Schema.String }, success: Schema.NullOr(Schema.String) })
const RPut = Protocol.method("Put", { payload: { key: Schema.String, value: Schema.String }, error: ValueTooLong })
const RSize = Protocol.method("Size", { success: Schema.Number })
const RSlow = Protocol.method("Slow", { payload: { ms: Schema.Number }, success: Schema.Number })
const rpcKv = (correlation: "inOrder" | "byId", serialization?: MessageCodec.MessageCodec<unknown>) =>
  Protocol.rpc({ name: "kv-rpc", methods: [RGet, RPut, RSize, RSlow], correlation, serialization })
const MAX_RPC_VALUE = 8
const makeRpcKv = (protocol: ReturnType<typeof rpcKv>) => {
  const store = new Map<string, string>()
  return ProtocolServer.handlers(protocol, {
    // generator methods: made once with the record, stepped per request
    *Get({ key }) {
      return store.get(key) ?? null
    },
    *Put({ key, value }) {
      if (value.length > MAX_RPC_VALUE) return yield* new ValueTooLong({ max: MAX_RPC_VALUE })
      store.set(key, value)
    },
    Size: () => Effect.sync(() => store.size),
    *Slow({ ms }) {
      yield* Effect.sleep(Duration.millis(ms))
      return ms
    }
  })
}

/** The streaming tests' protocol: `Count` streams 1..n in chunks of 10 (failing at `failAt`). */
class CountFailed extends Schema.TaggedError<CountFailed>()("CountFailed", { at: Schema.Number }) {}
const makeStreams = (serialization?: MessageCodec.MessageCodec<unknown>) => {
  const Count = Protocol.method("Count", {
    payload: { n: Schema.Number, failAt: Schema.optional(Schema.Number) },
    success: Schema.Number,
    error: CountFailed,
    stream: true
  })
  const Echo = Protocol.method("Echo", { payload: { text: Schema.String }, success: Schema.String })
  const Streams = Protocol.rpc({ name: "streams", methods: [Count, Echo], serialization })
  const state = { produced: 0, finalized: 0 }
  const handler = ProtocolServer.handlers(Streams, {
    Count: ({ failAt, n }) =>
      Stream.range(1, n, 10).pipe(
        Stream.tap((i) => Effect.sync(() => (state.produced = i))),
        Stream.mapEffect((i) => (i === failAt ? Effect.fail(new CountFailed({ at: i })) : Effect.succeed(i))),
        Stream.ensuring(Effect.sync(() => state.finalized++))
      ),
    Echo: ({ text }) => Effect.succeed(text)
  })
  return { Count, Echo, Streams, handler, state }
}

const jobs = (
  correlation: "inOrder" | "byId",
  extra?: { readonly onDefect?: Protocol.FailurePolicy; readonly onBadInput?: Protocol.FailurePolicy }
) =>
  Protocol.schema({
    name: "jobs",
    request: Schema.Union(Work, Fail, Die, Count),
    response: Schema.Number,
    error: Oops,
    oneWay: Log,
    push: Note,
    correlation,
    onDefect: extra?.onDefect,
    onBadInput: extra?.onBadInput
  })
const JobsInOrder = jobs("inOrder")
const JobsById = jobs("byId")
type Jobs = typeof JobsInOrder

/** The jobs handler, instrumented: who started, finished, and how many ran at once. */
const makeJobs = () => {
  const state = {
    running: 0,
    maxRunning: 0,
    started: [] as Array<number>,
    finished: [] as Array<number>,
    logs: [] as Array<string>
  }
  const handler: ProtocolServer.Handlers<
    Protocol.RequestOf<Jobs>,
    number,
    Protocol.ErrorOf<Jobs> | Protocol.ProtocolError,
    Protocol.OneWayOf<Jobs>,
    never,
    Protocol.PushOf<Jobs>
  > = {
    request: (req) => {
      switch (req._tag) {
        case "Work": {
          if (req.ms === 0) {
            state.started.push(req.n)
            state.finished.push(req.n)
            return Effect.succeed(req.n)
          }
          return Effect.suspend(() => {
            state.started.push(req.n)
            state.running++
            state.maxRunning = Math.max(state.maxRunning, state.running)
            return Effect.as(Effect.sleep(Duration.millis(req.ms)), req.n)
          }).pipe(Effect.ensuring(Effect.sync(() => {
            state.running--
            state.finished.push(req.n)
          })))
        }
        case "Fail":
          return Effect.fail({ _tag: "Oops", n: req.n } as const)
        case "Die":
          return Effect.die(new Error("boom"))
        case "Count":
          return Effect.sync(() => state.logs.length)
      }
    },
    oneWay: (msg) =>
      Effect.sync(() => {
        state.logs.push(msg.line)
      })
  }
  return { state, handler }
}

/** A line chat on a user wire format: SAY is one-way, lines starting with "* " are pushes. */
const Chat = Protocol.make({
  name: "chat",
  framing: Lines.make(),
  inbound: MessageCodec.text(),
  outbound: MessageCodec.text(),
  isOneWay: (line): line is `SAY ${string}` => line.startsWith("SAY "),
  isPush: (line): line is `* ${string}` => line.startsWith("* "),
  isError: (line): line is `ERR ${string}` => line.startsWith("ERR "),
  fault: { encode: (f) => `ERR ${f.reason}` as const }
})
const Nick = Session.state("nick", () => "anonymous")

/**
 * A line protocol without a draining notice: its server says it is going
 * away only by refusing requests (`FAULT ShuttingDown`). `WORK <ms>` is
 * answered `OK <server>` after `ms`.
 */
const Plain = Protocol.make({
  name: "plain",
  framing: Lines.make(),
  inbound: MessageCodec.text(),
  outbound: MessageCodec.text(),
  isError: (line): line is `FAULT ${string}` => line.startsWith("FAULT "),
  fault: {
    encode: (f) => `FAULT ${f.reason}` as const,
    decode: (line) => {
      const reason = Protocol.protocolErrorReasons.find((r) => r === line.slice(6))
      return reason === undefined ? undefined : new Protocol.ProtocolError({ reason })
    }
  }
})
const plainServer = (server: string) => (line: string) =>
  Effect.as(Effect.sleep(Duration.millis(Number(line.split(" ")[1] ?? 0))), `OK ${server}`)

/** The restart tests' protocol: `Read` is idempotent, `Write` is not; both answer with the server's name. */
const Read = Protocol.method("Read", { payload: { ms: Schema.Number }, success: Schema.String, idempotent: true })
const Write = Protocol.method("Write", { payload: { ms: Schema.Number }, success: Schema.String })
const Restartable = Protocol.rpc({ name: "restartable", methods: [Read, Write] })
const restartable = (server: string) => {
  const ran = { Read: 0, Write: 0 }
  const answer = (method: "Read" | "Write", ms: number) =>
    Effect.suspend(() => {
      ran[method]++
      return Effect.as(Effect.sleep(Duration.millis(ms)), server)
    })
  const handler = ProtocolServer.handlers(Restartable, {
    Read: ({ ms }) => answer("Read", ms),
    Write: ({ ms }) => answer("Write", ms)
  })
  return { handler, ran }
}

const chatHandler: ProtocolServer.HandlerFor<typeof Chat, never> = {
  request: (line, { groups, session }) => {
    const [command, arg = "", ...rest] = line.split(" ")
    switch (command) {
      case "NICK":
        session.set(Nick, arg)
        return Effect.succeed("OK")
      case "JOIN":
        return Effect.as(groups.join(arg, session), "OK")
      case "WHISPER": {
        for (const room of session.groups()) {
          for (const member of groups.members(room)) {
            if (member.get(Nick) === arg) {
              return Effect.as(member.push(`* ${session.get(Nick)} whispers: ${rest.join(" ")}`), "OK")
            }
          }
        }
        return Effect.fail(`ERR no such user ${arg}` as const)
      }
      default:
        return Effect.fail(`ERR unknown command ${command}` as const)
    }
  },
  oneWay: (line, { groups, session }) =>
    Effect.sync(() => {
      const text = line.slice(4)
      for (const room of session.groups()) {
        groups.unsafeBroadcast(room, `* ${session.get(Nick)}: ${text}`, { except: session })
      }
    })
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
  readonly cause: string
}

/** A logger that records instead of printing. */
const captureLogs = () => {
  const lines: Array<LogLine> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    lines.push({
      level: logLevel.label,
      message: parts.map((p) => (typeof p === "string" ? p : p instanceof Error ? p.message : String(p))).join(" "),
      annotations: Object.fromEntries(HashMap.toEntries(annotations)),
      cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause)
    })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const reasonOf = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e
    ? e._tag === "ClientError"
      ? (e as Client.ClientError).fault
        ? `${(e as Client.ClientError).reason}:${(e as Client.ClientError).fault!.reason}`
        : (e as Client.ClientError).reason
      : String(e._tag)
    : String(e)

/** Fails the test (instead of hanging) when `effect` takes longer than `ms`. */
const within = <A, E, R>(ms: number, what: string) => (effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, {
    duration: Duration.millis(ms),
    onTimeout: () => new Error(`${what}: still running after ${ms}ms`)
  })

/** Milliseconds since `start` (a `Clock.currentTimeMillis` reading). */
const since = (start: number) => Effect.map(Clock.currentTimeMillis, (now) => now - start)

/**
 * Serves again on `address` (a restart): retried while the port is still
 * held by the old server's closing listener.
 */
const serveAt = <P extends Protocol.Any>(protocol: P, handler: ProtocolServer.HandlerFor<P, never>, address: Address) =>
  ProtocolServer.serve(protocol, handler, { address }).pipe(
    Effect.retry(Schedule.spaced("10 millis")),
    within(3000, "serve again on the same address")
  )

/** Polls `check` every 10 ms until it holds (or fails after `ms`). */
const eventually = (check: () => boolean, ms = 2000, what = "condition") =>
  Effect.suspend(() => (check() ? Effect.void : Effect.fail("not yet"))).pipe(
    Effect.retry(Schedule.spaced("10 millis")),
    within(ms, what)
  )

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const utf8 = new TextEncoder()
const text = new TextDecoder()
const lengthField = LengthField.make({ fieldLength: 4 })

/** The current tracer, recording every span it makes. */
const recordingTracer = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const recording = Tracer.make({
    span: (...args) => {
      const span = base.span(...args)
      spans.push(span)
      return span
    },
    context: base.context
  })
  return { recording, spans }
})

/** A raw framed connection speaking the JSON envelope by hand. */
const rawJson = (address: Address) =>
  Effect.gen(function*() {
    const transport = yield* Transport.Transport
    const conn = yield* transport.connect(address, { timeout: 2000 })
    const framed = Framed.make(conn, lengthField)
    return {
      conn,
      send: (json: string) => framed.send(utf8.encode(json)),
      read: Effect.map(framed.read, (f) => (f === Connection.EOF ? "EOF" : text.decode(f)))
    }
  })

// ---------------------------------------------------------------------------
// the behaviours
// ---------------------------------------------------------------------------

/**
 * What an adapter passes to {@link run}.
 * @since 0.1.0
 * @category options
 */
export interface ProtocolConformanceOptions {
  /** The runtime's name, shown in test titles. */
  readonly name: string
  /**
   * The transport under test. Each test provides it anew (the memory
   * transport's layer makes a fresh network each time it is built).
   */
  readonly layer: Layer.Layer<Transport.Transport>
}

/**
 * Registers every protocol behaviour for one transport.
 *
 * @example
 * ```ts
 * import { ProtocolConformance } from "@wirekit/testing"
 * import { MemoryTransport } from "@wirekit/core"
 * ProtocolConformance.run({ name: "memory", layer: MemoryTransport.layer() })
 * ```
 * @since 0.1.0
 * @category suites
 */
export const run = (options: ProtocolConformanceOptions): void => {
  const name = options.name
  const test = (title: string, body: () => Effect.Effect<void, unknown, Transport.Transport | Scope.Scope>) =>
    it.scopedLive(title, () => {
      const logs = captureLogs()
      return body().pipe(Effect.provide(options.layer), Effect.provide(logs.layer))
    })
  /** Like `test`, with access to the captured log lines. */
  const testLogged = (
    title: string,
    body: (logs: Array<LogLine>) => Effect.Effect<void, unknown, Transport.Transport | Scope.Scope>
  ) =>
    it.scopedLive(title, () => {
      const logs = captureLogs()
      return body(logs.lines).pipe(Effect.provide(options.layer), Effect.provide(logs.layer))
    })

  describe(`protocols over ${name}`, () => {
    // ---- correlation --------------------------------------------------------

    test("in order: 200 pipelined requests with random handler delays, handled concurrently, answered in request order", () =>
      Effect.gen(function*() {
        const { handler, state } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsInOrder, handler, { maxInFlight: 64 })
        const client = yield* Client.make(JobsInOrder, server.address)
        const delays = yield* Effect.forEach(range(200), () => Random.nextIntBetween(0, 15))
        const completed: Array<number> = []
        const results = yield* Effect.forEach(
          range(200),
          (n) =>
            Effect.tap(client.request({ _tag: "Work", n, ms: delays[n]! }), () => Effect.sync(() => completed.push(n))),
          { concurrency: "unbounded" }
        )
        expect(results).toEqual(range(200))
        // handlers overlapped and finished out of order ...
        expect(state.maxRunning).toBeGreaterThan(1)
        expect(state.finished).not.toEqual(state.started)
        // ... yet the responses came back in the order the server received the requests
        expect(completed).toEqual(state.started)
        expect(server.stats().successes).toBe(200)
      }))

    test("by id: responses are sent as each request completes (out of order), each to its own request", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, handler)
        const client = yield* Client.make(JobsById, server.address)
        const completed: Array<number> = []
        // request n takes (10 - n) * 30 ms: the last sent completes first (gaps wide enough for a busy machine)
        const results = yield* Effect.forEach(
          range(10),
          (n) =>
            Effect.tap(
              client.request({ _tag: "Work", n, ms: (10 - n) * 30 }),
              () => Effect.sync(() => completed.push(n))
            ),
          { concurrency: "unbounded" }
        )
        expect(results).toEqual(range(10))
        expect(completed).toEqual(range(10).reverse())
      }))

    test("a custom protocol: its decoder finds and parses messages in one step; its encoder writes into the output and reads the connection's state", () =>
      Effect.gen(function*() {
        // one byte per request; 0xFF switches this connection's replies to hex text; 0xFE is bad input
        const Hex = Session.state("hex", () => false)
        const Doubler = Protocol.custom<number, number>({
          name: "doubler",
          onBadInput: "respond",
          server: (session) => {
            let failed: ReturnType<typeof corrupted> | undefined
            const corrupted = (b: number) =>
              new Framing.FramingError({
                reason: "Corrupted",
                codec: "doubler",
                detail: `0x${b.toString(16)} is not a request`
              })
            return {
              decoder: {
                decode: (chunk, out) => {
                  if (failed !== undefined) return failed
                  for (const b of chunk) {
                    if (b === 0xfe) return (failed = corrupted(b))
                    out.push({ _tag: "Request", request: b, id: undefined })
                  }
                  return undefined
                },
                finish: () => undefined,
                buffered: 0
              },
              encodeResponse: (_id, outcome, out) => {
                if (outcome._tag === "Fault") out.writeUtf8(`!${outcome.fault.detail}`)
                else if (outcome._tag === "Success" && session.get(Hex)) {
                  out.writeUtf8(outcome.value.toString(16).padStart(2, "0"))
                } else if (outcome._tag === "Success") out.writeUint8(outcome.value)
                return undefined
              },
              encodePush: () => undefined,
              encodeDraining: undefined
            }
          }
        })
        const server = yield* ProtocolServer.serve(
          Doubler,
          (n, { session }) =>
            n === 0xff ? Effect.sync(() => (session.set(Hex, true), 0)) : Effect.succeed((n * 2) & 0xff)
        )
        const t = yield* Transport.Transport
        const c = yield* t.connect(server.address)
        yield* c.write(new Uint8Array([1, 2, 0xff, 3, 0x40]))
        // 2 and 4 as bytes; then, in hex: 0 (the switch's own reply, encoded after it), 6, 0x80
        const first = yield* Connection.readExactly(c, 8)
        expect(new TextDecoder().decode(first.bytes.subarray(2))).toBe("000680")
        expect([...first.bytes.subarray(0, 2)]).toEqual([2, 4])
        yield* c.write(new Uint8Array([5, 0xfe, 6]))
        const rest = yield* Connection.readAll(c)
        expect(new TextDecoder().decode(Connection.concat([first.rest, rest]))).toBe("0a!0xfe is not a request")
        expect(server.stats().requests).toBe(6)
      }))

    test("one-way messages get no response and are handled in order next to requests", () =>
      Effect.gen(function*() {
        const { handler, state } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsInOrder, handler)
        const client = yield* Client.make(JobsInOrder, server.address)
        for (const i of range(20)) {
          yield* client.send({ _tag: "Log", line: `line ${i}` })
          if (i % 5 === 0) expect(yield* client.request({ _tag: "Work", n: i, ms: 0 })).toBe(i)
        }
        // in order: a stray response to a one-way message would have put the client out of step
        expect(yield* client.request({ _tag: "Count" })).toBe(20)
        expect(state.logs).toEqual(range(20).map((i) => `line ${i}`))
        expect(server.stats().oneWays).toBe(20)
        expect(client.stats().pending).toBe(0)
      }))

    // ---- push and broadcast -------------------------------------------------

    test("push and broadcast: three clients in a room (line protocol), whisper to one, membership ends with the connection", () =>
      Effect.gen(function*() {
        const server = yield* ProtocolServer.serve(Chat, chatHandler)
        const join = (nick: string, scope: Scope.Scope) =>
          Effect.gen(function*() {
            const client = yield* Client.make(Chat, server.address)
            const inbox = yield* client.subscribe
            expect(yield* client.request(`NICK ${nick}`)).toBe("OK")
            expect(yield* client.request("JOIN lobby")).toBe("OK")
            return { client, inbox }
          }).pipe(Scope.extend(scope))
        const scope = yield* Effect.scope
        const carolScope = yield* Scope.make()
        const alice = yield* join("alice", scope)
        const bob = yield* join("bob", scope)
        const carol = yield* join("carol", carolScope)
        expect(server.groups.members("lobby").length).toBe(3)

        yield* alice.client.send("SAY hello")
        const take = (inbox: Queue.Dequeue<string>) => Queue.take(inbox).pipe(within(2000, "push"))
        expect(yield* take(bob.inbox)).toBe("* alice: hello")
        expect(yield* take(carol.inbox)).toBe("* alice: hello")

        expect(yield* alice.client.request("WHISPER bob psst")).toBe("OK")
        expect(yield* take(bob.inbox)).toBe("* alice whispers: psst")
        const missing = yield* Effect.flip(alice.client.request("WHISPER dave hi"))
        expect(missing).toBe("ERR no such user dave")

        // carol leaves: her membership ends with her connection
        yield* Scope.close(carolScope, Exit.void)
        yield* eventually(() => server.groups.members("lobby").length === 2, 2000, "carol leaves the room")
        yield* alice.client.send("SAY bye")
        expect(yield* take(bob.inbox)).toBe("* alice: bye")
        // the sender never hears itself; carol's queue got nothing more
        yield* alice.client.request("NICK alice")
        expect(yield* Queue.size(alice.inbox)).toBe(0)
        expect(yield* Queue.size(bob.inbox)).toBe(0)
        // push from outside a handler: the server's groups
        expect(server.groups.unsafeBroadcast("lobby", "* server: closing soon")).toBe(2)
        expect(yield* take(alice.inbox)).toBe("* server: closing soon")
      }))

    test("push from a handler to its own connection (Schema protocol) arrives before the response of the request that pushed", () =>
      Effect.gen(function*() {
        const server = yield* ProtocolServer.serve(JobsById, (req, { session }) =>
          req._tag === "Work"
            ? Effect.as(session.push({ _tag: "Note", text: `working on ${req.n}` }), req.n)
            : Effect.succeed(0))
        const client = yield* Client.make(JobsById, server.address)
        const inbox = yield* client.subscribe
        expect(yield* client.request({ _tag: "Work", n: 7, ms: 0 })).toBe(7)
        expect(yield* Queue.poll(inbox).pipe(Effect.map((o) => o._tag === "Some" ? o.value : undefined))).toEqual({
          _tag: "Note",
          text: "working on 7"
        })
      }))

    // ---- timeouts ---------------------------------------------------------------

    test("request timeout: server-side (Timeout fault, handler interrupted) and client-side; the connection stays in step", () =>
      Effect.gen(function*() {
        const { handler, state } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsInOrder, handler, { requestTimeout: "100 millis" })
        const client = yield* Client.make(JobsInOrder, server.address)
        const start = Date.now()
        const slow = yield* Effect.flip(client.request({ _tag: "Work", n: 1, ms: 2000 }))
        expect(reasonOf(slow)).toBe("Remote:Timeout")
        expect(Date.now() - start).toBeLessThan(1500)
        yield* eventually(() => state.running === 0, 1000, "the timed-out handler is interrupted")
        expect(server.stats().timeouts).toBe(1)
        expect(yield* client.request({ _tag: "Work", n: 2, ms: 0 })).toBe(2)

        // client-side: gives up at 50 ms; the late response must not be taken for the next request's
        const impatient = yield* Effect.flip(client.request({ _tag: "Work", n: 3, ms: 80 }, { timeout: "30 millis" }))
        expect(impatient).toBeInstanceOf(Client.ClientError)
        expect((impatient as Client.ClientError).reason).toBe("Timeout")
        expect(yield* client.request({ _tag: "Work", n: 4, ms: 0 })).toBe(4)
        expect(yield* client.request({ _tag: "Work", n: 5, ms: 10 })).toBe(5)
      }))

    // ---- failures ---------------------------------------------------------------

    testLogged(
      "typed errors become error responses; a defect is logged and answered with an Internal fault; the server goes on",
      (logs) =>
        Effect.gen(function*() {
          const { handler } = makeJobs()
          const server = yield* ProtocolServer.serve(JobsById, handler)
          const client = yield* Client.make(JobsById, server.address)
          expect(yield* Effect.flip(client.request({ _tag: "Fail", n: 3 }))).toEqual({ _tag: "Oops", n: 3 })
          const died = yield* Effect.flip(client.request({ _tag: "Die" }))
          expect(reasonOf(died)).toBe("Remote:Internal")
          expect(yield* client.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
          const logged = logs.find((l) => l.message === "handler died")
          expect(logged?.level).toBe("ERROR")
          expect(logged?.cause).toContain("boom")
          expect(logged?.annotations.method).toBe("Die")
          expect(server.stats().defects).toBe(1)
          expect(server.stats().failures).toBe(1)
        })
    )

    test("onDefect \"close\": earlier responses are delivered, then only that connection closes", () =>
      Effect.gen(function*() {
        const Closing = jobs("inOrder", { onDefect: "close" })
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(Closing, handler)
        const victim = yield* Client.make(Closing, server.address)
        const bystander = yield* Client.make(Closing, server.address)
        const results = yield* Effect.forEach(
          [
            victim.request({ _tag: "Work", n: 1, ms: 30 }),
            victim.request({ _tag: "Die" }),
            victim.request({ _tag: "Work", n: 2, ms: 0 })
          ],
          (r) => Effect.either(r),
          { concurrency: "unbounded" }
        )
        expect(results[0]).toEqual(Either.right(1))
        expect(Either.isLeft(results[1]!) && reasonOf(results[1].left)).toBe("Disconnected")
        expect(yield* bystander.request({ _tag: "Work", n: 9, ms: 0 })).toBe(9)
        yield* eventually(() => server.stats().active === 1, 2000, "the victim's connection is closed")
      }))

    test("bad input: a frame that does not decode gets a BadRequest fault (with the id when readable) and does not poison the next", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, handler)
        const raw = yield* rawJson(server.address)
        yield* raw.send("{not json")
        yield* raw.send(`{"id":5,"request":{"_tag":"Work","n":"x","ms":0}}`)
        yield* raw.send(`{"id":6,"request":{"_tag":"Work","n":6,"ms":0}}`)
        const first = JSON.parse(yield* raw.read)
        expect(first.fault.reason).toBe("BadRequest")
        expect(first.id).toBeUndefined()
        const second = JSON.parse(yield* raw.read)
        expect(second).toMatchObject({ id: 5, fault: { reason: "BadRequest" } })
        expect(second.fault.detail).toContain("Expected number")
        expect(JSON.parse(yield* raw.read)).toEqual({ id: 6, success: 6 })
        expect(server.stats().badInput).toBe(2)

        // with onBadInput "close" only that connection closes
        const Strict = jobs("byId", { onBadInput: "close" })
        const strict = yield* ProtocolServer.serve(Strict, handler)
        const bad = yield* rawJson(strict.address)
        const good = yield* Client.make(Strict, strict.address)
        yield* bad.send("garbage")
        expect(yield* bad.read.pipe(within(2000, "close"))).toBe("EOF")
        expect(yield* good.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
      }))

    // ---- lifecycle ----------------------------------------------------------------

    test("server killed mid-request: every pending request fails with a typed Disconnected error, none hangs", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const serverScope = yield* Scope.make()
        const server = yield* ProtocolServer.serve(JobsById, handler, { shutdownTimeout: 0 }).pipe(
          Scope.extend(serverScope)
        )
        const a = yield* Client.make(JobsById, server.address)
        const b = yield* Client.make(JobsInOrder, server.address)
        const pending = yield* Effect.fork(
          Effect.all([
            ...range(5).map((n) => Effect.either(a.request({ _tag: "Work", n, ms: 5000 }))),
            ...range(3).map((n) => Effect.either(b.request({ _tag: "Work", n, ms: 5000 })))
          ], { concurrency: "unbounded" })
        )
        yield* eventually(() => server.stats().requests === 8, 2000, "requests reach the server")
        const start = Date.now()
        yield* Scope.close(serverScope, Exit.void)
        const results = yield* Fiber.join(pending).pipe(within(2000, "pending requests"))
        expect(Date.now() - start).toBeLessThan(2000)
        for (const r of results) {
          expect(Either.isLeft(r)).toBe(true)
          if (Either.isLeft(r)) {
            expect(r.left).toBeInstanceOf(Client.ClientError)
            expect(reasonOf(r.left)).toBe("Disconnected")
          }
        }
        // and a request after that fails at once, typed
        expect(reasonOf(yield* Effect.flip(a.request({ _tag: "Work", n: 9, ms: 0 })))).toBe("Disconnected")
      }))

    test("graceful shutdown under load: requests the server took before the deadline are answered, later ones refused, nothing hangs", () =>
      Effect.gen(function*() {
        const { handler, state } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, handler)
        const clients = yield* Effect.forEach(range(3), () => Client.make(JobsById, server.address))
        const results = new Map<number, string>()
        let next = 0
        let stop = false
        const worker = (client: Client.ClientFor<typeof JobsById>) =>
          Effect.gen(function*() {
            while (!stop) {
              const n = next++
              const ms = yield* Random.nextIntBetween(0, 40)
              const r = yield* Effect.either(client.request({ _tag: "Work", n, ms }))
              results.set(n, Either.isRight(r) ? "ok" : reasonOf(r.left))
              if (Either.isLeft(r)) return
            }
          })
        const workers = yield* Effect.fork(
          Effect.forEach([...clients, ...clients, ...clients, ...clients], worker, {
            concurrency: "unbounded",
            discard: true
          })
        )
        yield* Effect.sleep("150 millis")
        const result = yield* server.shutdown("3 seconds").pipe(within(5000, "shutdown"))
        stop = true
        yield* Fiber.join(workers).pipe(within(3000, "clients"))
        expect(result.drained).toBe(true)
        expect(result.forced).toBe(0)
        const acknowledged = new Set(state.started)
        expect(acknowledged.size).toBeGreaterThan(10)
        for (const n of acknowledged) expect(results.get(n)).toBe("ok")
        const later = [...results].filter(([n]) => !acknowledged.has(n))
        expect(later.length).toBeGreaterThan(0)
        for (const [, outcome] of later) expect(["Refused:ShuttingDown", "Disconnected"]).toContain(outcome)
        expect(server.stats().active).toBe(0)
        // the listener is closed: new connections are refused
        const again = yield* Effect.either(Client.make(JobsById, server.address))
        expect(Either.isLeft(again) && again.left.reason).toBe("Connect")
      }))

    test("the Layer's release runs the graceful shutdown: a request in flight is answered, the next is refused", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        // a free port for the layer (which does not expose its address)
        const transport = yield* Transport.Transport
        const probe = yield* Scope.make()
        const address = (yield* transport.listen({ host: "127.0.0.1", port: 0 }).pipe(Scope.extend(probe))).address
        yield* Scope.close(probe, Exit.void)
        const layerScope = yield* Scope.make()
        yield* Layer.buildWithScope(
          ProtocolServer.layer(JobsInOrder, handler, { address, shutdownTimeout: "3 seconds" }),
          layerScope
        ).pipe(Effect.provideService(Transport.Transport, transport))
        const client = yield* Client.make(JobsInOrder, address)
        const inFlight = yield* Effect.fork(client.request({ _tag: "Work", n: 1, ms: 300 }))
        yield* Effect.sleep("50 millis")
        const release = yield* Effect.fork(Scope.close(layerScope, Exit.void))
        yield* Effect.sleep("50 millis")
        const refused = yield* Effect.either(client.request({ _tag: "Work", n: 2, ms: 0 }))
        expect(yield* Fiber.join(inFlight)).toBe(1)
        expect(Either.isLeft(refused) && reasonOf(refused.left)).toBe("Refused:ShuttingDown")
        yield* Fiber.join(release).pipe(within(3000, "layer release"))
      }))

    testLogged(
      "max connections: the extra connection is accepted then closed at once, counted and logged; the others go on",
      (logs) =>
        Effect.gen(function*() {
          const { handler } = makeJobs()
          const server = yield* ProtocolServer.serve(JobsById, handler, { maxConnections: 2 })
          const a = yield* Client.make(JobsById, server.address)
          const b = yield* Client.make(JobsById, server.address)
          expect(yield* a.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
          expect(yield* b.request({ _tag: "Work", n: 2, ms: 0 })).toBe(2)
          const third = yield* Effect.either(
            Effect.flatMap(Client.make(JobsById, server.address), (c) => c.request({ _tag: "Work", n: 3, ms: 0 }))
          )
          expect(Either.isLeft(third) && reasonOf(third.left)).toBe("Disconnected")
          expect(server.stats().rejected).toBe(1)
          expect(server.stats().active).toBe(2)
          expect(logs.some((l) => l.level === "WARN" && l.message.includes("maxConnections"))).toBe(true)
          expect(yield* a.request({ _tag: "Work", n: 4, ms: 0 })).toBe(4)
        })
    )

    test("idle timeout closes a quiet connection, not one with a request in flight", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, handler, { idleTimeout: "150 millis" })
        const quiet = yield* Client.make(JobsById, server.address)
        const busy = yield* Client.make(JobsById, server.address)
        const slow = yield* Effect.fork(busy.request({ _tag: "Work", n: 1, ms: 400 }))
        yield* eventually(() => quiet.stats().connected === 0, 2000, "the quiet connection is closed")
        expect(yield* Fiber.join(slow)).toBe(1)
        expect(busy.stats().connected).toBe(1)
      }))

    test("max in flight: at most N handlers per connection, reading stops meanwhile (backpressure), all answered", () =>
      Effect.gen(function*() {
        const { handler, state } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, handler, { maxInFlight: 4 })
        const client = yield* Client.make(JobsById, server.address)
        const results = yield* Effect.forEach(range(24), (n) => client.request({ _tag: "Work", n, ms: 15 }), {
          concurrency: "unbounded"
        })
        expect(results).toEqual(range(24))
        expect(state.maxRunning).toBe(4)
      }))

    test("fast path: a batch of pipelined immediate requests is answered with no more writes than reads", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsInOrder, handler)
        const client = yield* Client.make(JobsInOrder, server.address)
        const results = yield* Effect.forEach(range(500), (n) => client.request({ _tag: "Work", n, ms: 0 }), {
          concurrency: "unbounded"
        })
        expect(results).toEqual(range(500))
        const stats = server.sessions()[0]!.connection.unsafeStats()
        expect(stats.writes).toBeLessThanOrEqual(stats.reads)
        expect(stats.writes).toBeLessThan(100)
      }))

    test("handlers that complete without waiting run with no fiber at all, their batch still answered in one write", () =>
      Effect.gen(function*() {
        const server = yield* ProtocolServer.serve(
          JobsInOrder,
          (req) => Effect.sync(() => (req._tag === "Work" ? req.n : 0))
        )
        const client = yield* Client.make(JobsInOrder, server.address)
        for (const n of range(10)) expect(yield* client.request({ _tag: "Work", n, ms: 0 })).toBe(n)
        const results = yield* Effect.forEach(range(300), (n) => client.request({ _tag: "Work", n, ms: 0 }), {
          concurrency: "unbounded"
        })
        expect(results).toEqual(range(300))
        expect(server.stats().forked).toBe(0)
        expect(server.stats().inlined).toBe(310)
        const stats = server.sessions()[0]!.connection.unsafeStats()
        expect(stats.writes).toBeLessThanOrEqual(stats.reads)
      }))

    test("a handler that waits is still answered; its waiting rest runs on a fiber, concurrently with the others", () =>
      Effect.gen(function*() {
        let running = 0
        let maxRunning = 0
        const handler = (req: Protocol.RequestOf<Jobs>) =>
          req._tag !== "Work"
            ? Effect.sync(() => 0)
            : req.ms === 0
            ? Effect.sync(() => req.n)
            : Effect.acquireUseRelease(
              Effect.sync(() => {
                running++
                maxRunning = Math.max(maxRunning, running)
              }),
              () => Effect.as(Effect.sleep(Duration.millis(req.ms)), req.n),
              () => Effect.sync(() => running--)
            )
        const server = yield* ProtocolServer.serve(JobsInOrder, handler)
        const client = yield* Client.make(JobsInOrder, server.address)
        for (const n of range(10)) yield* client.request({ _tag: "Work", n, ms: 0 })
        expect(server.stats().inlined).toBeGreaterThan(0)
        const start = Date.now()
        const results = yield* Effect.forEach(range(10), (n) => client.request({ _tag: "Work", n, ms: 60 }), {
          concurrency: "unbounded"
        })
        expect(results).toEqual(range(10))
        expect(server.stats().forked).toBe(10)
        expect(maxRunning).toBeGreaterThan(1)
        expect(Date.now() - start).toBeLessThan(10 * 60)
      }))

    test("each request has a Scope of its own: its finalizers run when it is answered (at once, or after it waited), not when the server stops", () =>
      Effect.gen(function*() {
        const closed: Array<string> = []
        const handler = (req: Protocol.RequestOf<Jobs>) =>
          Effect.gen(function*() {
            if (req._tag !== "Work") return 0
            yield* Effect.addFinalizer(() => Effect.sync(() => closed.push(`done ${req.n}`)))
            if (req.ms > 0) yield* Effect.sleep(Duration.millis(req.ms))
            yield* Effect.acquireRelease(Effect.void, () => Effect.sync(() => closed.push(`released ${req.n}`)))
            return req.n
          })
        const server = yield* ProtocolServer.serve(JobsById, handler)
        const client = yield* Client.make(JobsById, server.address)
        expect(yield* client.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
        expect(closed).toEqual(["released 1", "done 1"])
        expect(yield* client.request({ _tag: "Work", n: 2, ms: 20 })).toBe(2)
        expect(closed).toEqual(["released 1", "done 1", "released 2", "done 2"])
        expect(server.stats().inlined).toBe(1)
        expect(server.stats().forked).toBe(1)
      }))

    test("a handler over the request timeout: Timeout fault; the rest of its batch is answered", () =>
      Effect.gen(function*() {
        const handler = (req: Protocol.RequestOf<Jobs>) =>
          req._tag !== "Work"
            ? Effect.sync(() => 0)
            : req.ms === 0
            ? Effect.sync(() => req.n)
            : Effect.as(Effect.sleep(Duration.millis(req.ms)), req.n)
        const server = yield* ProtocolServer.serve(JobsById, handler, { requestTimeout: "100 millis" })
        const client = yield* Client.make(JobsById, server.address)
        for (const n of range(10)) yield* client.request({ _tag: "Work", n, ms: 0 })
        const inlinedBefore = server.stats().inlined
        const results = yield* Effect.forEach(
          [{ n: 1, ms: 5000 }, { n: 2, ms: 0 }, { n: 3, ms: 0 }],
          (w) => Effect.either(client.request({ _tag: "Work", ...w })),
          { concurrency: "unbounded" }
        ).pipe(within(2000, "inline timeout"))
        expect(server.stats().inlined).toBeGreaterThan(inlinedBefore)
        expect(Either.isLeft(results[0]!) && reasonOf(results[0].left)).toBe("Remote:Timeout")
        expect(results.slice(1)).toEqual([Either.right(2), Either.right(3)])
        expect(yield* client.request({ _tag: "Work", n: 4, ms: 0 })).toBe(4)
        expect(server.stats().timeouts).toBe(1)
      }))

    // ---- client ---------------------------------------------------------------------

    test("client reconnects on its Schedule after the server comes back", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const first = yield* Scope.make()
        const server = yield* ProtocolServer.serve(JobsById, handler, { shutdownTimeout: 0 }).pipe(Scope.extend(first))
        const client = yield* Client.make(JobsById, server.address, { reconnect: Schedule.spaced("20 millis") })
        expect(yield* client.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
        yield* Scope.close(first, Exit.void)
        yield* eventually(() => client.stats().connected === 0, 2000, "the client sees the drop")
        yield* ProtocolServer.serve(JobsById, handler, { address: server.address })
        const again = yield* client.request({ _tag: "Work", n: 2, ms: 0 }).pipe(
          Effect.retry(Schedule.spaced("20 millis")),
          within(3000, "reconnect")
        )
        expect(again).toBe(2)
        expect(client.stats().connects).toBe(2)
      }))

    test("pool: requests spread over N connections; with every connection busy a request fails with PoolTimeout", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, handler)
        const client = yield* Client.make(JobsById, server.address, {
          pool: { size: 2, maxInFlight: 1, acquireTimeout: "50 millis" }
        })
        yield* eventually(() => client.stats().connected === 2, 2000, "two connections")
        const results = yield* Effect.forEach(
          range(3),
          (n) => Effect.either(client.request({ _tag: "Work", n, ms: 300 })),
          { concurrency: "unbounded" }
        )
        const ok = results.filter(Either.isRight).map((r) => r.right).sort()
        const failed = results.filter(Either.isLeft).map((r) => reasonOf(r.left))
        expect(ok.length).toBe(2)
        expect(failed).toEqual(["PoolTimeout"])
        expect(server.stats().accepted).toBe(2)
        expect(new Set(server.sessions().map((s) => s.id)).size).toBe(2)
      }))

    test("one deadline per request: waiting for a connection counts against requestTimeout, and the error says which phase ran out", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, handler)
        // one connection taking one request at a time; the pool's own bound (5 s) is far away
        const client = yield* Client.make(JobsById, server.address, {
          requestTimeout: "400 millis",
          pool: { maxInFlight: 1 }
        })
        const busy = yield* Effect.fork(client.request({ _tag: "Work", n: 1, ms: 1000 }, { timeout: "5 seconds" }))
        yield* eventually(() => server.stats().requests === 1, 2000, "the connection is busy")
        const start = yield* Clock.currentTimeMillis
        const waited = yield* Effect.flip(client.request({ _tag: "Work", n: 2, ms: 0 })).pipe(
          within(3000, "waiting request")
        )
        const elapsed = yield* since(start)
        expect(waited).toBeInstanceOf(Client.ClientError)
        expect(waited).toMatchObject({ reason: "Timeout", phase: "Acquire", timeout: 400 })
        expect(elapsed).toBeGreaterThanOrEqual(350)
        expect(elapsed).toBeLessThan(1000)
        expect(yield* Fiber.join(busy)).toBe(1)

        // 250 ms waiting for the connection + 250 ms of work: within 400 ms for neither phase alone, over it together
        const first = yield* Effect.fork(client.request({ _tag: "Work", n: 3, ms: 250 }, { timeout: "5 seconds" }))
        // the request that timed out waiting was never sent
        yield* eventually(() => server.stats().requests === 2, 2000, "the connection is busy again")
        const late = yield* Effect.flip(client.request({ _tag: "Work", n: 4, ms: 250 })).pipe(
          within(3000, "late request")
        )
        expect(late).toMatchObject({ reason: "Timeout", phase: "Response", timeout: 400 })
        expect(yield* Fiber.join(first)).toBe(3)
        expect(client.stats().retries).toBe(0)
      }))

    test("a draining server's connection takes no new requests: they go to the new server on the same address, the old one finishes its own", () =>
      Effect.gen(function*() {
        const old = makeJobs()
        const first = yield* Scope.make()
        const server = yield* ProtocolServer.serve(JobsById, old.handler, { shutdownTimeout: "5 seconds" }).pipe(
          Scope.extend(first)
        )
        const client = yield* Client.make(JobsById, server.address, {
          reconnect: Schedule.spaced("20 millis"),
          requestTimeout: "5 seconds"
        })
        expect(yield* client.request({ _tag: "Work", n: 0, ms: 0 })).toBe(0)
        const inFlight = yield* Effect.fork(client.request({ _tag: "Work", n: 1, ms: 500 }))
        yield* eventually(() => server.stats().requests === 2, 2000, "the slow request reaches the server")
        const shutdown = yield* Effect.fork(server.shutdown())
        yield* eventually(() => client.stats().draining === 1, 2000, "the client hears the draining notice")
        const fresh = makeJobs()
        const next = yield* serveAt(JobsById, fresh.handler, server.address)
        const results = yield* Effect.forEach(range(10), (n) => client.request({ _tag: "Work", n: 10 + n, ms: 0 }), {
          concurrency: "unbounded"
        }).pipe(within(3000, "requests after the restart"))
        expect(results).toEqual(range(10).map((n) => 10 + n))
        // none of them went to the draining server, not even to be refused
        expect(server.stats().refused).toBe(0)
        expect(server.stats().requests).toBe(2)
        expect([...fresh.state.started].sort((a, b) => a - b)).toEqual(results)
        expect(client.stats().retries).toBe(0)
        // what was in flight on the draining connection is answered there, then that connection closes
        expect(yield* Fiber.join(inFlight)).toBe(1)
        expect(old.state.finished).toEqual([0, 1])
        yield* eventually(
          () => client.stats().draining === 0 && client.stats().connected === 1,
          2000,
          "the draining connection closes"
        )
        expect((yield* Fiber.join(shutdown).pipe(within(3000, "shutdown"))).drained).toBe(true)
        expect(next.stats().active).toBe(1)
        yield* Scope.close(first, Exit.void)
      }))

    test("without a draining notice, a ShuttingDown refusal is the announcement: the refused request is sent again on a new connection, no more go to the old one", () =>
      Effect.gen(function*() {
        const first = yield* Scope.make()
        const server = yield* ProtocolServer.serve(Plain, plainServer("one"), { shutdownTimeout: "5 seconds" }).pipe(
          Scope.extend(first)
        )
        const client = yield* Client.make(Plain, server.address, {
          reconnect: Schedule.spaced("20 millis"),
          requestTimeout: "5 seconds"
        })
        expect(yield* client.request("WORK 0")).toBe("OK one")
        const inFlight = yield* Effect.fork(client.request("WORK 500"))
        yield* eventually(() => server.stats().requests === 2, 2000, "the slow request reaches the server")
        const shutdown = yield* Effect.fork(server.shutdown())
        yield* serveAt(Plain, plainServer("two"), server.address)
        // the client cannot know yet: this one goes to the old server, is refused, and is sent again
        expect(client.stats().draining).toBe(0)
        expect(yield* client.request("WORK 0").pipe(within(3000, "refused then retried"))).toBe("OK two")
        expect(server.stats().refused).toBe(1)
        expect(client.stats().retries).toBe(1)
        for (const _ of range(10)) expect(yield* client.request("WORK 0")).toBe("OK two")
        expect(server.stats().refused).toBe(1)
        expect(client.stats().retries).toBe(1)
        expect(yield* Fiber.join(inFlight)).toBe("OK one")
        yield* eventually(
          () => client.stats().draining === 0 && client.stats().connected === 1,
          2000,
          "the draining connection closes"
        )
        expect((yield* Fiber.join(shutdown).pipe(within(3000, "shutdown"))).drained).toBe(true)
        yield* Scope.close(first, Exit.void)
      }))

    test("a retry never outlives the request's deadline: refused ShuttingDown with no server to take it, it fails Timeout while waiting for a connection", () =>
      Effect.gen(function*() {
        const first = yield* Scope.make()
        const server = yield* ProtocolServer.serve(Plain, plainServer("one"), { shutdownTimeout: "5 seconds" }).pipe(
          Scope.extend(first)
        )
        const client = yield* Client.make(Plain, server.address, {
          reconnect: Schedule.spaced("20 millis"),
          requestTimeout: "600 millis"
        })
        // in order: the refusal comes after this one's answer, well before the deadline
        const inFlight = yield* Effect.fork(client.request("WORK 200", { timeout: "5 seconds" }))
        yield* eventually(() => server.stats().requests === 1, 2000, "the slow request reaches the server")
        const shutdown = yield* Effect.fork(server.shutdown())
        const start = yield* Clock.currentTimeMillis
        const error = yield* Effect.flip(client.request("WORK 0")).pipe(within(3000, "refused request"))
        const elapsed = yield* since(start)
        expect(error).toMatchObject({ reason: "Timeout", phase: "Acquire", timeout: 600, attempts: 2 })
        expect(elapsed).toBeGreaterThanOrEqual(550)
        expect(elapsed).toBeLessThan(1100)
        expect(server.stats().refused).toBe(1)
        expect(client.stats().retries).toBe(1)
        expect(yield* Fiber.join(inFlight)).toBe("OK one")
        yield* Fiber.join(shutdown).pipe(within(3000, "shutdown"))
        yield* Scope.close(first, Exit.void)
      }))

    test("server killed and restarted: idempotent requests pending on it (by the method's flag or the request's option) are sent again to the new one", () =>
      Effect.gen(function*() {
        const first = yield* Scope.make()
        const one = restartable("one")
        const server = yield* ProtocolServer.serve(Restartable, one.handler, { shutdownTimeout: 0 }).pipe(
          Scope.extend(first)
        )
        const client = yield* Client.make(Restartable, server.address, {
          reconnect: Schedule.spaced("20 millis"),
          requestTimeout: "5 seconds"
        })
        expect(yield* client.request(Read({ ms: 0 }))).toBe("one")
        const pending = yield* Effect.fork(Effect.all([
          client.request(Read({ ms: 1000 })),
          client.request(Write({ ms: 1000 }), { idempotent: true })
        ], { concurrency: "unbounded" }))
        yield* eventually(() => one.ran.Read === 2 && one.ran.Write === 1, 2000, "both reach the server")
        yield* Scope.close(first, Exit.void)
        const two = restartable("two")
        yield* serveAt(Restartable, two.handler, server.address)
        expect(yield* Fiber.join(pending).pipe(within(4000, "retried requests"))).toEqual(["two", "two"])
        expect(two.ran).toEqual({ Read: 1, Write: 1 })
        expect(client.stats().retries).toBe(2)
      }))

    test("server killed and restarted: a non-idempotent request pending on it fails Disconnected and is not sent again", () =>
      Effect.gen(function*() {
        const first = yield* Scope.make()
        const one = restartable("one")
        const server = yield* ProtocolServer.serve(Restartable, one.handler, { shutdownTimeout: 0 }).pipe(
          Scope.extend(first)
        )
        const client = yield* Client.make(Restartable, server.address, {
          reconnect: Schedule.spaced("20 millis"),
          requestTimeout: "5 seconds"
        })
        expect(yield* client.request(Write({ ms: 0 }))).toBe("one")
        const pending = yield* Effect.fork(Effect.flip(client.request(Write({ ms: 1000 }))))
        yield* eventually(() => one.ran.Write === 2, 2000, "the request reaches the server")
        yield* Scope.close(first, Exit.void)
        const two = restartable("two")
        yield* serveAt(Restartable, two.handler, server.address)
        const error = yield* Fiber.join(pending).pipe(within(2000, "the pending request"))
        expect(error).toBeInstanceOf(Client.ClientError)
        expect(error).toMatchObject({ reason: "Disconnected" })
        expect((error as Client.ClientError).attempts).toBeUndefined()
        expect(client.stats().retries).toBe(0)
        // the client itself recovers: a new request goes to the new server, which never saw the old one
        expect(yield* client.request(Write({ ms: 0 })).pipe(within(3000, "after the restart"))).toBe("two")
        expect(two.ran).toEqual({ Read: 0, Write: 1 })
      }))

    // ---- middleware ---------------------------------------------------------------

    test("middleware order: pipe(handler, a, b, c) runs c, b, a, handler and unwinds a, b, c", () =>
      Effect.gen(function*() {
        const trail: Array<string> = []
        const mark = (label: string) =>
          Middleware.make((effect) =>
            Effect.suspend(() => {
              trail.push(`enter ${label}`)
              return Effect.ensuring(effect, Effect.sync(() => trail.push(`exit ${label}`)))
            })
          )
        const handler = (req: Protocol.RequestOf<Jobs>) =>
          Effect.sync(() => {
            trail.push("handler")
            return req._tag === "Work" ? req.n : 0
          })
        const server = yield* ProtocolServer.serve(JobsInOrder, pipe(handler, mark("a"), mark("b"), mark("c")))
        const client = yield* Client.make(JobsInOrder, server.address)
        expect(yield* client.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
        expect(trail).toEqual(["enter c", "enter b", "enter a", "handler", "exit a", "exit b", "exit c"])
      }))

    test("handshake + auth: the first message must be the handshake; a Principal is provided to the handler", () =>
      Effect.gen(function*() {
        class Principal extends Context.Tag("test/Principal")<Principal, { readonly name: string }>() {}
        const Secure = Protocol.schema({
          request: Schema.Union(
            Schema.TaggedStruct("Hello", { user: Schema.String }),
            Schema.TaggedStruct("Whoami", {})
          ),
          response: Schema.String
        })
        type SecureReq = Protocol.RequestOf<typeof Secure>
        const User = Session.state<string | undefined>("user", () => undefined)
        const whoami = (_req: SecureReq) => Effect.map(Principal, (p) => p.name)
        const handler = pipe(
          whoami,
          Middleware.provideService(Principal, (_req: SecureReq, { session }) => {
            const name = session.get(User)
            return name === undefined
              ? Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized" }))
              : Effect.succeed({ name })
          }),
          Middleware.handshake((req: SecureReq, { session }) =>
            req._tag === "Hello"
              ? Effect.sync(() => {
                session.set(User, req.user)
                return `welcome ${req.user}`
              })
              : Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized", detail: "say Hello first" }))
          )
        )
        const server = yield* ProtocolServer.serve(Secure, handler)
        const alice = yield* Client.make(Secure, server.address)
        expect(yield* alice.request({ _tag: "Hello", user: "alice" })).toBe("welcome alice")
        expect(yield* alice.request({ _tag: "Whoami" })).toBe("alice")
        const rude = yield* Client.make(Secure, server.address)
        expect(reasonOf(yield* Effect.flip(rude.request({ _tag: "Whoami" })))).toBe("Remote:Unauthorized")
        yield* eventually(() => rude.stats().connected === 0, 2000, "a failed handshake closes the connection")
      }))

    test("load shedding (concurrency limit) and per-connection rate limit refuse with typed faults", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const limit = Middleware.concurrencyLimit(2)
        const server = yield* ProtocolServer.serve(JobsById, { request: pipe(handler.request, limit) })
        const client = yield* Client.make(JobsById, server.address)
        const results = yield* Effect.forEach(
          range(5),
          (n) => Effect.either(client.request({ _tag: "Work", n, ms: 100 })),
          {
            concurrency: "unbounded"
          }
        )
        expect(results.filter(Either.isRight).length).toBe(2)
        expect(results.filter(Either.isLeft).map((r) => reasonOf(r.left))).toEqual(Array(3).fill("Refused:Overloaded"))
        // the slots are released: the limit lets requests through again
        expect(yield* client.request({ _tag: "Work", n: 7, ms: 0 })).toBe(7)

        const limited = yield* ProtocolServer.serve(JobsById, {
          request: pipe(handler.request, Middleware.rateLimit({ perSecond: 1, burst: 3 }))
        })
        const c1 = yield* Client.make(JobsById, limited.address)
        const c2 = yield* Client.make(JobsById, limited.address)
        const burst = yield* Effect.forEach(range(6), (n) => Effect.either(c1.request({ _tag: "Work", n, ms: 0 })))
        expect(burst.map((r) => (Either.isRight(r) ? "ok" : reasonOf(r.left)))).toEqual([
          "ok",
          "ok",
          "ok",
          "Refused:RateLimited",
          "Refused:RateLimited",
          "Refused:RateLimited"
        ])
        // per connection: another connection has its own bucket
        expect(yield* c2.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
      }))

    test("connection middleware: an IP deny list closes the connection before its first message", () =>
      Effect.gen(function*() {
        const { handler } = makeJobs()
        const denied = yield* ProtocolServer.serve(JobsById, handler, {
          connection: [Middleware.ipFilter({ deny: ["127.0.0.0/8"] })]
        })
        const r = yield* Effect.either(
          Effect.flatMap(Client.make(JobsById, denied.address), (c) => c.request({ _tag: "Work", n: 1, ms: 0 }))
        )
        expect(Either.isLeft(r) && reasonOf(r.left)).toBe("Disconnected")
        expect(denied.stats().requests).toBe(0)
        const allowed = yield* ProtocolServer.serve(JobsById, handler, {
          connection: [Middleware.ipFilter({ allow: ["127.0.0.1"] })]
        })
        const c = yield* Client.make(JobsById, allowed.address)
        expect(yield* c.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
      }))

    testLogged(
      "logging middleware: one structured line per message with method, kind, duration and outcome (typed failures at the given level)",
      (logs) =>
        Effect.gen(function*() {
          const { handler } = makeJobs()
          const server = yield* ProtocolServer.serve(JobsById, {
            request: pipe(handler.request, Middleware.logging()),
            oneWay: pipe(handler.oneWay!, Middleware.logging())
          })
          const client = yield* Client.make(JobsById, server.address)
          yield* client.request({ _tag: "Work", n: 1, ms: 0 })
          yield* Effect.either(client.request({ _tag: "Fail", n: 1 }))
          yield* client.send({ _tag: "Log", line: "x" })
          yield* client.request({ _tag: "Count" })
          const lines = logs.filter((l) => l.annotations.outcome !== undefined)
          expect(
            lines.map((l) => [l.level, l.message, l.annotations.method, l.annotations.kind, l.annotations.outcome])
          ).toEqual([
            ["INFO", "request Work", "Work", "request", "success"],
            ["INFO", "request Fail", "Fail", "request", "failure"],
            ["INFO", "oneway Log", "Log", "oneway", "success"],
            ["INFO", "request Count", "Count", "request", "success"]
          ])
          expect(typeof lines[0]!.annotations.durationMs).toBe("number")
          expect(lines[0]!.annotations.connection).toBe(server.sessions()[0]!.id)
        })
    )

    testLogged(
      "logging middleware: outcomes below the minimum level build no line; faults log at Warning",
      (logs) =>
        Effect.gen(function*() {
          const { handler } = makeJobs()
          const server = yield* ProtocolServer.serve(
            JobsById,
            pipe(handler.request, Middleware.timeout("50 millis"), Middleware.logging({ level: LogLevel.Debug })),
            { requestTimeout: "5 seconds" }
          )
          const client = yield* Client.make(JobsById, server.address)
          expect(yield* client.request({ _tag: "Work", n: 1, ms: 0 })).toBe(1)
          yield* Effect.either(client.request({ _tag: "Fail", n: 1 }))
          const slow = yield* Effect.either(client.request({ _tag: "Work", n: 2, ms: 1000 }))
          expect(Either.isLeft(slow) && reasonOf(slow.left)).toBe("Remote:Timeout")
          const lines = logs.filter((l) => l.annotations.outcome !== undefined)
          expect(lines.map((l) => [l.level, l.message, l.annotations.outcome])).toEqual([
            ["WARN", "request Work", "fault:Timeout"]
          ])
        }).pipe(Logger.withMinimumLogLevel(LogLevel.Info))
    )

    test("metrics: counters, errors, duration histogram, connections gauge and bytes in/out after a scripted run", () =>
      Effect.gen(function*() {
        const metrics = Middleware.metrics({ prefix: `test_${name}_${Math.random().toString(36).slice(2)}` })
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(
          JobsById,
          { request: pipe(handler.request, metrics.middleware), oneWay: pipe(handler.oneWay!, metrics.middleware) },
          { connection: [metrics.connection] }
        )
        const clientScope = yield* Scope.make()
        const client = yield* Client.make(JobsById, server.address).pipe(Scope.extend(clientScope))
        for (const n of range(5)) yield* client.request({ _tag: "Work", n, ms: n === 0 ? 5 : 0 })
        expect(yield* Metric.value(metrics.connections)).toEqual(expect.objectContaining({ value: 1 }))
        yield* Effect.either(client.request({ _tag: "Fail", n: 1 }))
        yield* Effect.either(client.request({ _tag: "Fail", n: 2 }))
        yield* Effect.either(client.request({ _tag: "Die" }))
        for (const i of range(3)) yield* client.send({ _tag: "Log", line: `${i}` })
        yield* client.request({ _tag: "Count" })
        const bytes = server.sessions()[0]!.connection.unsafeStats()
        yield* Scope.close(clientScope, Exit.void)
        yield* eventually(() => server.stats().active === 0, 2000, "the connection closes")
        const value = (m: Metric.Metric<any, any, any>, ...tags: Array<[string, string]>) =>
          Metric.value(tags.reduce((acc, [k, v]) => Metric.tagged(acc, k, v), m))
        expect((yield* value(metrics.requests, ["kind", "request"])).count).toBe(9)
        expect((yield* value(metrics.requests, ["kind", "oneway"])).count).toBe(3)
        expect((yield* value(metrics.errors, ["kind", "request"], ["outcome", "failure"])).count).toBe(2)
        expect((yield* value(metrics.errors, ["kind", "request"], ["outcome", "defect"])).count).toBe(1)
        const histogram = yield* value(metrics.duration, ["kind", "request"])
        expect(histogram.count).toBe(9)
        expect(histogram.max).toBeGreaterThanOrEqual(4)
        expect((yield* Metric.value(metrics.connections)).value).toBe(0)
        expect((yield* Metric.value(metrics.bytesIn)).count).toBe(bytes.bytesRead)
        expect((yield* Metric.value(metrics.bytesOut)).count).toBe(bytes.bytesWritten)
        expect(bytes.bytesRead).toBeGreaterThan(0)
      }))

    // ---- rpc: a schema per method ---------------------------------------------

    for (const correlation of ["byId", "inOrder"] as const) {
      test(`rpc (${correlation}): each method answers with its own success and typed error; handlers per method, generators and Effects`, () =>
        Effect.gen(function*() {
          const Kv = rpcKv(correlation)
          const server = yield* ProtocolServer.serve(Kv, makeRpcKv(Kv))
          const client = yield* Client.make(Kv, server.address)
          const missing: string | null = yield* client.request(RGet({ key: "a" }))
          expect(missing).toBe(null)
          const stored: void = yield* client.request(RPut({ key: "a", value: "1" }))
          expect(stored).toBe(undefined) // Schema.Void travels as null, arrives as undefined
          expect(yield* client.request(RGet({ key: "a" }))).toBe("1")
          const tooLong = yield* Effect.flip(client.request(RPut({ key: "b", value: "123456789" })))
          expect(tooLong).toBeInstanceOf(ValueTooLong)
          expect((tooLong as ValueTooLong).max).toBe(MAX_RPC_VALUE)
          const size: number = yield* client.request(RSize())
          expect(size).toBe(1)
          // many at once, some waiting (a fiber) and some not, each answered with its own method's value
          const results = yield* Effect.forEach(
            range(60),
            (i): Effect.Effect<unknown, Client.ClientError> =>
              i % 3 === 0
                ? client.request(RSlow({ ms: 30 - (i % 30) }))
                : i % 3 === 1
                ? client.request(RGet({ key: "a" }))
                : client.request(RSize()),
            { concurrency: "unbounded" }
          )
          expect(results).toEqual(range(60).map((i) => (i % 3 === 0 ? 30 - (i % 30) : i % 3 === 1 ? "1" : 1)))
          expect(server.stats().failures).toBe(1)
        }))
    }

    test("rpc over MessagePack: the same methods, typed results, typed errors and streams with MessagePack envelopes", () =>
      Effect.gen(function*() {
        const Kv = rpcKv("byId", Msgpack.msgpack)
        const server = yield* ProtocolServer.serve(Kv, makeRpcKv(Kv))
        const client = yield* Client.make(Kv, server.address)
        expect(yield* client.request(RGet({ key: "a" }))).toBe(null)
        yield* client.request(RPut({ key: "a", value: "1" }))
        expect(yield* client.request(RGet({ key: "a" }))).toBe("1")
        expect(yield* Effect.flip(client.request(RPut({ key: "b", value: "123456789" })))).toBeInstanceOf(ValueTooLong)
        const { Count, Streams, handler } = makeStreams(Msgpack.msgpack)
        const streaming = yield* ProtocolServer.serve(Streams, handler)
        const reader = yield* Client.make(Streams, streaming.address)
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(reader.stream(Count({ n: 500 }))))).toEqual(
          range(500).map((i) => i + 1)
        )
        expect(server.stats().successes).toBe(3)
      }))

    test("rpc: a request of an unknown method is a short BadRequest fault naming where it failed, not the schema's text", () =>
      Effect.gen(function*() {
        const Kv = rpcKv("byId")
        const server = yield* ProtocolServer.serve(Kv, makeRpcKv(Kv))
        // a client of a newer protocol version, with a method this server does not have
        const Newer = Protocol.rpc({
          name: "kv-rpc",
          methods: [RGet, Protocol.method("Delete", { payload: { key: Schema.String } })]
        })
        const client = yield* Client.make(Newer, server.address)
        const error = yield* Effect.flip(client.request({ _tag: "Delete", key: "a" }))
        expect(error.reason).toBe("Remote")
        expect(error.fault?.reason).toBe("BadRequest")
        expect(error.fault?.detail?.length).toBeLessThan(400)
        expect(error.fault?.detail).toContain("_tag")
        expect(error.fault?.detail).not.toContain("readonly key: string")
        // the connection goes on
        expect(yield* client.request(RGet({ key: "x" }))).toBe(null)
      }))

    test("cancellation: a client timeout, interruption or close cancels the handler on the server (its finalizers run, nothing is sent); a reset connection interrupts its handlers", () =>
      Effect.gen(function*() {
        const Sleep = Protocol.method("Sleep", { payload: { ms: Schema.Number }, success: Schema.Number })
        const Sleeper = Protocol.rpc({ name: "sleeper", methods: [Sleep] })
        const interrupted: Array<number> = []
        const handler = ProtocolServer.handlers(Sleeper, {
          Sleep: ({ ms }) =>
            Effect.as(Effect.sleep(Duration.millis(ms)), ms).pipe(
              Effect.onInterrupt(() => Effect.sync(() => interrupted.push(ms)))
            )
        })
        const server = yield* ProtocolServer.serve(Sleeper, handler)
        const client = yield* Client.make(Sleeper, server.address)
        const waitFor = (ms: number) =>
          Effect.gen(function*() {
            for (let i = 0; i < 200 && !interrupted.includes(ms); i++) yield* Effect.sleep(Duration.millis(10))
            return interrupted.includes(ms)
          })
        // the client times out: the server's handler is interrupted, long before it would end
        const timedOut = yield* Effect.flip(client.request(Sleep({ ms: 5000 }), { timeout: "50 millis" }))
        expect(timedOut.reason).toBe("Timeout")
        expect(yield* waitFor(5000)).toBe(true)
        // the client's fiber is interrupted: the same
        const fiber = yield* Effect.fork(client.request(Sleep({ ms: 6000 })))
        yield* Effect.sleep(Duration.millis(50))
        yield* Fiber.interrupt(fiber)
        expect(yield* waitFor(6000)).toBe(true)
        expect(server.stats().cancelled).toBe(2)
        // the connection goes on, and only requests still running were cancelled
        expect(yield* client.request(Sleep({ ms: 1 }))).toBe(1)
        expect(server.stats().successes).toBe(1)
        // a client closed with a request pending: it cancels it on its way out
        const closing = yield* Scope.make()
        const leaving = yield* Client.make(Sleeper, server.address).pipe(Scope.extend(closing))
        const pending = yield* Effect.fork(Effect.either(leaving.request(Sleep({ ms: 8000 }))))
        for (let i = 0; i < 100 && server.stats().requests < 4; i++) yield* Effect.sleep(Duration.millis(10))
        yield* Scope.close(closing, Exit.void)
        expect(yield* waitFor(8000)).toBe(true)
        expect(Either.isLeft(yield* Fiber.join(pending))).toBe(true)
        // a peer that resets its connection: its handler is interrupted (no one is left to answer)
        const raw = yield* rawJson(server.address)
        yield* raw.send(`{"id":1,"request":{"_tag":"Sleep","ms":7000}}`)
        for (let i = 0; i < 100 && server.stats().requests < 5; i++) yield* Effect.sleep(Duration.millis(10))
        yield* raw.conn.abort
        expect(yield* waitFor(7000)).toBe(true)
        expect(interrupted).toEqual([5000, 6000, 8000, 7000])
      }))

    test("client backpressure: a producer of one-way messages to a server that does not read waits; the client's unsent bytes stay bounded; a request's deadline runs out waiting to send", () =>
      Effect.gen(function*() {
        const transport = yield* Transport.Transport
        const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 })
        // a peer that accepts and never reads
        yield* Effect.forkScoped(listener.accept)
        const client = yield* Client.make(JobsById, listener.address)
        const line = "x".repeat(64 * 1024)
        let sent = 0
        const producer = yield* Effect.fork(
          Effect.forEach(
            range(2000),
            () => Effect.tap(client.send({ _tag: "Log", line }), () => Effect.sync(() => sent++)),
            {
              discard: true
            }
          )
        )
        // until it stalls: no send completes for 300 ms (socket buffers filled, then the client's bound)
        let last = -1
        for (let i = 0; i < 100 && sent !== last; i++) {
          last = sent
          yield* Effect.sleep("300 millis")
        }
        expect(sent).toBe(last)
        expect(sent).toBeLessThan(2000) // 128 MiB otherwise
        expect(producer.unsafePoll()).toBe(null)
        // what the client holds: its output and the transport's queue, about one high-water mark each
        expect(client.stats().unsent).toBeLessThan(512 * 1024)
        // a request behind that backlog waits to be written, within its deadline
        const blocked = yield* Effect.flip(client.request({ _tag: "Work", n: 1, ms: 0 }, { timeout: "200 millis" }))
          .pipe(
            within(2000, "blocked request")
          )
        expect(blocked).toMatchObject({ reason: "Timeout", phase: "Send", timeout: 200 })
        yield* Fiber.interrupt(producer)
      }))

    testLogged(
      "a one-way message that fails its schema is logged at Warning (a few lines per connection, then only counted); the connection goes on",
      (logs) =>
        Effect.gen(function*() {
          const { handler } = makeJobs()
          const server = yield* ProtocolServer.serve(JobsById, handler)
          const raw = yield* rawJson(server.address)
          for (let i = 0; i < 8; i++) yield* raw.send(`{"message":{"_tag":"Log","line":${i}}}`)
          yield* raw.send(`{"id":1,"request":{"_tag":"Work","n":5,"ms":0}}`)
          expect(JSON.parse(yield* raw.read)).toEqual({ id: 1, success: 5 })
          expect(server.stats().badInput).toBe(8)
          const dropped = logs.filter((l) => l.level === "WARN" && l.message.startsWith("one-way message dropped"))
          expect(dropped.length).toBe(5)
          expect(dropped[0]!.message).toContain("line")
          expect(logs.filter((l) => l.message.includes("further bad one-way messages")).length).toBe(1)
        })
    )

    test("trace propagation: a request made in a span carries it, and the server span is its child; with client spans, the child of the client's span", () =>
      Effect.gen(function*() {
        const { recording, spans } = yield* recordingTracer
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, pipe(handler.request, Middleware.tracing())).pipe(
          Effect.withTracer(recording)
        )
        const plain = yield* Client.make(JobsById, server.address)
        const spanning = yield* Client.make(JobsById, server.address, { spans: true })
        const serverSpans = () => spans.filter((s) => s.kind === "server")
        const parentOf = (span: Tracer.Span) => (span.parent._tag === "Some" ? span.parent.value.spanId : undefined)
        // outside any span: the server span is a root
        yield* plain.request({ _tag: "Work", n: 1, ms: 0 })
        expect(serverSpans().length).toBe(1)
        expect(serverSpans()[0]!.parent._tag).toBe("None")
        // inside the caller's span: the server span is its child, in the same trace
        const caller = yield* Effect.withSpan(
          Effect.flatMap(Effect.currentSpan, (span) => Effect.as(plain.request({ _tag: "Work", n: 2, ms: 0 }), span)),
          "caller"
        ).pipe(Effect.withTracer(recording))
        const second = serverSpans()[1]!
        expect(parentOf(second)).toBe(caller.spanId)
        expect(second.traceId).toBe(caller.traceId)
        // a client with spans: caller → client span → server span
        const outer = yield* Effect.withSpan(
          Effect.flatMap(
            Effect.currentSpan,
            (span) => Effect.as(spanning.request({ _tag: "Work", n: 3, ms: 0 }), span)
          ),
          "caller"
        ).pipe(Effect.withTracer(recording))
        const clientSpan = spans.find((s) => s.kind === "client")!
        expect(clientSpan.name).toBe("jobs.Work")
        expect(parentOf(clientSpan)).toBe(outer.spanId)
        const third = serverSpans()[2]!
        expect(parentOf(third)).toBe(clientSpan.spanId)
        expect(third.traceId).toBe(outer.traceId)
      }))

    // ---- streaming responses --------------------------------------------------

    test("streaming: a method answers with a stream of items; a typed failure ends it; other requests share the connection meanwhile", () =>
      Effect.gen(function*() {
        const { handler, Count, Echo, Streams } = makeStreams()
        const server = yield* ProtocolServer.serve(Streams, handler)
        const client = yield* Client.make(Streams, server.address)
        const all = yield* Stream.runCollect(client.stream(Count({ n: 1000 })))
        expect(Chunk.toReadonlyArray(all)).toEqual(range(1000).map((i) => i + 1))
        const failed = yield* Effect.flip(Stream.runCollect(client.stream(Count({ n: 100, failAt: 50 }))))
        expect(failed).toBeInstanceOf(CountFailed)
        expect((failed as CountFailed).at).toBe(50)
        // two streams and single answers at once on one connection
        const [a, b, echoed] = yield* Effect.all([
          Stream.runCollect(client.stream(Count({ n: 300 }))),
          Stream.runCollect(client.stream(Count({ n: 200 }))),
          client.request(Echo({ text: "hi" }))
        ], { concurrency: "unbounded" })
        expect(Chunk.size(a)).toBe(300)
        expect(Chunk.size(b)).toBe(200)
        expect(echoed).toBe("hi")
        expect(server.stats().successes).toBe(4)
      }))

    test("streaming: a slow reader pauses the server's stream (bounded on both sides); ending the read early cancels it", () =>
      Effect.gen(function*() {
        const { handler, Count, Streams, state } = makeStreams()
        const server = yield* ProtocolServer.serve(Streams, handler)
        const client = yield* Client.make(Streams, server.address)
        // read 3 chunks (one item each: the handler maps item by item), then stop reading for a while
        const scope = yield* Scope.make()
        const pull = yield* Stream.toPull(client.stream(Count({ n: 1_000_000 }))).pipe(Scope.extend(scope))
        let read = 0
        while (read < 3) read += Chunk.size(yield* pull)
        yield* Effect.sleep("300 millis")
        // the server ran a window of chunks ahead of the reader, not a million items
        expect(state.produced).toBeGreaterThanOrEqual(Protocol.STREAM_WINDOW)
        expect(state.produced).toBeLessThanOrEqual(read + Protocol.STREAM_WINDOW + 2)
        const paused = state.produced
        yield* Effect.sleep("100 millis")
        expect(state.produced).toBe(paused)
        // reading goes on where it stopped, in order, and the server with it
        const rest: Array<number> = []
        while (rest.length < 100) rest.push(...Chunk.toReadonlyArray(yield* pull))
        expect(rest.slice(0, 100)).toEqual(range(100).map((i) => read + 1 + i))
        expect(state.produced).toBeGreaterThan(paused)
        // the reader goes away: the server's stream is cancelled (its finalizer runs)
        yield* Scope.close(scope, Exit.void)
        for (let i = 0; i < 100 && state.finalized === 0; i++) yield* Effect.sleep("10 millis")
        expect(state.finalized).toBe(1)
        for (let i = 0; i < 100 && server.stats().cancelled === 0; i++) yield* Effect.sleep("10 millis")
        expect(server.stats().cancelled).toBe(1)
        // Stream.take ends early too
        const first = yield* Stream.runCollect(Stream.take(client.stream(Count({ n: 1_000_000 })), 3))
        expect(Chunk.toReadonlyArray(first)).toEqual([1, 2, 3])
        for (let i = 0; i < 100 && state.finalized < 2; i++) yield* Effect.sleep("10 millis")
        expect(state.finalized).toBe(2)
      }))

    test("authenticate: the first message logs in and later ones run with its principal; a connection that skips it is refused; client headers reach context.headers", () =>
      Effect.gen(function*() {
        class Principal extends Context.Tag("conformance/Principal")<Principal, { readonly name: string }>() {}
        const Login = Protocol.method("Login", { payload: { token: Schema.String }, success: Schema.String })
        const WhoAmI = Protocol.method("WhoAmI", { success: Schema.String })
        const Api = Protocol.rpc({ name: "api", methods: [Login, WhoAmI] })
        const handler = ProtocolServer.handlers(Api, {
          // answered by authenticate when it is the first message; a later Login is a no-op
          Login: () => Effect.succeed("already logged in"),
          *WhoAmI() {
            const principal = yield* Principal
            return principal.name
          }
        })
        const auth = Middleware.authenticate(Principal, {
          login: (request: Protocol.RequestOf<typeof Api>) =>
            request._tag === "Login" && request.token === "secret"
              ? Effect.succeed({ name: "alice" })
              : Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized", detail: "log in first" })),
          respond: (principal) => `welcome ${principal.name}`
        })
        const server = yield* ProtocolServer.serve(Api, pipe(handler, auth))
        const client = yield* Client.make(Api, server.address)
        expect(yield* client.request(Login({ token: "secret" }))).toBe("welcome alice")
        expect(yield* client.request(WhoAmI())).toBe("alice")
        expect(yield* client.request(Login({ token: "secret" }))).toBe("already logged in")
        const stranger = yield* Client.make(Api, server.address)
        const refused = yield* Effect.flip(stranger.request(WhoAmI()))
        expect(refused.fault?.reason).toBe("Unauthorized")
        const wrong = yield* Client.make(Api, server.address)
        expect((yield* Effect.flip(wrong.request(Login({ token: "guess" })))).fault?.detail).toBe("log in first")

        const echoHeaders = ProtocolServer.handlers(Api, {
          Login: () => Effect.succeed(""),
          WhoAmI: (_request, context) => Effect.succeed(context.headers.authorization ?? "none")
        })
        const plain = yield* ProtocolServer.serve(Api, echoHeaders)
        let token = 0
        const withToken = yield* Client.make(Api, plain.address, {
          headers: () => Effect.sync(() => ({ authorization: `Bearer ${++token}` }))
        })
        expect(yield* withToken.request(WhoAmI())).toBe("Bearer 1")
        expect(yield* withToken.request(WhoAmI())).toBe("Bearer 2")
        const without = yield* Client.make(Api, plain.address)
        expect(yield* without.request(WhoAmI())).toBe("none")
        // the client as a Layer, for services that depend on it
        class ApiClient extends Context.Tag("conformance/ApiClient")<ApiClient, Client.ClientFor<typeof Api>>() {}
        const viaLayer = yield* Effect.flatMap(ApiClient, (api) => api.request(WhoAmI())).pipe(
          Effect.provide(Client.layer(ApiClient, Api, plain.address, { headers: { authorization: "layer" } }))
        )
        expect(viaLayer).toBe("layer")
      }))

    test("streaming: a stream keeps the services its handler had, those middleware provided included", () =>
      Effect.gen(function*() {
        class Greeting extends Context.Tag("conformance/Greeting")<Greeting, string>() {}
        const Greet = Protocol.method("Greet", { payload: { n: Schema.Number }, success: Schema.String, stream: true })
        const Api = Protocol.rpc({ name: "greet", methods: [Greet] })
        const handler = ProtocolServer.handlers(Api, {
          Greet: ({ n }) => Stream.mapEffect(Stream.range(1, n), (i) => Effect.map(Greeting, (g) => `${g} ${i}`))
        })
        const withGreeting = Middleware.provideService(
          Greeting,
          (_request, context) => Effect.succeed(`hello from ${context.protocol}`)
        )
        const server = yield* ProtocolServer.serve(Api, pipe(handler, withGreeting))
        const client = yield* Client.make(Api, server.address)
        const items = yield* Stream.runCollect(client.stream(Greet({ n: 3 })))
        expect(Chunk.toReadonlyArray(items)).toEqual(["hello from greet 1", "hello from greet 2", "hello from greet 3"])
      }))

    test("streaming: a graceful shutdown waits for a stream up to its deadline, then ends it; the reader fails, nothing hangs", () =>
      Effect.gen(function*() {
        const { handler, Count, Streams, state } = makeStreams()
        const server = yield* ProtocolServer.serve(Streams, handler)
        const client = yield* Client.make(Streams, server.address)
        // a reader that never ends and reads slowly
        const reading = yield* Effect.fork(
          Stream.runDrain(Stream.tap(client.stream(Count({ n: 1_000_000_000 })), () => Effect.sleep("5 millis")))
        )
        for (let i = 0; i < 100 && state.produced < 20; i++) yield* Effect.sleep("10 millis")
        const result = yield* server.shutdown("200 millis").pipe(within(5000, "shutdown"))
        expect(result).toBeDefined()
        const exit = yield* Fiber.await(reading).pipe(within(5000, "the reader"))
        expect(exit._tag).toBe("Failure")
        for (let i = 0; i < 100 && state.finalized === 0; i++) yield* Effect.sleep("10 millis")
        expect(state.finalized).toBe(1)
      }))

    test("tracing middleware: a server span per request with peer and outcome attributes", () =>
      Effect.gen(function*() {
        const { recording, spans } = yield* recordingTracer
        const { handler } = makeJobs()
        const server = yield* ProtocolServer.serve(JobsById, pipe(handler.request, Middleware.tracing())).pipe(
          Effect.withTracer(recording)
        )
        const client = yield* Client.make(JobsById, server.address)
        yield* client.request({ _tag: "Work", n: 1, ms: 0 })
        yield* Effect.either(client.request({ _tag: "Fail", n: 1 }))
        expect(spans.map((s) => s.name)).toEqual(["jobs.Work", "jobs.Fail"])
        const [ok, failed] = spans as unknown as [
          Tracer.Span & { attributes: Map<string, unknown> },
          Tracer.Span & { attributes: Map<string, unknown> }
        ]
        expect(ok.kind).toBe("server")
        expect(ok.attributes.get("net.peer.address")).toBe("127.0.0.1")
        expect(ok.attributes.get("wirekit.outcome")).toBe("success")
        expect(ok.attributes.get("rpc.method")).toBe("Work")
        expect(failed.attributes.get("wirekit.outcome")).toBe("failure")
        expect(ok.status._tag).toBe("Ended")
      }))
  })
}
