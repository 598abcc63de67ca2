import { Blackhole, Conformance } from "@wirekit/core/testing"
import { NodeTransport } from "@wirekit/node"

Conformance.run({ name: "node", layer: NodeTransport.layer, blackhole: Blackhole.process, processPeers: true })
