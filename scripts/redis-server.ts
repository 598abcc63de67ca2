/**
 * A real redis-server for tests (the Redis backplane's, the chat's across
 * processes): started on a free port of 127.0.0.1 with no persistence
 * (`--save "" --appendonly no`, its files in a temp dir), stopped by the test.
 * `stop` then `start` is an outage that loses every key, as a restarted
 * server without persistence does. See scripts/external-program.ts for
 * skipping where redis-server is missing.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./example-process.ts"
import { externalProgram } from "./external-program.ts"

/** Whether the tests that need redis-server run here (and why not). */
export const redisServerProgram = externalProgram("redis-server", "redis-server")

/** A running (or stopped) redis-server of a test. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string
  /** Kills it (SIGKILL: an abrupt outage) and waits for its exit; idempotent. */
  readonly stop: () => Promise<void>
  /** Starts it again on the same port (empty). */
  readonly start: () => Promise<void>
  /** Stops it for good and removes its temp dir (a test's finalizer). */
  readonly close: () => Promise<void>
  /** Everything it printed. */
  readonly output: () => string
}

/** Starts redis-server on a free port; resolves once it accepts connections (10 s limit). */
export const startRedisServer = async (): Promise<RedisServer> => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "wirekit-redis-"))
  let child: ChildProcess | undefined
  let output = ""
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn("redis-server", [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--loglevel",
        "notice"
      ], { stdio: ["ignore", "pipe", "pipe"] })
      child = proc
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s: ${output}`)), 10_000)
      const onData = (d: Buffer) => {
        output += d.toString()
        if (/Ready to accept connections/.test(output.slice(-4096))) {
          clearTimeout(timer)
          resolve()
        }
      }
      proc.stdout!.on("data", onData)
      proc.stderr!.on("data", onData)
      proc.on("error", (error) => {
        clearTimeout(timer)
        reject(error)
      })
      proc.on("exit", (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited (${code}): ${output}`))
      })
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      const proc = child
      child = undefined
      if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return resolve()
      proc.once("exit", () => resolve())
      proc.kill("SIGKILL")
    })
  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      await stop()
      output = output.slice(-65536)
    },
    start: async () => {
      // "Ready" must come from the new process
      output = ""
      await start()
    },
    close: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
    output: () => output
  }
}
