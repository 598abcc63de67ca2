/**
 * Helpers shared by the conformance suites (not part of the public API).
 * @internal
 */
import { Connection } from "@wirekit/core"
import { Duration, Effect, Random } from "effect"

export const enc = new TextEncoder()
export const dec = new TextDecoder()

/** Deterministic pseudo-random bytes (xorshift32). */
export const randomBytes = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Byte equality that ignores the array class (Node and Bun hand out Buffers). */
export const sameBytes = (a: Uint8Array | Connection.EOF, b: Uint8Array): boolean => {
  if (a === Connection.EOF || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** An echo handler: everything read is written back; returns at EOF. */
export const echoHandler = Effect.gen(function*() {
  const conn = yield* Connection.Connection
  while (true) {
    const chunks = yield* conn.readMany
    if (chunks === Connection.EOF) return
    yield* conn.writeAll(chunks)
  }
})

/** Writes `data` in random-size chunks (1..maxChunk). */
export const writeRandomly = (conn: Connection.Connection, data: Uint8Array, maxChunk: number) =>
  Effect.gen(function*() {
    let off = 0
    while (off < data.length) {
      const n = yield* Random.nextIntBetween(1, maxChunk + 1)
      yield* conn.write(data.subarray(off, Math.min(data.length, off + n)))
      off += n
    }
  })

/** A few milliseconds of random delay, sometimes none. */
export const jitter = Effect.flatMap(
  Random.nextIntBetween(0, 4),
  (ms) => ms === 0 ? Effect.void : Effect.sleep(Duration.millis(ms))
)

/** Waits until `counter()` stops moving (sampled every 100 ms, at most 5 s); returns its value. */
export const settle = (counter: () => number) =>
  Effect.gen(function*() {
    let last = -1
    for (let i = 0; i < 50 && last !== counter(); i++) {
      last = counter()
      yield* Effect.sleep(Duration.millis(100))
    }
    return last
  })

/** Writes each part as its own write, sometimes pausing 1 ms between them (so they arrive as separate chunks), then ends. */
export const writeParts = (conn: Connection.Connection, parts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    for (const p of parts) {
      yield* conn.write(enc.encode(p))
      if ((yield* Random.nextIntBetween(0, 3)) === 0) yield* Effect.sleep(Duration.millis(1))
    }
    yield* conn.end
  })

const resetScript = [
  "import socket, struct, sys",
  "host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])",
  "for i in range(n):",
  "    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)",
  "    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))",
  "    s.connect((host, port))",
  "    s.send(b'a partial request')",
  "    s.close()",
  "print(n, flush=True)"
].join("\n")

/**
 * `n` peers in a helper process (python3) that each connect, write a few bytes
 * and reset (SO_LINGER 0) at once: from outside the server's event loop, so the
 * resets reach the kernel before the server accepts (a peer in the same process
 * is only aborted after the server's runtime already took it). Resolves with
 * the number of peers once the helper exits.
 */
export const resetFromProcess = (host: string, port: number, n: number) =>
  Effect.gen(function*() {
    const cp = yield* Effect.promise(() => import("node:child_process"))
    return yield* Effect.async<number, Error>((resume) => {
      const child = cp.spawn("python3", ["-c", resetScript, host, String(port), String(n)], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      let out = ""
      child.stdout!.on("data", (d: Uint8Array) => {
        out += new TextDecoder().decode(d)
      })
      child.on("error", (e) => resume(Effect.fail(e)))
      child.on("exit", (code) =>
        resume(code === 0 ? Effect.succeed(Number(out.trim())) : Effect.fail(new Error(`reset helper exited ${code}`))))
      return Effect.sync(() =>
        child.kill("SIGKILL")
      )
    })
  })
