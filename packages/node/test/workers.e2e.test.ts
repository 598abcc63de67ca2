/**
 * N workers on one address, on each runtime, with real processes and sockets:
 * the fixture (scripts/workers-fixture) run with `--workers 2` through
 * NodeWorkers, BunWorkers and DenoWorkers. Its reply names the worker that
 * answered (`id:pid`).
 */
import { Transport } from "@wirekit/core"
import { NodeTransport } from "@wirekit/node"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcessByStdio } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Net from "node:net"
import { join } from "node:path"
import type { Readable } from "node:stream"
import { describe, expect, it } from "vitest"
import { echoOnce, startExample } from "../../../scripts/example-process.ts"
import { within } from "../../../scripts/reset-clients.ts"
import { root } from "../../../scripts/runtimes.mjs"

const runtimes = ["node", "bun", "deno"] as const
type Runtime = (typeof runtimes)[number]

// the fixture's built JavaScript (scripts/workers-fixture/dist, kept fresh by the vitest globalSetup)
const fixture = join(root, "scripts", "workers-fixture", "dist")
const bin = (name: string) => join(root, "node_modules", ".bin", name)

const commandFor = (runtime: Runtime, args: ReadonlyArray<string>): [string, Array<string>] => {
  switch (runtime) {
    case "node":
      return [process.execPath, [join(fixture, "main.js"), ...args]]
    case "bun":
      return [bin("bun"), ["run", join(fixture, "main.bun.js"), ...args]]
    case "deno":
      return [bin("deno"), ["run", "-A", join(fixture, "main.deno.js"), ...args]]
  }
}

/** A running primary and what it printed. */
interface Primary {
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  readonly output: () => string
  readonly exited: Promise<number | null>
  /** Resolves with the match once the output (from `from` on) matches `re`; rejects after `ms`. */
  readonly waitFor: (re: RegExp, ms?: number, from?: number) => Promise<RegExpExecArray>
  readonly port: number
}

const startPrimary = async (runtime: Runtime, workers = 2): Promise<Primary> => {
  const [cmd, argv] = commandFor(runtime, ["--port", "0", "--workers", String(workers)])
  const child = spawn(cmd, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  const listeners = new Set<() => void>()
  const onData = (d: Buffer) => {
    output += d.toString()
    for (const l of [...listeners]) l()
  }
  child.stdout.on("data", onData)
  child.stderr.on("data", onData)
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const waitFor = (re: RegExp, ms = 30_000, from = 0) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(output.slice(from))
        if (m) {
          listeners.delete(check)
          clearTimeout(timer)
          resolve(m)
        }
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`no ${re} within ${ms}ms in:\n${output}`))
      }, ms)
      listeners.add(check)
      check()
    })
  const port = Number((await waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1])
  await waitFor(new RegExp(`${workers} workers ready`))
  return { child, output: () => output, exited, waitFor, port }
}

/** What a request got: the `id:pid` of the worker that answered, or the fault's reason. */
type Reply = { readonly ok: true; readonly worker: number; readonly pid: number } | {
  readonly ok: false
  readonly reason: string
}

/** One client connection speaking the fixture's JSON lines. */
interface Client {
  readonly request: (n: number, delay?: number) => Promise<Reply>
  readonly closed: Promise<void>
  readonly isClosed: () => boolean
  readonly end: () => void
}

const connect = (port: number): Promise<Client> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    const pending = new Map<number, (r: Reply) => void>()
    let buffered = ""
    let closed = false
    let nextId = 1
    const closedP = new Promise<void>((res) =>
      socket.on("close", () => {
        closed = true
        for (const p of pending.values()) p({ ok: false, reason: "Closed" })
        pending.clear()
        res()
      })
    )
    socket.on("data", (d) => {
      buffered += d.toString()
      let i: number
      while ((i = buffered.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffered.slice(0, i))
        buffered = buffered.slice(i + 1)
        if (typeof line.id !== "number") continue
        const p = pending.get(line.id)
        pending.delete(line.id)
        if (typeof line.success === "string") {
          const [w, pid] = line.success.split(":").map(Number)
          p?.({ ok: true, worker: w, pid })
        } else p?.({ ok: false, reason: line.fault?.reason ?? "Failure" })
      }
    })
    socket.once("error", (e) => {
      if (!closed) reject(e)
    })
    socket.once("connect", () =>
      resolve({
        request: (n, delay = 0) =>
          new Promise<Reply>((res) => {
            if (closed) return res({ ok: false, reason: "Closed" })
            const id = nextId++
            pending.set(id, res)
            socket.write(JSON.stringify({ id, request: { n, delay } }) + "\n")
          }),
        closed: closedP,
        isClosed: () => closed,
        end: () => socket.end()
      }))
  })

/** One connection, one request, closed. */
const once = async (port: number, n = 0): Promise<Reply> => {
  const c = await connect(port)
  try {
    return await c.request(n)
  } finally {
    c.end()
  }
}

const stop = async (p: Primary, signal: NodeJS.Signals = "SIGTERM") => {
  p.child.kill(signal)
  return await p.exited
}

/**
 * True when a worker closing its listener may reset connections waiting in its
 * backlog: Bun and Deno workers listen with reusePort, and Linux moves those
 * connections to another socket of the port only with net.ipv4.tcp_migrate_req=1.
 */
const resetOnClose = (runtime: Runtime) => {
  if (runtime === "node") return false
  try {
    return readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim() !== "1"
  } catch {
    return true
  }
}

/** True while a process with this pid exists. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const okReply = (r: Reply) => {
  if (!r.ok) throw new Error(`request refused: ${r.reason}`)
  return r
}

describe.each(runtimes)("Workers on %s (real processes, one port)", (runtime) => {
  it("2 workers serve one port: 200 connections spread over both, every one answered", async () => {
    const p = await startPrimary(runtime)
    try {
      const counts = new Map<number, number>()
      for (let batch = 0; batch < 4; batch++) {
        const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => once(p.port, batch * 50 + i)))
        for (const r of replies.map(okReply)) counts.set(r.worker, (counts.get(r.worker) ?? 0) + 1)
      }
      expect([...counts.keys()].sort()).toEqual([1, 2])
      expect((counts.get(1) ?? 0) + (counts.get(2) ?? 0)).toBe(200)
      expect(await stop(p)).toBe(0)
      expect(p.output()).toMatch(/all workers drained/)
    } finally {
      p.child.kill("SIGKILL")
    }
  }, 60_000)

  it(
    "a SIGKILLed worker is replaced and the other worker's connections are not disturbed; a SIGKILLed primary leaves no worker",
    async () => {
      const p = await startPrimary(runtime)
      try {
        const clients = await Promise.all(Array.from({ length: 24 }, () => connect(p.port)))
        const first = (await Promise.all(clients.map((c, i) => c.request(i)))).map(okReply)
        expect(new Set(first.map((r) => r.worker)).size).toBe(2)
        const victim = first.find((r) => r.worker === 1)!.pid
        const survivor = first.find((r) => r.worker === 2)!.pid
        const mark = p.output().length
        process.kill(victim, "SIGKILL")
        await p.waitFor(/worker 1 \(pid \d+\) died/, 10_000, mark)
        const restarted = Number((await p.waitFor(/worker 1 started \(pid (\d+)\)/, 20_000, mark))[1])
        expect(restarted).not.toBe(victim)
        await p.waitFor(new RegExp(`worker 1 ready \\(pid ${restarted}\\)`), 20_000, mark)
        // the survivor's connections: still open, still answered by the same process
        const onSurvivor = clients.filter((_, i) => first[i]!.worker === 2)
        const again = (await Promise.all(onSurvivor.map((c, i) => c.request(1000 + i)))).map(okReply)
        expect(again.every((r) => r.worker === 2 && r.pid === survivor)).toBe(true)
        expect(onSurvivor.every((c) => !c.isClosed())).toBe(true)
        // the victim's connections were closed with it
        await Promise.all(clients.filter((_, i) => first[i]!.worker === 1).map((c) => c.closed))
        // the replacement serves
        let seen = false
        for (let i = 0; i < 200 && !seen; i++) {
          const r = await once(p.port, 2000 + i).catch(() => undefined)
          if (r?.ok && r.worker === 1) {
            expect(r.pid).toBe(restarted)
            seen = true
          }
        }
        expect(seen).toBe(true)
        for (const c of clients) c.end()
        // a primary that dies without its shutdown takes its workers with it: none is left serving
        const workers = [survivor, restarted]
        expect(workers.every(alive)).toBe(true)
        p.child.kill("SIGKILL")
        const deadline = Date.now() + 15_000
        while (workers.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
        expect(workers.filter(alive)).toEqual([])
      } finally {
        p.child.kill("SIGKILL")
      }
    },
    60_000
  )

  it(
    "SIGTERM on the primary under load: every request a worker started is answered, and the primary exits 0",
    async () => {
      const p = await startPrimary(runtime)
      try {
        const answered = new Set<number>()
        const refused: Array<string> = []
        let n = 0
        let terminated = false
        let answeredAfterSignal = 0
        const load = async () => {
          const c = await connect(p.port)
          while (true) {
            const k = n++
            const r = await c.request(k, 40)
            if (!r.ok) {
              refused.push(r.reason)
              break
            }
            if (terminated) answeredAfterSignal++
            answered.add(k)
          }
          c.end()
        }
        const loads = Array.from({ length: 16 }, load)
        await new Promise((r) => setTimeout(r, 400))
        terminated = true
        p.child.kill("SIGTERM")
        await Promise.all(loads)
        expect(await p.exited).toBe(0)
        const started = [...p.output().matchAll(/: start (\d+)/g)].map((m) => Number(m[1]))
        expect(started.length).toBeGreaterThan(16)
        // a request a worker started was answered: none was lost in the drain
        expect(started.filter((s) => !answered.has(s))).toEqual([])
        // those running at the signal were finished, not cut
        expect(answeredAfterSignal).toBeGreaterThan(0)
        // the rest were refused as the protocol says (retryable), or met a closed connection
        expect(refused.every((r) => r === "ShuttingDown" || r === "Closed")).toBe(true)
        expect(p.output()).toMatch(/all workers drained/)
      } finally {
        p.child.kill("SIGKILL")
      }
    },
    60_000
  )

  it("rolling restart (SIGHUP): every worker is replaced and the port keeps answering", async () => {
    const p = await startPrimary(runtime)
    try {
      const before = new Set<number>()
      for (let i = 0; i < 40 && before.size < 2; i++) before.add(okReply(await once(p.port, i)).pid)
      expect(before.size).toBe(2)
      let running = true
      const failures: Array<string> = []
      let answered = 0
      const attempt = () => once(p.port, 100).catch((e: Error): Reply => ({ ok: false, reason: e.message }))
      let retried = 0
      const probe = async () => {
        while (running) {
          let r = await attempt()
          // a connection the old worker accepted just before it drained: refused as retryable, as a client would, once;
          // with reusePort, Linux resets what waits in a closing socket's backlog (unless tcp_migrate_req): retried too
          if (
            !r.ok &&
            (r.reason === "ShuttingDown" ||
              (resetOnClose(runtime) && (r.reason === "Closed" || /ECONNRESET/.test(r.reason))))
          ) {
            retried++
            r = await attempt()
          }
          if (r.ok) answered++
          else failures.push(r.reason)
          await new Promise((res) => setTimeout(res, 20))
        }
      }
      const probes = [probe(), probe()]
      const mark = p.output().length
      p.child.kill("SIGHUP")
      await p.waitFor(/rolling restart done/, 40_000, mark)
      running = false
      await Promise.all(probes)
      expect(failures).toEqual([])
      expect(answered).toBeGreaterThan(10)
      // retries are the exception
      expect(retried).toBeLessThan(answered / 4)
      const after = new Set<number>()
      for (let i = 0; i < 40 && after.size < 2; i++) after.add(okReply(await once(p.port, i)).pid)
      expect([...after].some((pid) => before.has(pid))).toBe(false)
      expect(await stop(p)).toBe(0)
    } finally {
      p.child.kill("SIGKILL")
    }
  }, 60_000)
})

describe.each(runtimes)("examples with --workers on %s", (runtime) => {
  it(
    "the echo example with --workers 2: both workers start, every connection is echoed, SIGINT stops all with exit 0",
    async () => {
      const ex = startExample("echo", runtime, ["--workers", "2"])
      try {
        const port = await ex.port
        let check: ReturnType<typeof setInterval> | undefined
        await within(
          30_000,
          "2 workers ready",
          new Promise<void>((resolve) => {
            check = setInterval(() => /2 workers ready/.test(ex.output()) && resolve(), 20)
          })
        ).finally(() => clearInterval(check))
        const payloads = Array.from({ length: 20 }, (_, i) => Buffer.from(`hello ${i}\n`))
        const got = await Promise.all(payloads.map((p) => echoOnce(port, p)))
        got.forEach((g, i) => expect(g.equals(payloads[i]!)).toBe(true))
        ex.child.kill("SIGINT")
        expect(await ex.exited).toBe(0)
        expect(ex.output()).toMatch(/all workers drained/)
        // both workers served: each logs its own lines, annotated with its id
        expect(ex.output()).toMatch(/worker[=:] ?"?1/)
        expect(ex.output()).toMatch(/worker[=:] ?"?2/)
      } finally {
        ex.child.kill("SIGKILL")
      }
    },
    60_000
  )
})

describe("why NodeWorkers uses node:cluster", () => {
  it.runIf(process.versions.node.startsWith("20."))(
    "Node 20 has no reusePort: a second listen with it on the same port is AddressInUse",
    async () => {
      const reason = await Effect.runPromise(
        Effect.scoped(Effect.gen(function*() {
          const t = yield* Transport.Transport
          const first = yield* t.listen({ host: "127.0.0.1", port: 0 }, { reusePort: true })
          const second = yield* Effect.flip(t.listen(first.address, { reusePort: true }))
          return second.reason
        })).pipe(Effect.provide(NodeTransport.layer))
      )
      expect(reason).toBe("AddressInUse")
    }
  )
})
