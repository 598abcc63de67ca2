import { ProxyProtocolConformance } from "@wirekit/core/testing"
import { BunTransport } from "@wirekit/bun"

ProxyProtocolConformance.run({ name: "bun", layer: BunTransport.layer })
