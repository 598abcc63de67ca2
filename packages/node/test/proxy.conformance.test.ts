import { it } from "@effect/vitest"
import { ProxyProtocol, Transport } from "@wirekit/core"
import { NodeTransport } from "@wirekit/node"
import { Certs, ProxyProtocolConformance } from "@wirekit/testing"
import { Effect } from "effect"
import { expect } from "vitest"

ProxyProtocolConformance.run({ name: "node", layer: NodeTransport.layer })

it.scoped("proxyProtocol with tls: the listen fails (EINVAL, InvalidOptions): the header would come before the handshake", () =>
  Effect.gen(function*() {
    const { server } = Certs.generate()
    const transport = yield* Transport.Transport
    const error = yield* Effect.flip(transport.listen({ host: "127.0.0.1", port: 0 }, {
      tls: { certificates: { cert: server.cert, key: server.key } },
      proxyProtocol: { trusted: ["127.0.0.1"] }
    }))
    expect(error).toMatchObject({ reason: "Other", code: "EINVAL" })
    expect(error.cause).toBeInstanceOf(ProxyProtocol.ProxyProtocolError)
    expect((error.cause as ProxyProtocol.ProxyProtocolError).detail).toMatch(/TLS/)
  }).pipe(Effect.provide(NodeTransport.layer)))
