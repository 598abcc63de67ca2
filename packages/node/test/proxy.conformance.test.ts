import { ProxyProtocolConformance } from "@wirekit/core/testing"
import { NodeTransport } from "@wirekit/node"

ProxyProtocolConformance.run({ name: "node", layer: NodeTransport.layer })
