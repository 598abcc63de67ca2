/**
 * Starts an example as a real process on a runtime, for the examples'
 * end-to-end tests (the same command `npm start -- --example NAME --runtime X` runs).
 */
import { spawn } from "node:child_process"
import type { ChildProcessByStdio } from "node:child_process"
import type { Readable } from "node:stream"
import { commandFor, root } from "./runtimes.mjs"

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
