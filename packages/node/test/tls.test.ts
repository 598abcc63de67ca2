import { TlsConformance } from "@wirekit/core/testing"
import { NodeTransport } from "@wirekit/node"

TlsConformance.run({ name: "node", layer: NodeTransport.layer })
