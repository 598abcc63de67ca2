import { expect, it } from "@effect/vitest"
import type { Address } from "@wirekit/core"
import { Transport } from "@wirekit/core"
import { DenoTransport } from "@wirekit/deno"
import { Blackhole, Certs, Conformance } from "@wirekit/testing"
import { Effect, Layer } from "effect"

// the whole transport contract (with the framing and @effect/platform suites it runs) over TLS:
// every TCP listen and connect of the suite speaks TLS through the layer's defaults
const certs = Certs.generate()
const tls = DenoTransport.makeTransport(Certs.tlsDefaults(certs))

// Deno has TLS over TCP only (TLS over a Unix socket fails typed: see deno.tls.test.ts), so the
// suite's one Unix-socket test runs plain; everything else is TLS
const isUnix = (address: Address.Address) => "path" in address
const layer = Layer.succeed(Transport.Transport, {
  name: "deno+tls",
  listen: (
    address,
    options
  ) => (isUnix(address) ? DenoTransport.listen(address, options) : tls.listen(address, options)),
  connect: (
    address,
    options
  ) => (isUnix(address) ? DenoTransport.connect(address, options) : tls.connect(address, options))
})

Conformance.run({ name: "deno+tls", layer, blackhole: Blackhole.process, processPeers: true })

it.scopedLive("the suite's layer speaks TLS on TCP (and plain on Unix sockets)", () =>
  Effect.gen(function*() {
    const t = yield* Transport.Transport
    const l = yield* t.listen({ host: "127.0.0.1", port: 0 })
    expect(l.tls?.stats().handshakes).toBe(0)
    const c = yield* t.connect(l.address, { timeout: 5000 })
    expect(c.tls?.peerCertificate?.subject.CN).toBe("localhost")
    const s = yield* l.accept
    expect(s.tls?.alpnProtocol).toBeUndefined()
    expect(s.tls).toBeDefined()
    const path = `/tmp/wirekit-deno-tls-${Date.now().toString(36)}.sock`
    const u = yield* t.listen({ path })
    expect(u.tls).toBeUndefined()
    expect((yield* t.connect({ path }, { timeout: 2000 })).tls).toBeUndefined()
  }).pipe(Effect.provide(layer)))
