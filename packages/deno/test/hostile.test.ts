import { DenoTransport } from "@wirekit/deno"
import { HostileConformance } from "@wirekit/testing"

HostileConformance.run({ name: "deno", layer: DenoTransport.layer })
