/**
 * Blackhole addresses for connect-timeout tests on real sockets.
 *
 * `process` starts a helper process (python3) that listens on 127.0.0.1 with
 * backlog 0 and never accepts, then fills its accept queue, so that later
 * SYNs are dropped and a connect hangs until its timeout. Loopback only. The
 * helper is killed when the scope closes (and exits by itself after 60 s).
 * Needs `node:child_process` (Node, Bun and Deno all have it) and python3.
 * @since 0.1.0
 */
import type { Address as Address$ } from "@wirekit/core"
import { Transport as Transport$ } from "@wirekit/core"
import { Effect } from "effect"
import type { Scope } from "effect"
type Address = Address$.Address
const Transport = Transport$.Transport
type Transport = Transport$.Transport

const script = [
  "import socket, time, sys",
  "s = socket.socket()",
  "s.bind(('127.0.0.1', 0))",
  "s.listen(0)",
  "print(s.getsockname()[1], flush=True)",
  "time.sleep(60)"
].join("\n")

/**
 * A real-socket blackhole on 127.0.0.1 (see module docs).
 *
 * @since 0.1.0
 * @category utils
 */
export const process: Effect.Effect<Address, unknown, Scope.Scope | Transport> = Effect.gen(function*() {
  const cp = yield* Effect.promise(() => import("node:child_process"))
  const child = yield* Effect.acquireRelease(
    Effect.sync(() => cp.spawn("python3", ["-c", script], { stdio: ["ignore", "pipe", "inherit"] })),
    (c) => Effect.sync(() => c.kill("SIGKILL"))
  )
  const port = yield* Effect.async<number, Error>((resume) => {
    let buf = ""
    child.stdout!.on("data", (d: Uint8Array) => {
      buf += new TextDecoder().decode(d)
      const line = buf.split("\n")[0]!
      if (buf.includes("\n")) resume(Effect.succeed(Number(line.trim())))
    })
    child.on("error", (e) => resume(Effect.fail(e)))
  })
  const address: Address = { host: "127.0.0.1", port }
  // fill the accept queue (backlog 0 holds one; a second may sit in the SYN queue)
  const t = yield* Transport
  for (let i = 0; i < 2; i++) {
    yield* Effect.exit(t.connect(address, { timeout: 300 }))
  }
  return address
})

/**
 * A blackhole for transports that model the backlog (the memory transport):
 * a listener with backlog 1 that never accepts, filled by one connection.
 *
 * @since 0.1.0
 * @category utils
 */
export const backlog: Effect.Effect<Address, unknown, Scope.Scope | Transport> = Effect.gen(function*() {
  const t = yield* Transport
  const l = yield* t.listen({ host: "127.0.0.1", port: 0 }, { backlog: 1 })
  yield* t.connect(l.address, { timeout: 1000 })
  return l.address
})
