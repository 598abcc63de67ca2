import { MemoryDatagram } from "@wirekit/core"
import { DatagramConformance } from "@wirekit/testing"

DatagramConformance.run({ name: "memory", layer: MemoryDatagram.layer(), reportsRefused: true, multicast: true })
