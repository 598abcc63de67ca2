import { BunTransport } from "@wirekit/bun"
import { Blackhole, Certs, Conformance } from "@wirekit/testing"

// the whole transport contract (with the framing and @effect/platform suites it runs) over TLS:
// every listen and connect of the suite speaks TLS through the layer's defaults
const certs = Certs.generate()

// Bun hands over up to 512 KiB per data callback, over TLS as over TCP (see conformance.test.ts)
Conformance.run({
  name: "bun+tls",
  layer: BunTransport.layerTls(Certs.tlsDefaults(certs)),
  blackhole: Blackhole.process,
  processPeers: true,
  maxReadSize: 512 * 1024
})
