import { BunDatagram } from "@wirekit/bun"
import { DatagramConformance } from "@wirekit/testing"

// Connected mode is emulated by the core, yet Bun reads ICMP errors from the socket's error queue: Refused is heard
DatagramConformance.run({ name: "bun", layer: BunDatagram.layer, reportsRefused: true, multicast: true })
