import { BunTransport } from "@wirekit/bun"
import { TlsConformance } from "@wirekit/core/testing"

TlsConformance.run({
  name: "bun",
  layer: BunTransport.layer
})
