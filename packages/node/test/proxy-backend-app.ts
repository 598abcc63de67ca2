/**
 * The backend of the PROXY protocol end-to-end test (proxy.e2e.test.ts): a
 * wirekit Server on 127.0.0.1, port 0, taking PROXY protocol headers from
 * the proxies on loopback. It answers each line with what it sees:
 * `<remote host>:<remote port> <its own port> <header version>`. Runtime-free:
 * proxy-backend.ts runs it on Node, packages/bun/test/proxy-backend.ts on Bun,
 * packages/deno/test/proxy-backend.ts on Deno.
 */
import { Address, Connection, Server } from "@wirekit/core"
import { Effect } from "effect"

const utf8 = new TextEncoder()
const text = new TextDecoder()

const report = Effect.gen(function*() {
  const conn = yield* Connection.Connection
  const remote = conn.remoteAddress
  const own = conn.proxy?.local ?? conn.localAddress
  let buffered = ""
  while (true) {
    const chunk = yield* conn.read
    if (chunk === Connection.EOF) return
    buffered += text.decode(chunk)
    let nl: number
    while ((nl = buffered.indexOf("\n")) !== -1) {
      buffered = buffered.slice(nl + 1)
      const host = Address.isTcp(remote) ? remote.host : "unix"
      const port = Address.isTcp(remote) ? remote.port : 0
      const ownPort = Address.isTcp(own) ? own.port : 0
      yield* conn.write(utf8.encode(`${host}:${port} ${ownPort} ${conn.proxy?.header.version ?? "-"}\n`))
    }
  }
})

/** The server: logs `listening on 127.0.0.1:PORT` once bound. */
export const app = Server.layer({ host: "127.0.0.1", port: 0 }, report, {
  proxyProtocol: { trusted: ["127.0.0.1", "::1"] }
})
