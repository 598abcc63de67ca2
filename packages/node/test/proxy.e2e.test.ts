/**
 * The PROXY protocol with the real programs: three wirekit backends (on
 * Node, Bun and Deno) behind Debian's nginx (`stream`, `proxy_protocol on`:
 * version 1) and HAProxy (`send-proxy-v2`: version 2), all on loopback. Each
 * backend answers with the client address it sees and its own port; the
 * test checks that connections are balanced over the backends and that
 * each backend sees the test client's own address and port, not the
 * proxy's. The proxies run in the foreground from config files in a temp
 * directory and are killed at the end; where one is missing the tests skip
 * themselves with the reason (never on CI, which installs them).
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as Net from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  haproxyProgram as haproxy,
  nginxStreamProgram as nginx,
  startHaproxy,
  startNginxStream
} from "../../../scripts/load-balancers.ts"
import type { LoadBalancer } from "../../../scripts/load-balancers.ts"
import { root } from "../../../scripts/runtimes.mjs"

for (const program of [nginx, haproxy]) if (program.skip) console.warn(`proxy.e2e: ${program.reason}`)

/** A started process and what it printed. */
interface Started {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

const start = (cmd: string, args: ReadonlyArray<string>): Started => {
  const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  child.on("error", (e) => (output += String(e)))
  return { child, output: () => output, exited }
}

/** Resolves the port of a backend's `listening on 127.0.0.1:PORT` log line. */
const portOf = (p: Started, what: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const deadline = Date.now() + 60_000
    const poll = () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(p.output())
      if (m) return resolve(Number(m[1]))
      if (p.child.exitCode !== null || Date.now() > deadline) {
        return reject(new Error(`${what} did not start: ${p.output()}`))
      }
      setTimeout(poll, 20)
    }
    poll()
  })

const stop = async (p: Started | undefined) => {
  if (p === undefined || p.child.exitCode !== null) return
  p.child.kill("SIGTERM")
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 5000)
  await p.exited
  clearTimeout(timer)
}

/** One connection through the proxy: sends a line, returns the backend's answer and this socket's own port. */
const ask = (port: number) =>
  new Promise<{ reply: string; localPort: number }>((resolve, reject) => {
    const s = Net.connect({ host: "127.0.0.1", port }, () => s.write("who\n"))
    let reply = ""
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`no answer through port ${port} (got "${reply}")`))
    }, 10_000)
    s.on("data", (d) => {
      reply += d.toString()
      if (reply.includes("\n")) {
        clearTimeout(timer)
        const localPort = s.localPort!
        s.end()
        resolve({ reply: reply.trim(), localPort })
      }
    })
    s.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })

describe.skipIf(nginx.skip && haproxy.skip)("PROXY protocol behind nginx and HAProxy (real programs)", () => {
  const backends: Array<Started> = []
  const ports: Array<number> = []

  beforeAll(async () => {
    const node = start(process.execPath, [
      "--conditions=@wirekit/source",
      "--import",
      "tsx",
      join(root, "packages/node/test/proxy-backend.ts")
    ])
    const bun = start(join(root, "node_modules/.bin/bun"), ["run", join(root, "packages/bun/test/proxy-backend.ts")])
    const deno = start(join(root, "node_modules/.bin/deno"), [
      "run",
      "-A",
      join(root, "packages/deno/test/proxy-backend.ts")
    ])
    backends.push(node, bun, deno)
    ports.push(
      await portOf(node, "the Node backend"),
      await portOf(bun, "the Bun backend"),
      await portOf(deno, "the Deno backend")
    )
  }, 90_000)

  afterAll(async () => {
    for (const b of backends) await stop(b)
  })

  /** Nine connections, one after the other: each answered by a backend that saw this client. */
  const balanced = async (port: number, version: string) => {
    const seen = new Map<number, number>()
    for (let i = 0; i < 9; i++) {
      const { localPort, reply } = await ask(port)
      const [client, backendPort, v] = reply.split(" ")
      // the client's own address and port, as the proxy received it: not the proxy's
      expect({ i, client, v }).toEqual({ i, client: `127.0.0.1:${localPort}`, v: version })
      seen.set(Number(backendPort), (seen.get(Number(backendPort)) ?? 0) + 1)
    }
    expect([...seen.keys()].sort()).toEqual([...ports].sort())
    for (const n of seen.values()) expect(n).toBeGreaterThanOrEqual(2)
  }

  /** `balanced` through the proxy `starting` starts, stopped at the end whatever happens. */
  const through = async (starting: Promise<LoadBalancer>, version: string) => {
    const proxy = await starting
    try {
      await balanced(proxy.port, version)
    } finally {
      await proxy.stop()
    }
  }

  it.skipIf(nginx.skip)(
    nginx.title("nginx stream, proxy_protocol on (v1): balanced over the three backends, each sees the client"),
    async () => {
      await through(startNginxStream({ backends: ports, proxyProtocol: true }), "1")
    },
    60_000
  )

  it.skipIf(haproxy.skip)(
    haproxy.title("HAProxy, send-proxy-v2 (v2): balanced over the three backends, each sees the client"),
    async () => {
      await through(startHaproxy({ backends: ports, sendProxy: "v2" }), "2")
    },
    60_000
  )
})
