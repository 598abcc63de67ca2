import { NodeDatagram } from "@wirekit/node"
import { DatagramConformance } from "@wirekit/testing"

DatagramConformance.run({ name: "node", layer: NodeDatagram.layer, reportsRefused: true, multicast: true })
