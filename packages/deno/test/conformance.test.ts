import { Blackhole, Conformance } from "@wirekit/core/testing"
import { DenoTransport } from "@wirekit/deno"

Conformance.run({ name: "deno", layer: DenoTransport.layer, blackhole: Blackhole.process, processPeers: true })
