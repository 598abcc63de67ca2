import { BunTransport } from "@wirekit/bun"
import { ProtocolConformance } from "@wirekit/testing"

ProtocolConformance.run({ name: "bun", layer: BunTransport.layer })
