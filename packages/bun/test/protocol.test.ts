import { BunTransport } from "@wirekit/bun"
import { ProtocolConformance } from "@wirekit/core/testing"

ProtocolConformance.run({ name: "bun", layer: BunTransport.layer })
