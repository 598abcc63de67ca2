import { BunTransport } from "@wirekit/bun"
import { HostileConformance } from "@wirekit/testing"

HostileConformance.run({ name: "bun", layer: BunTransport.layer })
