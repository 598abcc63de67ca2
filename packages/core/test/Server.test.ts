import { it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import { expect } from "vitest"
import { Connection, MemoryTransport, Server, Transport } from "@wirekit/core"

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
