import { BunTransport } from "@wirekit/bun"
import { Blackhole, Conformance } from "@wirekit/testing"

// Bun hands over up to 512 KiB per data callback (Node: 64 KiB); see packages/bun/README.md
Conformance.run({
  name: "bun",
  layer: BunTransport.layer,
  blackhole: Blackhole.process,
  processPeers: true,
  maxReadSize: 512 * 1024
})
