import { MemoryTransport } from "@wirekit/core"
import { HostileConformance } from "@wirekit/core/testing"
import { NodeTransport } from "@wirekit/node"

HostileConformance.run({ name: "memory", layer: MemoryTransport.layer() })
HostileConformance.run({ name: "node", layer: NodeTransport.layer })
