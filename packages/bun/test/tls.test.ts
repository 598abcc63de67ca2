import { TlsConformance } from "@wirekit/core/testing"
import { BunTransport } from "@wirekit/bun"

TlsConformance.run({
  name: "bun",
  layer: BunTransport.layer,
  unsupported: {
    // Bun sockets can upgrade (socket.upgradeTLS); the adapter does not offer the hook yet
    startTls: "BunTransport has no SocketDriver.startTls hook yet (Bun's socket.upgradeTLS is the way to add it)"
  }
})
