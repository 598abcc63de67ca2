/**
 * The chat behind real TCP load balancers: two chat servers on Node (two
 * ports, standing for two machines) share rooms through a redis-server
 * (`--backplane`) and read PROXY protocol headers from loopback
 * (`--proxy-protocol 127.0.0.1/32`); Debian's nginx (`stream`,
 * `proxy_protocol on`: version 1) and HAProxy (`send-proxy-v2`: version 2)
 * balance clients over both, round robin. Through each proxy: connections
 * land on both servers, two clients on different servers talk in one room,
 * and each server logs the client's own address and port (the `peer` of its
 * `connection opened` line), not the proxy's. A client that skips the proxy
 * is closed, and the server goes on serving. Every program is started here on
 * free ports (the proxies from config files in a temp dir) and stopped at the
 * end; where one is missing its tests skip themselves with the reason (never
 * on CI, which installs them).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { StringDecoder } from "node:string_decoder"
import { freePort, runExample, startExample } from "../../../scripts/example-process.ts"
import type { ExampleProcess } from "../../../scripts/example-process.ts"
import { externalProgram } from "../../../scripts/external-program.ts"
import { redisServerProgram, startRedisServer } from "../../../scripts/redis-server.ts"
import type { RedisServer } from "../../../scripts/redis-server.ts"
import { root } from "../../../scripts/runtimes.mjs"

const nginx = externalProgram("nginx", "nginx")
const haproxy = externalProgram("haproxy", "haproxy")
/** Debian builds nginx's stream module as a dynamic module, in libnginx-mod-stream. */
const streamModule = ["/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/lib64/nginx/modules/ngx_stream_module.so"].find((p) => existsSync(p))
const nginxSkip = nginx.skip || (streamModule === undefined && process.env.CI !== "true")
const nginxReason = nginx.skip
  ? nginx.reason
  : "nginx's stream module (ngx_stream_module.so) not found: install Debian's libnginx-mod-stream (apt-get install libnginx-mod-stream) to run these tests (with CI=true they run and fail)"
const skipAll = redisServerProgram.skip || (nginxSkip && haproxy.skip)
const skipReason = redisServerProgram.skip ? redisServerProgram.reason : `${nginxReason}; ${haproxy.reason}`

/** A proxy process and what it printed. */
interface Proxy {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<number | null>
}

const startProxy = (cmd: string, args: ReadonlyArray<string>): Proxy => {
  const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  child.on("error", (e) => (output += String(e)))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, output: () => output, exited }
}

/** Waits until `port` accepts TCP connections (the proxy is up). */
const listening = (port: number, p: Proxy, what: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000
    const attempt = () => {
      const s = Net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy()
        resolve()
      })
      s.on("error", () => {
        if (p.child.exitCode !== null || Date.now() > deadline) return reject(new Error(`${what} is not listening: ${p.output()}`))
        setTimeout(attempt, 50)
      })
    }
    attempt()
  })

/** SIGTERM, then SIGKILL after 5 s. */
const stop = async (p: { readonly child: ChildProcess; readonly exited: Promise<number | null> } | undefined) => {
  if (p === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return
  p.child.kill("SIGTERM")
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 5000)
  await p.exited
  clearTimeout(timer)
}

/** A chat user on a raw socket: the lines it got, and waits for the ones it expects. */
class LineClient {
  readonly lines: Array<string> = []
  closed = false
  /** This socket's own port: what a server must see as the client's. */
  localPort = 0
  private cursor = 0
  private partial = ""

  constructor(readonly socket: Net.Socket) {
    const utf8 = new StringDecoder("utf8")
    socket.on("connect", () => (this.localPort = socket.localPort!))
    socket.on("data", (bytes: Buffer) => {
      const parts = (this.partial + utf8.write(bytes)).split(/\r?\n/)
      this.partial = parts.pop()!
      this.lines.push(...parts)
    })
    socket.on("error", () => {})
    socket.on("close", () => void (this.closed = true))
  }

  /** Connects to `port` and reads the welcome line. */
  static async connect(port: number): Promise<LineClient> {
    const client = new LineClient(Net.connect({ host: "127.0.0.1", port }))
    await client.until(/^\* welcome to wirekit chat, guest-\d+!/)
    return client
  }

  send(line: string): void {
    this.socket.write(`${line}\n`)
  }

  /** The next line (after those taken) matching `pattern`; fails after `ms` or when the server closes. */
  async until(pattern: RegExp | string, ms = 10_000): Promise<string> {
    const matches = (l: string) => (typeof pattern === "string" ? l === pattern : pattern.test(l))
    const deadline = Date.now() + ms
    for (;;) {
      for (let i = this.cursor; i < this.lines.length; i++) {
        if (matches(this.lines[i]!)) {
          this.cursor = i + 1
          return this.lines[i]!
        }
      }
      if (Date.now() > deadline || this.closed) {
        throw new Error(`no line matching ${pattern} (${this.closed ? "closed" : "timeout"}); got: ${JSON.stringify(this.lines.slice(this.cursor))}`)
      }
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  /** Sends a command; its answer (`+ ...` or `! ...`). */
  async command(line: string): Promise<string> {
    this.send(line)
    return this.until(/^[+!] /)
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Whether a server logged `connection opened` for a client at `host:port` (its `peer` annotation, on the next line). */
const openedFrom = (output: string, host: string, port: number): boolean =>
  output.includes(`connection opened\n  peer: ${host}:${port}\n`)

/** Resolves once `check` holds (polled every 20 ms; a log line may come after the socket's bytes); fails after `ms`. */
const waitFor = async (what: string, check: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`still not true after ${ms}ms: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.skipIf(skipAll)(skipAll ? `examples/chat behind nginx and HAProxy [skipped: ${skipReason}]` : "examples/chat behind nginx and HAProxy, two servers, one Redis", () => {
  let redis: RedisServer | undefined
  let dir = ""
  const servers: Array<ExampleProcess> = []
  const serverPorts: Array<number> = []
  const proxies: Array<Proxy> = []
  const clients: Array<LineClient> = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "wirekit-chat-proxy-"))
    redis = await startRedisServer()
    const args = ["--backplane", redis.url, "--proxy-protocol", "127.0.0.1/32"]
    servers.push(startExample("chat", "node", args), startExample("chat", "node", args))
    serverPorts.push(...(await Promise.all(servers.map((s) => s.port))))
  }, 60_000)

  afterAll(async () => {
    for (const c of clients) c.close()
    for (const p of proxies) await stop(p)
    await Promise.all(servers.map(stop))
    await redis?.close()
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  }, 30_000)

  /** Which server (0 or 1) logged the connection of `client`, as coming from its own address and port. */
  const serverOf = async (client: LineClient): Promise<number> => {
    const deadline = Date.now() + 5000
    for (;;) {
      const found = servers.findIndex((s) => openedFrom(s.output(), "127.0.0.1", client.localPort))
      if (found >= 0) return found
      if (Date.now() > deadline) {
        throw new Error(`no server logged a connection from 127.0.0.1:${client.localPort}:\n${servers.map((s) => s.output().slice(-2000)).join("\n---\n")}`)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  /**
   * Clients through the proxy on `port` until there is one on each server
   * (round robin: the next two, unless another connection came in between),
   * each seen by its server with its own address; then they talk in #lobby.
   */
  const twoServersOneRoom = async (port: number, names: readonly [string, string]) => {
    const byServer = new Map<number, LineClient>()
    for (let i = 0; i < 6 && byServer.size < 2; i++) {
      const client = await LineClient.connect(port)
      clients.push(client)
      const server = await serverOf(client)
      if (!byServer.has(server)) byServer.set(server, client)
    }
    expect([...byServer.keys()].sort()).toEqual([0, 1])
    const first = byServer.get(0)!
    const second = byServer.get(1)!
    // each rename crosses over the backplane to the other server: both are in the room
    expect(await first.command(`/nick ${names[0]}`)).toBe(`+ you are now ${names[0]}`)
    await second.until(new RegExp(`^\\* guest-\\d+ is now ${names[0]}$`))
    expect(await second.command(`/nick ${names[1]}`)).toBe(`+ you are now ${names[1]}`)
    await first.until(new RegExp(`^\\* guest-\\d+ is now ${names[1]}$`))
    first.send(`hello from server 1 via port ${port}`)
    expect(await second.until(new RegExp(`^<${names[0]}> `))).toBe(`<${names[0]}> hello from server 1 via port ${port}`)
    second.send("and back from server 2")
    expect(await first.until(new RegExp(`^<${names[1]}> `))).toBe(`<${names[1]}> and back from server 2`)
  }

  it.skipIf(nginxSkip)(nginxSkip ? `nginx stream, proxy_protocol on (v1) [skipped: ${nginxReason}]` : "nginx stream, proxy_protocol on (v1): clients on both servers talk in one room, each server sees the client's address", async () => {
    const port = await freePort()
    const conf = join(dir, "nginx.conf")
    writeFileSync(conf, [
      ...(streamModule !== undefined ? [`load_module ${streamModule};`] : []),
      "daemon off;",
      "master_process off;",
      "worker_processes 1;",
      `pid ${join(dir, "nginx.pid")};`,
      `error_log ${join(dir, "nginx-error.log")} info;`,
      "events { worker_connections 64; }",
      "stream {",
      `  upstream chat { ${serverPorts.map((p) => `server 127.0.0.1:${p};`).join(" ")} }`,
      `  server { listen 127.0.0.1:${port}; proxy_pass chat; proxy_protocol on; }`,
      "}",
      ""
    ].join("\n"))
    const proxy = startProxy("nginx", ["-p", dir, "-c", conf, "-e", join(dir, "nginx-error.log")])
    proxies.push(proxy)
    await listening(port, proxy, "nginx")
    await twoServersOneRoom(port, ["ann", "ben"])
  }, 20_000)

  it.skipIf(haproxy.skip)(haproxy.title("HAProxy, send-proxy-v2 (v2): clients on both servers talk in one room, each server sees the client's address"), async () => {
    const port = await freePort()
    const conf = join(dir, "haproxy.cfg")
    writeFileSync(conf, [
      "global",
      "  maxconn 64",
      `  pidfile ${join(dir, "haproxy.pid")}`,
      "defaults",
      "  mode tcp",
      "  timeout connect 5s",
      "  timeout client 60s",
      "  timeout server 60s",
      "frontend front",
      `  bind 127.0.0.1:${port}`,
      "  default_backend chat",
      "backend chat",
      "  balance roundrobin",
      ...serverPorts.map((p, i) => `  server chat${i + 1} 127.0.0.1:${p} send-proxy-v2`),
      ""
    ].join("\n"))
    const proxy = startProxy("haproxy", ["-db", "-f", conf])
    proxies.push(proxy)
    await listening(port, proxy, "haproxy")
    await twoServersOneRoom(port, ["hal", "hugo"])
  }, 20_000)

  it("a client that skips the proxy is closed without a word; the server goes on serving", async () => {
    const direct = new LineClient(Net.connect({ host: "127.0.0.1", port: serverPorts[0]! }))
    // loopback is trusted, so its first bytes must be a PROXY header: a chat line is not one
    direct.send("/who")
    await waitFor("the server closes the direct connection", () => direct.closed)
    expect(direct.lines).toEqual([])
    const refused = `PROXY protocol header from 127.0.0.1:${direct.localPort} refused: Missing`
    await waitFor(`the server logs "${refused}"`, () => servers[0]!.output().includes(refused))
    // the same server still serves a client that comes as the proxies do
    const proxied = new LineClient(Net.connect({ host: "127.0.0.1", port: serverPorts[0]! }))
    clients.push(proxied)
    await new Promise<void>((resolve) => proxied.socket.once("connect", () => resolve()))
    proxied.socket.write(`PROXY TCP4 192.0.2.7 127.0.0.1 40404 ${serverPorts[0]}\r\n`)
    await proxied.until(/^\* welcome to wirekit chat, guest-\d+!/)
    expect(await proxied.command("/nick zed")).toBe("+ you are now zed")
    // the address is the header's, whatever the socket's
    await waitFor("the server logs a connection from 192.0.2.7:40404", () => openedFrom(servers[0]!.output(), "192.0.2.7", 40404))
  }, 20_000)
})

describe("examples/chat --proxy-protocol refusals", () => {
  it("a list entry that is not an address or block, or the flag with --tls-cert, exits 2 with the reason and the usage", async () => {
    const [bad, withTls] = await Promise.all([
      runExample("chat", "node", ["--port", "0", "--proxy-protocol", "127.0.0.1,10.0.0.0/33"]),
      // refused before the (missing) certificate files are read
      runExample("chat", "node", ["--port", "0", "--proxy-protocol", "127.0.0.1", "--tls-cert", "nowhere.pem", "--tls-key", "nowhere.key"])
    ])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(`--proxy-protocol: trusted: "10.0.0.0/33" is not an IP address or CIDR block`)
    expect(bad.stderr).toContain("usage: chat ")
    expect(withTls.code).toBe(2)
    expect(withTls.stderr).toContain("--proxy-protocol cannot be used with --tls-cert: the proxy's header comes before the TLS handshake")
    expect(withTls.stderr).toContain("usage: chat ")
  }, 20_000)
})
