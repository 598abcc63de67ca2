import { Blackhole, Conformance } from "@wirekit/core/testing"
import { MemoryTransport } from "@wirekit/core"

Conformance.run({ name: "memory", layer: MemoryTransport.layer(), blackhole: Blackhole.backlog })
