import { ProtocolConformance } from "@wirekit/core/testing"
import { DenoTransport } from "@wirekit/deno"

ProtocolConformance.run({ name: "deno", layer: DenoTransport.layer })
