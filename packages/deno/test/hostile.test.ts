import { HostileConformance } from "@wirekit/core/testing"
import { DenoTransport } from "@wirekit/deno"

HostileConformance.run({ name: "deno", layer: DenoTransport.layer })
