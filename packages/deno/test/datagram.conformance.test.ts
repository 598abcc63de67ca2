/**
 * The datagram contract over Deno's UDP sockets. Runs under Deno with --unstable-net (Deno.listenDatagram is
 * unstable). Not run here: Refused (Deno reports no ICMP errors) and the suite's multicast case, which names the
 * outgoing interface (Deno has no IP_MULTICAST_IF); datagram.deno.test.ts covers Deno's multicast.
 */
import { DenoDatagram } from "@wirekit/deno"
import { DatagramConformance } from "@wirekit/testing"

DatagramConformance.run({ name: "deno", layer: DenoDatagram.layer, reportsRefused: false, multicast: false })
