import { HostileConformance } from "@wirekit/core/testing"
import { BunTransport } from "@wirekit/bun"

HostileConformance.run({ name: "bun", layer: BunTransport.layer })
