import { BunTransport } from "@wirekit/bun"
import { ProxyProtocolConformance } from "@wirekit/core/testing"

ProxyProtocolConformance.run({ name: "bun", layer: BunTransport.layer })
