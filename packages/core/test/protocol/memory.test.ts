import { MemoryTransport } from "@wirekit/core"
import { ProtocolConformance } from "@wirekit/core/testing"

ProtocolConformance.run({ name: "memory", layer: MemoryTransport.layer() })
