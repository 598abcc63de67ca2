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
import { runExample, startExample } from "../../../scripts/example-process.ts"
import type { ExampleProcess } from "../../../scripts/example-process.ts"
import {
  haproxyProgram as haproxy,
  nginxStreamProgram as nginx,
  startHaproxy,
  startNginxStream
} from "../../../scripts/load-balancers.ts"
import type { LoadBalancer } from "../../../scripts/load-balancers.ts"
import { redisServerProgram, startRedisServer } from "../../../scripts/redis-server.ts"
import type { RedisServer } from "../../../scripts/redis-server.ts"
import { LineClient } from "./lineClient.ts"

const skipAll = redisServerProgram.skip || (nginx.skip && haproxy.skip)
const skipReason = redisServerProgram.skip ? redisServerProgram.reason : `${nginx.reason}; ${haproxy.reason}`

/** Stops a chat server: SIGTERM, then SIGKILL after 5 s. */
const stop = async (p: ExampleProcess) => {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  p.child.kill("SIGTERM")
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 5000)
  await p.exited
  clearTimeout(timer)
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

describe.skipIf(skipAll)(
  skipAll
    ? `examples/chat behind nginx and HAProxy [skipped: ${skipReason}]`
    : "examples/chat behind nginx and HAProxy, two servers, one Redis",
  () => {
    let redis: RedisServer | undefined
    const servers: Array<ExampleProcess> = []
    const serverPorts: Array<number> = []
    const proxies: Array<LoadBalancer> = []
    const clients: Array<LineClient> = []

    beforeAll(async () => {
      redis = await startRedisServer()
      const args = ["--backplane", redis.url, "--proxy-protocol", "127.0.0.1/32"]
      servers.push(startExample("chat", "node", args), startExample("chat", "node", args))
      serverPorts.push(...(await Promise.all(servers.map((s) => s.port))))
    }, 60_000)

    afterAll(async () => {
      for (const c of clients) c.close()
      for (const p of proxies) await p.stop()
      await Promise.all(servers.map(stop))
      await redis?.close()
    }, 30_000)

    /** Which server (0 or 1) logged the connection of `client`, as coming from its own address and port. */
    const serverOf = async (client: LineClient): Promise<number> => {
      const deadline = Date.now() + 5000
      for (;;) {
        const found = servers.findIndex((s) => openedFrom(s.output(), "127.0.0.1", client.localPort))
        if (found >= 0) return found
        if (Date.now() > deadline) {
          throw new Error(
            `no server logged a connection from 127.0.0.1:${client.localPort}:\n${
              servers.map((s) => s.output().slice(-2000)).join("\n---\n")
            }`
          )
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
      expect((await first.command(`/nick ${names[0]}`)).line).toBe(`+ you are now ${names[0]}`)
      await second.until(new RegExp(`^\\* guest-\\d+ is now ${names[0]}$`))
      expect((await second.command(`/nick ${names[1]}`)).line).toBe(`+ you are now ${names[1]}`)
      await first.until(new RegExp(`^\\* guest-\\d+ is now ${names[1]}$`))
      first.sendLine(`hello from server 1 via port ${port}`)
      expect((await second.until(new RegExp(`^<${names[0]}> `))).line).toBe(
        `<${names[0]}> hello from server 1 via port ${port}`
      )
      second.sendLine("and back from server 2")
      expect((await first.until(new RegExp(`^<${names[1]}> `))).line).toBe(`<${names[1]}> and back from server 2`)
    }

    /** `twoServersOneRoom` through the proxy `starting` starts (stopped with the servers, at the end). */
    const through = async (starting: Promise<LoadBalancer>, names: readonly [string, string]) => {
      const proxy = await starting
      proxies.push(proxy)
      await twoServersOneRoom(proxy.port, names)
    }

    it.skipIf(nginx.skip)(
      nginx.title(
        "nginx stream, proxy_protocol on (v1): clients on both servers talk in one room, each server sees the client's address"
      ),
      async () => {
        await through(startNginxStream({ backends: serverPorts, proxyProtocol: true }), ["ann", "ben"])
      },
      20_000
    )

    it.skipIf(haproxy.skip)(
      haproxy.title(
        "HAProxy, send-proxy-v2 (v2): clients on both servers talk in one room, each server sees the client's address"
      ),
      async () => {
        await through(startHaproxy({ backends: serverPorts, sendProxy: "v2" }), ["hal", "hugo"])
      },
      20_000
    )

    it("a client that skips the proxy is closed without a word; the server goes on serving", async () => {
      const direct = await LineClient.open(serverPorts[0]!)
      // loopback is trusted, so its first bytes must be a PROXY header: a chat line is not one
      direct.sendLine("/who")
      await waitFor("the server closes the direct connection", () => direct.closed)
      expect(direct.lines).toEqual([])
      const refused = `PROXY protocol header from 127.0.0.1:${direct.localPort} refused: Missing`
      await waitFor(`the server logs "${refused}"`, () => servers[0]!.output().includes(refused))
      // the same server still serves a client that comes as the proxies do
      const proxied = await LineClient.open(serverPorts[0]!)
      clients.push(proxied)
      proxied.send(`PROXY TCP4 192.0.2.7 127.0.0.1 40404 ${serverPorts[0]}\r\n`)
      await proxied.until(/^\* welcome to wirekit chat, guest-\d+!/)
      expect((await proxied.command("/nick zed")).line).toBe("+ you are now zed")
      // the address is the header's, whatever the socket's
      await waitFor(
        "the server logs a connection from 192.0.2.7:40404",
        () => openedFrom(servers[0]!.output(), "192.0.2.7", 40404)
      )
    }, 20_000)
  }
)

describe("examples/chat --proxy-protocol refusals", () => {
  it(
    "a list entry that is not an address or block, or the flag with --tls-cert, exits 2 with the reason and the usage",
    async () => {
      const [bad, withTls] = await Promise.all([
        runExample("chat", "node", ["--port", "0", "--proxy-protocol", "127.0.0.1,10.0.0.0/33"]),
        // refused before the (missing) certificate files are read
        runExample("chat", "node", [
          "--port",
          "0",
          "--proxy-protocol",
          "127.0.0.1",
          "--tls-cert",
          "nowhere.pem",
          "--tls-key",
          "nowhere.key"
        ])
      ])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain(`--proxy-protocol: trusted: "10.0.0.0/33" is not an IP address or CIDR block`)
      expect(bad.stderr).toContain("usage: chat ")
      expect(withTls.code).toBe(2)
      expect(withTls.stderr).toContain(
        "--proxy-protocol cannot be used with --tls-cert: the proxy's header comes before the TLS handshake"
      )
      expect(withTls.stderr).toContain("usage: chat ")
    },
    20_000
  )
})
