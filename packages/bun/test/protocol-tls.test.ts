import { BunTransport } from "@wirekit/bun"
import { Certs, ProtocolConformance } from "@wirekit/testing"

// every protocol behaviour (Protocol, ProtocolServer, Client, Middleware) over TLS:
// the layer's defaults make every listen and connect of the suite speak TLS
const certs = Certs.generate()

ProtocolConformance.run({ name: "bun+tls", layer: BunTransport.layerTls(Certs.tlsDefaults(certs)) })
