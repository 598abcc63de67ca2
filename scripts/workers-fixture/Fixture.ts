/**
 * The server the workers tests run (packages/node/test/workers.e2e.test.ts):
 * a ProtocolServer whose reply names the worker that answered, so a test can
 * count connections per worker. One JSON line per message:
 *
 * ```
 *   → {"id":1,"request":{"n":1,"delay":0}}
 *   ← {"id":1,"success":"2:41234"}          worker id ":" pid
 * ```
 *
 * Every request logs `start <n>` when its handler starts, so a test can check
 * that each request a worker started was answered.
 */
import { Address, Lines, Protocol, ProtocolServer, Workers } from "@wirekit/core"
import { Duration, Effect, Layer, Schema } from "effect"
import { parseArgs } from "node:util"

/** The fixture's protocol. */
export const Fixture = Protocol.schema({
  name: "fixture",
  request: Schema.Struct({ n: Schema.Number, delay: Schema.Number }),
  response: Schema.String,
  framing: Lines.make({ delimiter: "lf" })
})

/** Flags: `--port N --workers N`. */
export const parse = (argv: ReadonlyArray<string>) => {
  const { values } = parseArgs({
    args: [...argv],
    options: { port: { type: "string", default: "0" }, workers: { type: "string", default: "1" } }
  })
  return { port: Number(values.port), workers: Number(values.workers) }
}

/** The server on 127.0.0.1:`port`; `pid` is the process's (each runtime reads it its own way). */
export const layer = (port: number, pid: number) =>
  Layer.unwrapEffect(Effect.map(Workers.WorkerInfo, (info) =>
    ProtocolServer.layer(
      Fixture,
      (request) =>
        Effect.gen(function*() {
          yield* Effect.logInfo(`start ${request.n}`)
          if (request.delay > 0) yield* Effect.sleep(Duration.millis(request.delay))
          return `${info.id}:${pid}`
        }),
      { address: Address.tcp("127.0.0.1", port), shutdownTimeout: Duration.seconds(5) }
    )))
