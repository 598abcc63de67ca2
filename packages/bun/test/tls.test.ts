import { TlsConformance } from "@wirekit/core/testing"
import { BunTransport } from "@wirekit/bun"

TlsConformance.run({
  name: "bun",
  layer: BunTransport.layer
})
