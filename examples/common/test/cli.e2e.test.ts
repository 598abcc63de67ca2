/**
 * The examples' command lines as a user meets them (real processes): a
 * refused flag is one paragraph and exit status 2, `--help` is the usage and
 * exit status 0, and Ctrl-C through `npm start` is a clean shutdown with exit
 * status 0. A few spawns per runtime: each costs a process start.
 */
import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import { runCli, runExample } from "../../../scripts/example-process.ts"
import { root } from "../../../scripts/runtimes.mjs"

/** No stack trace: no `    at f (file:line)` lines. */
const noStack = (text: string) => expect(text).not.toMatch(/^\s+at .+:\d+/m)

describe("the examples' command lines on node", () => {
  it("an unknown flag, a bad port, a bad choice: exit 2, one reason, the usage, no stack", async () => {
    const [unknown, badPort, badFraming, kvPort] = await Promise.all([
      runExample("echo", "node", ["--prot", "1"]),
      runExample("echo", "node", ["--port", "abc"]),
      runExample("echo", "node", ["--port", "0", "--framing", "words"]),
      runExample("kv", "node", ["--port", "70000"])
    ])
    for (const run of [unknown, badPort, badFraming, kvPort]) {
      expect(run.code).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stdout + run.stderr).not.toMatch(/listening on/)
      noStack(run.stderr)
    }
    expect(unknown.stderr).toMatch(
      /^echo: Received unknown argument: '--prot'\nusage: echo \[--host HOST\] \[--port PORT\]/
    )
    expect(unknown.stderr).toMatch(/\(echo --help describes every flag\)\n$/)
    expect(badPort.stderr).toMatch(/^echo: --port must be an integer from 0 to 65535 \(got abc\)\nusage: echo /)
    expect(badFraming.stderr).toMatch(/^echo: --framing must be none, lines or length \(got words\)\n/)
    expect(kvPort.stderr).toMatch(
      /^kv-server: --port must be an integer from 0 to 65535 \(got 70000\)\nusage: kv-server /
    )
  }, 90_000)

  it("--help prints the usage and every flag, exit 0; the kv client has it for each command", async () => {
    const [echo, kv, kvSet] = await Promise.all([
      runExample("echo", "node", ["--help"]),
      runCli("kv", ["--help"]),
      runCli("kv", ["set", "--help"])
    ])
    for (const run of [echo, kv, kvSet]) {
      expect(run.code).toBe(0)
      expect(run.stderr).toBe("")
    }
    expect(echo.stdout).toMatch(/USAGE/)
    for (const flag of ["--host", "--port", "--workers", "--tls-cert", "--tls-ca", "--proxy-protocol", "--framing"]) {
      expect(echo.stdout).toContain(flag)
    }
    expect(kv.stdout).toMatch(/COMMANDS/)
    expect(kv.stdout).toMatch(/bench/)
    expect(kvSet.stdout).toMatch(/<KEY> <VALUE>/)
  }, 90_000)

  it(
    "npm start, then Ctrl-C (SIGINT to the whole process group): the example logs its shutdown and npm exits 0",
    async () => {
      const child = spawn("npm", ["start", "--", "--port", "0"], {
        cwd: root,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const listening = new Promise<void>((resolve) => {
        const onData = (d: Buffer) => {
          output += d.toString()
          if (/listening on 127\.0\.0\.1:\d+/.test(output)) resolve()
        }
        child.stdout.on("data", onData)
        child.stderr.on("data", onData)
      })
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.on("exit", (code, signal) => resolve({ code, signal }))
      )
      try {
        await listening
        // what a terminal does on Ctrl-C: the signal goes to every process of the foreground group
        process.kill(-child.pid!, "SIGINT")
        expect(await exited).toEqual({ code: 0, signal: null })
        expect(output).toMatch(/echo: shut down/)
      } finally {
        try {
          process.kill(-child.pid!, "SIGKILL")
        } catch {
          // already gone
        }
      }
    },
    120_000
  )
})

describe.each(["bun", "deno"] as const)("the echo example's command line on %s", (runtime) => {
  it("an unknown flag and a bad port exit 2 with the reason and no stack; --help exits 0", async () => {
    const [unknown, badPort, help] = await Promise.all([
      runExample("echo", runtime, ["--prot", "1"]),
      runExample("echo", runtime, ["--port", "abc"]),
      runExample("echo", runtime, ["--help"])
    ])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/^echo: Received unknown argument: '--prot'\nusage: echo /)
    expect(badPort.code).toBe(2)
    expect(badPort.stderr).toMatch(/^echo: --port must be an integer from 0 to 65535 \(got abc\)\n/)
    noStack(unknown.stderr + badPort.stderr)
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/--framing/)
  }, 90_000)
})
