import { describe, it } from "@effect/vitest"
import { Client, Protocol } from "@wirekit/core"
import { NodeTransport } from "@wirekit/node"
import { ProtocolConformance } from "@wirekit/testing"
import { Duration, Effect, Either, Fiber, Schedule, Schema } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { expect } from "vitest"

ProtocolConformance.run({ name: "node", layer: NodeTransport.layer })

// Node only: the fixture is a child process run the production way, `Layer.launch` +
// `NodeRuntime.runMain` (spawned with `node --import tsx`), and the test signals it with
// SIGTERM. Bun and Deno run the same ProtocolConformance suite in
// packages/{bun,deno}/test/protocol.test.ts; their runMain is @effect/platform's.
const Sleep = Protocol.schema({ name: "sleep", request: Schema.Number, response: Schema.Number })
const fixture = fileURLToPath(new URL("./fixtures/signal-server.ts", import.meta.url))

describe("protocols over node: process signals", () => {
  it.live(
    "SIGTERM under NodeRuntime.runMain releases the Layer: the request in flight is answered, then the process exits 0",
    () =>
      Effect.gen(function*() {
        const child = spawn(process.execPath, ["--conditions=@wirekit/source", "--import", "tsx", fixture], {
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        child.stdout.on("data", (b: Buffer) => (output += b.toString()))
        child.stderr.on("data", (b: Buffer) => (output += b.toString()))
        const exited = Effect.async<number | null>((resume) => {
          if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
          child.once("exit", (code) => resume(Effect.succeed(code)))
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL")))
        // tsx compiles the fixture first: allow a generous start-up on a busy machine
        const port = yield* Effect.suspend(() => {
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output)
          return m ? Effect.succeed(Number(m[1])) : Effect.fail(`server not listening yet; output so far: ${output}`)
        }).pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("15 seconds"))))
        const client = yield* Client.make(Sleep, { host: "127.0.0.1", port })
        const slow = yield* Effect.fork(client.request(400))
        yield* Effect.sleep("100 millis")
        child.kill("SIGTERM")
        expect(yield* Fiber.join(slow)).toBe(400)
        const code = yield* exited.pipe(Effect.timeout(Duration.seconds(10)))
        expect(code).toBe(0)
        expect(output).toContain("shutting down")
        expect(output).toContain("shut down")
        const after = yield* Effect.either(client.request(1))
        expect(Either.isLeft(after)).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer)),
    20_000
  )
})
