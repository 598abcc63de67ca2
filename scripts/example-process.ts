/**
 * Starts an example as a real process on a runtime, for the examples'
 * end-to-end tests (the same command `npm start -- --example NAME --runtime X` runs).
 */
import { spawn } from "node:child_process"
import type { ChildProcessByStdio } from "node:child_process"
import * as Net from "node:net"
import type { Readable, Writable } from "node:stream"
import { cliCommandFor, commandFor, root } from "./runtimes.mjs"

/** A started example. */
export interface ExampleProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  /** The port from the example's `listening on 127.0.0.1:PORT` line. */
  readonly port: Promise<number>
  /** The exit code, once the process exits. */
  readonly exited: Promise<number | null>
  /** Everything it printed so far (stdout and stderr). */
  readonly output: () => string
}

/** Starts `example` on `runtime` with `--port 0` and `args`; `port` resolves from its listening line (60 s limit). */
export const startExample = (example: string, runtime: string, args: ReadonlyArray<string> = []): ExampleProcess => {
  const [cmd, argv] = commandFor(example, runtime, ["--port", "0", ...args])
  const child = spawn(cmd, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in: ${output}`)), 60_000)
    const onData = (d: Buffer) => {
      output += d.toString()
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
  })
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, port, exited, output: () => output }
}

/** How a CLI run ended. */
export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `cmd argv` from the repository root to completion; killed after 60 s. */
const runToEnd = (cmd: string, argv: ReadonlyArray<string>): Promise<CliRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** Runs an example's CLI (the built `examples/<example>/dist/cli.js` on Node) to completion; killed after 60 s. */
export const runCli = (example: string, args: ReadonlyArray<string>): Promise<CliRun> =>
  runToEnd(...cliCommandFor(example, args))

/** Starts an example's CLI (built, on Node) with a pipe to its stdin, for a client that talks while it runs. */
export const spawnCli = (
  example: string,
  args: ReadonlyArray<string>
): ChildProcessByStdio<Writable, Readable, Readable> => {
  const [cmd, argv] = cliCommandFor(example, args)
  return spawn(cmd, argv, { cwd: root, stdio: ["pipe", "pipe", "pipe"] })
}

/** Runs `example` on `runtime` with `args` to completion (for flags it refuses before listening); killed after 60 s. */
export const runExample = (example: string, runtime: string, args: ReadonlyArray<string>): Promise<CliRun> =>
  runToEnd(...commandFor(example, runtime, args))

/**
 * One connection to the echo example (or any server that echoes): writes
 * `payload`, ends its side, and resolves with all it read once the server
 * closes its side.
 */
export const echoOnce = (port: number, payload: Uint8Array): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Array<Buffer> = []
    const s = Net.connect({ host: "127.0.0.1", port }, () => s.end(payload))
    s.on("data", (d: Buffer) => parts.push(d))
    s.on("end", () => resolve(Buffer.concat(parts)))
    s.on("error", reject)
  })

/** A port nothing listens on (bound, then released). */
export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
