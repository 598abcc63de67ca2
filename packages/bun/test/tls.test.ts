import { BunTransport } from "@wirekit/bun"
import { TlsConformance } from "@wirekit/testing"

TlsConformance.run({
  name: "bun",
  layer: BunTransport.layer
})
