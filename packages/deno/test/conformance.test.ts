import { DenoTransport } from "@wirekit/deno"
import { Blackhole, Conformance } from "@wirekit/testing"

Conformance.run({ name: "deno", layer: DenoTransport.layer, blackhole: Blackhole.process, processPeers: true })
