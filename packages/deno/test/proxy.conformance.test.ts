import { ProxyProtocolConformance } from "@wirekit/core/testing"
import { DenoTransport } from "@wirekit/deno"

ProxyProtocolConformance.run({ name: "deno", layer: DenoTransport.layer })
