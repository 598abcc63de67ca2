import { BunTransport } from "@wirekit/bun"
import { ProxyProtocolConformance } from "@wirekit/testing"

ProxyProtocolConformance.run({ name: "bun", layer: BunTransport.layer })
