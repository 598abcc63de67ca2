import { MemoryTransport } from "@wirekit/core"
import { NodeTransport } from "@wirekit/node"
import { HostileConformance } from "@wirekit/testing"

HostileConformance.run({ name: "memory", layer: MemoryTransport.layer() })
HostileConformance.run({ name: "node", layer: NodeTransport.layer })
