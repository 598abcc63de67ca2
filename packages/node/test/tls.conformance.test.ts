import { NodeTransport } from "@wirekit/node"
import { Blackhole, Certs, Conformance } from "@wirekit/testing"

// the whole transport contract (with the framing and @effect/platform suites it runs) over TLS:
// every listen and connect of the suite speaks TLS through the layer's defaults
const certs = Certs.generate()

Conformance.run({
  name: "node+tls",
  layer: NodeTransport.layerTls(Certs.tlsDefaults(certs)),
  blackhole: Blackhole.process,
  processPeers: true
})
