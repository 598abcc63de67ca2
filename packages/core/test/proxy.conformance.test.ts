import { MemoryTransport } from "@wirekit/core"
import { ProxyProtocolConformance } from "@wirekit/testing"

ProxyProtocolConformance.run({ name: "memory", layer: MemoryTransport.layer() })
