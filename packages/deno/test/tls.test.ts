import { DenoTransport } from "@wirekit/deno"
import { TlsConformance } from "@wirekit/testing"

// Deno's TLS API (Deno.listenTls, Deno.connectTls, Deno.startTls) has no way to do these: the
// suite skips what needs them and checks that asking for them fails typed (see the README)
const unsupported = {
  sessionDetails: "Deno's TlsConn.handshake() reports the ALPN protocol only, not the version or cipher",
  serverName: "Deno.listenTls does not tell the server which name the client asked for",
  requestCert: "Deno.listenTls cannot ask clients for a certificate",
  minVersion: "Deno's TLS has no protocol version setting: it speaks TLS 1.2 and 1.3",
  reload: "Deno.listenTls keeps its certificates for the life of the listening socket",
  startTls:
    "Deno has no server-side startTls, and Deno.startTls refuses a TCP connection with a read pending (Busy), which a connection's read pump always has"
}

TlsConformance.run({ name: "deno", layer: DenoTransport.layer, unsupported })
