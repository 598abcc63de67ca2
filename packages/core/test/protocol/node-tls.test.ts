import { NodeTransport } from "@wirekit/node"
import { Certs, ProtocolConformance } from "@wirekit/testing"

// every protocol behaviour (Protocol, ProtocolServer, Client, Middleware) over TLS:
// the layer's defaults make every listen and connect of the suite speak TLS
const certs = Certs.generate()

ProtocolConformance.run({ name: "node+tls", layer: NodeTransport.layerTls(Certs.tlsDefaults(certs)) })
