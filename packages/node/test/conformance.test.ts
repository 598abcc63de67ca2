import { NodeTransport } from "@wirekit/node"
import { Blackhole, Conformance } from "@wirekit/testing"

Conformance.run({ name: "node", layer: NodeTransport.layer, blackhole: Blackhole.process, processPeers: true })
