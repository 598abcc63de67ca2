import { MemoryTransport } from "@wirekit/core"
import { ProtocolConformance } from "@wirekit/testing"

ProtocolConformance.run({ name: "memory", layer: MemoryTransport.layer() })
