import { ProxyProtocolConformance } from "@wirekit/core/testing"
import { MemoryTransport } from "@wirekit/core"

ProxyProtocolConformance.run({ name: "memory", layer: MemoryTransport.layer() })
