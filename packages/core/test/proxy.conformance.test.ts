import { MemoryTransport } from "@wirekit/core"
import { ProxyProtocolConformance } from "@wirekit/core/testing"

ProxyProtocolConformance.run({ name: "memory", layer: MemoryTransport.layer() })
