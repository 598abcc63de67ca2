import { MemoryTransport } from "@wirekit/core"
import { run } from "./suite.ts"

run("memory", () => MemoryTransport.layer())
