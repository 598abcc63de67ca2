import { DenoTransport } from "@wirekit/deno"
import { ProxyProtocolConformance } from "@wirekit/testing"

ProxyProtocolConformance.run({ name: "deno", layer: DenoTransport.layer })
