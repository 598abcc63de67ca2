import { ProtocolConformance } from "@wirekit/core/testing"
import { BunTransport } from "@wirekit/bun"

ProtocolConformance.run({ name: "bun", layer: BunTransport.layer })
