import { DenoTransport } from "@wirekit/deno"
import { ProtocolConformance } from "@wirekit/testing"

ProtocolConformance.run({ name: "deno", layer: DenoTransport.layer })
