import { NodeTransport } from "@wirekit/node"
import { TlsConformance } from "@wirekit/testing"

TlsConformance.run({ name: "node", layer: NodeTransport.layer })
