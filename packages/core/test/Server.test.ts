import { it } from "@effect/vitest"
import type { Address } from "@wirekit/core"
import { Connection, Framed, Lines, MemoryTransport, Server, Transport } from "@wirekit/core"
import { Cause, Effect, Fiber, HashMap, Logger, LogLevel, Option, TestClock } from "effect"
import { expect } from "vitest"

/** Echoes every chunk back as it comes, until EOF. */
const echoChunks = Effect.gen(function*() {
  const conn = yield* Connection.Connection
  while (true) {
    const chunks = yield* conn.readMany
    if (chunks === Connection.EOF) return
    yield* conn.writeAll(chunks)
  }
})

/** Collects (level, message) of every log line. */
const capture = () => {
  const lines: Array<{ level: string; message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: String(Array.isArray(message) ? message[0] : message) })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

it.scopedLive("a peer reset is logged at Debug, a handler failure at Warning; both count as failed", () => {
  const logs = capture()
  return Effect.gen(function*() {
    const t = yield* Transport.Transport
    let n = 0
    const handler = Effect.gen(function*() {
      const conn = yield* Connection.Connection
      if (++n === 2) return yield* Effect.fail("boom")
      yield* Connection.readAll(conn) // fails with Reset when the peer aborts
    })
    const server = yield* Server.serve(yield* t.listen({ host: "127.0.0.1", port: 0 }), handler)
    const a = yield* t.connect(server.address)
    yield* a.write(new Uint8Array([1]))
    yield* a.abort
    const b = yield* t.connect(server.address)
    expect((yield* Connection.readAll(b)).length).toBe(0)
    for (let i = 0; i < 50 && server.failed() < 2; i++) yield* Effect.sleep("10 millis")
    expect(server.failed()).toBe(2)
    const relevant = logs.lines.filter((l) => /reset by peer|handler failed/.test(l.message))
    expect(relevant).toEqual([
      { level: "DEBUG", message: "connection reset by peer" },
      { level: "WARN", message: "connection handler failed; closing its connection" }
    ])
  }).pipe(
    Effect.provide(MemoryTransport.layer()),
    Effect.provide(logs.layer),
    Logger.withMinimumLogLevel(LogLevel.Debug)
  )
})

it.scopedLive("a peer that ends inside a frame is logged at Info without a cause; a frame too large at Warning with it", () => {
  const lines: Array<{ level: string; message: string; cause: boolean }> = []
  const logger = Logger.make(({ cause, logLevel, message }) => {
    const text = String(Array.isArray(message) ? message[0] : message)
    if (/inside a frame|handler failed/.test(text)) {
      lines.push({ level: logLevel.label, message: text, cause: !Cause.isEmpty(cause) })
    }
  })
  return Effect.gen(function*() {
    const t = yield* Transport.Transport
    const handler = Effect.gen(function*() {
      const framed = Framed.make(yield* Connection.Connection, Lines.make({ maxLength: 16, encodeDelimiter: "lf" }))
      yield* framed.pump((frames) => {
        for (const frame of frames) framed.unsafeSend(frame)
      })
    })
    const server = yield* Server.serve(yield* t.listen({ host: "127.0.0.1", port: 0 }), handler)
    // a whole line, then half of one, then the end of the stream
    const midLine = yield* t.connect(server.address)
    yield* midLine.write(new TextEncoder().encode("hello\npart"))
    yield* midLine.end
    expect(new TextDecoder().decode(yield* Connection.readAll(midLine))).toBe("hello\n")
    // a line over the limit: a real failure of the handler
    const tooLong = yield* t.connect(server.address)
    yield* tooLong.write(new Uint8Array(64).fill(0x61))
    expect((yield* Connection.readAll(tooLong)).length).toBe(0)
    for (let i = 0; i < 50 && lines.length < 2; i++) yield* Effect.sleep("10 millis")
    expect(lines).toEqual([
      {
        level: "INFO",
        message: expect.stringMatching(
          /^peer closed the connection inside a frame: Lines: stream ended inside a frame/
        ),
        cause: false
      },
      { level: "WARN", message: "connection handler failed; closing its connection", cause: true }
    ])
  }).pipe(
    Effect.provide(MemoryTransport.layer()),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger))
  )
})

/** `listener` with the connections it accepts passed through `tamper` (with their 0-based accept index). */
const tampered = (
  listener: Transport.Listener,
  tamper: (conn: Connection.Connection, index: number) => Connection.Connection
): Transport.Listener => {
  let index = 0
  return {
    address: listener.address,
    accept: Effect.map(listener.accept, (conn) => tamper(conn, index++)),
    close: listener.close,
    rejected: listener.rejected
  }
}

/** `conn` with property `prop` replaced by a getter (everything else goes to `conn` itself). */
const withGetter = (conn: Connection.Connection, prop: string, get: () => unknown): Connection.Connection =>
  new Proxy(conn, {
    get(target, p) {
      if (p === prop) return get()
      const value = Reflect.get(target, p, target)
      return typeof value === "function" ? value.bind(target) : value
    }
  })

/** Connects, writes `text`, ends, and reads the reply to EOF (2 s at most). */
const roundTrip = (t: Transport.TransportService, address: Address.Address, text: string) =>
  Effect.scoped(Effect.gen(function*() {
    const c = yield* t.connect(address)
    if (text !== "") yield* c.write(new TextEncoder().encode(text))
    yield* c.end
    return new TextDecoder().decode(yield* Connection.readAll(c))
  })).pipe(
    Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error(`no reply to "${text}" within 2 s`) })
  )

const echo = Effect.gen(function*() {
  const conn = yield* Connection.Connection
  yield* conn.write(yield* Connection.readAll(conn))
})

it.scopedLive("a connection whose peer address cannot be read is served (peer \"unknown\" in the logs), and so are the next ones", () => {
  const peers: Array<string> = []
  const logger = Logger.make(({ annotations, message }) => {
    if (String(Array.isArray(message) ? message[0] : message) === "connection opened") {
      peers.push(String(Option.getOrElse(HashMap.get(annotations, "peer"), () => "none")))
    }
  })
  return Effect.gen(function*() {
    const t = yield* Transport.Transport
    const listener = tampered(
      yield* t.listen({ host: "127.0.0.1", port: 0 }),
      (conn, i) =>
        i === 0 ?
          withGetter(conn, "remoteAddress", () => {
            throw new Error("no peer address")
          }) :
          conn
    )
    const server = yield* Server.serve(listener, echo)
    expect(yield* roundTrip(t, server.address, "first")).toBe("first")
    expect(yield* roundTrip(t, server.address, "second")).toBe("second")
    expect(server.accepted()).toBe(2)
    expect(server.failed()).toBe(0)
    expect(peers[0]).toBe("unknown")
    expect(peers[1]).toMatch(/^127\.0\.0\.1:\d+$/)
  }).pipe(
    Effect.provide(MemoryTransport.layer()),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Logger.withMinimumLogLevel(LogLevel.Debug)
  )
})

it.scopedLive("a defect while starting one connection is logged at Warning and closes only that connection; the loop serves the next", () => {
  const logs = capture()
  return Effect.gen(function*() {
    const t = yield* Transport.Transport
    // the first connection's id throws once: Server's setup of it dies
    const listener = tampered(yield* t.listen({ host: "127.0.0.1", port: 0 }), (conn, i) => {
      if (i !== 0) return conn
      let thrown = false
      return withGetter(conn, "id", () => {
        if (thrown) return conn.id
        thrown = true
        throw new Error("setup defect")
      })
    })
    const server = yield* Server.serve(listener, echo)
    expect(yield* roundTrip(t, server.address, "")).toBe("") // closed without a reply
    expect(yield* roundTrip(t, server.address, "next")).toBe("next")
    expect(yield* roundTrip(t, server.address, "and next")).toBe("and next")
    const warnings = logs.lines.filter((l) => l.level === "WARN")
    expect(warnings).toEqual([{ level: "WARN", message: "could not start serving a connection; closing it" }])
    expect(server.failed()).toBe(0)
  }).pipe(
    Effect.provide(MemoryTransport.layer()),
    Effect.provide(logs.layer),
    Logger.withMinimumLogLevel(LogLevel.Debug)
  )
})

it.scopedLive("maxConnections: past the limit a new connection is closed at once and counted; the open ones keep being served", () =>
  Effect.gen(function*() {
    const t = yield* Transport.Transport
    const server = yield* Server.serve(yield* t.listen({ host: "127.0.0.1", port: 0 }), echoChunks, {
      maxConnections: 1
    })
    const first = yield* t.connect(server.address)
    yield* first.write(new Uint8Array([1]))
    expect([...(yield* Connection.readExactly(first, 1)).bytes]).toEqual([1])
    const second = yield* t.connect(server.address)
    expect((yield* Connection.readAll(second)).length).toBe(0)
    expect(server.rejected()).toBe(1)
    expect(server.active()).toBe(1)
    yield* first.write(new Uint8Array([2]))
    expect([...(yield* Connection.readExactly(first, 1)).bytes]).toEqual([2])
  }).pipe(Effect.provide(MemoryTransport.layer())))

it.scoped("idleTimeout (on the Clock): a connection without a byte either way is closed; one with traffic is kept", () =>
  Effect.gen(function*() {
    const t = yield* Transport.Transport
    const server = yield* Server.serve(yield* t.listen({ host: "127.0.0.1", port: 0 }), echoChunks, {
      idleTimeout: "10 seconds"
    })
    const silent = yield* t.connect(server.address)
    const talking = yield* t.connect(server.address)
    const readEnd = yield* Effect.fork(Connection.readAll(silent))
    for (let i = 0; i < 4; i++) {
      yield* TestClock.adjust("4 seconds")
      yield* talking.write(new Uint8Array([i]))
      expect([...(yield* Connection.readExactly(talking, 1)).bytes]).toEqual([i])
    }
    // 16 s without a byte: the silent one is gone, the talking one is still served
    expect((yield* Fiber.join(readEnd)).length).toBe(0)
    expect(server.active()).toBe(1)
    yield* TestClock.adjust("11 seconds")
    yield* Effect.yieldNow()
    expect((yield* Connection.readAll(talking)).length).toBe(0)
  }).pipe(Effect.provide(MemoryTransport.layer())))
