import { MemoryTransport } from "@wirekit/core"
import { Blackhole, Conformance } from "@wirekit/testing"

Conformance.run({ name: "memory", layer: MemoryTransport.layer(), blackhole: Blackhole.backlog })
