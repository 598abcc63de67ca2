import { BunTransport } from "@wirekit/bun"
import { HostileConformance } from "@wirekit/core/testing"

HostileConformance.run({ name: "bun", layer: BunTransport.layer })
