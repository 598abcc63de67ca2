import { expect, it } from "@effect/vitest"
import { Transport } from "@wirekit/core"
import { DenoTransport } from "@wirekit/deno"
import { Certs, ProtocolConformance } from "@wirekit/testing"
import { Effect } from "effect"

// every protocol behaviour (Protocol, ProtocolServer, Client, Middleware) over TLS:
// the layer's defaults make every listen and connect of the suite speak TLS
const certs = Certs.generate()

const layer = DenoTransport.layerTls(Certs.tlsDefaults(certs))

ProtocolConformance.run({ name: "deno+tls", layer })

it.scopedLive("the suite's layer speaks TLS by default, and a call's own tls options win", () =>
  Effect.gen(function*() {
    const t = yield* Transport.Transport
    const l = yield* t.listen({ host: "127.0.0.1", port: 0 })
    expect(l.tls).toBeDefined()
    const c = yield* t.connect(l.address, { timeout: 5000 })
    expect(c.tls?.authorized).toBe(true)
    // per-call options replace the defaults: a client trusting another CA is refused
    const err = yield* Effect.flip(t.connect(l.address, { timeout: 5000, tls: { ca: certs.otherCa.cert } }))
    expect(err.reason).toBe("Tls")
  }).pipe(Effect.provide(layer)))
