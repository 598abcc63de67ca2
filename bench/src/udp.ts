/**
 * The wirekit side of the UDP bench (bench/udp.mjs): the same shape as the raw servers
 * (bench/servers/raw-*-udp.mjs), written the way a user writes it, through the public
 * Datagram API on whichever runtime layer provides `DatagramTransport`.
 *
 * - echo: `pump` hands over each batch; every datagram goes back with `send` (an Effect:
 *   delivery waits while the runtime's send buffer is full).
 * - sink: `pump` counts; a datagram "?" is answered with the count so far.
 *
 * Prints `LISTENING <port>` when bound.
 */
import { Datagram } from "@wirekit/core"
import { Effect } from "effect"
import { parseFlags } from "./flags.ts"

/** `--port N --host H --mode echo|sink` (the raw servers' flags). */
export const parseUdpFlags = (argv: ReadonlyArray<string>) => {
  const flags = parseFlags(argv)
  const mode = flags.mode ?? "echo"
  const port = Number(flags.port ?? "0")
  if (mode !== "echo" && mode !== "sink") throw new Error("--mode must be echo or sink")
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("bad --port")
  return { host: flags.host ?? "127.0.0.1", port, mode } as const
}

const question = 63 // "?"
const enc = new TextEncoder()

/** Binds, prints the port, serves until interrupted. */
export const udpServer = (flags: ReturnType<typeof parseUdpFlags>) =>
  Effect.scoped(Effect.gen(function*() {
    const transport = yield* Datagram.DatagramTransport
    const socket = yield* transport.bind({
      host: flags.host,
      port: flags.port,
      receiveBufferSize: 4 << 20,
      sendBufferSize: 4 << 20
    })
    console.log(`LISTENING ${socket.address.port}`)
    if (flags.mode === "echo") {
      return yield* socket.pump((batch) => Effect.forEach(batch, (d) => socket.send(d.data, d.from), { discard: true }))
    }
    let count = 0
    return yield* socket.pump((batch) => {
      let asked: Datagram.Datagram | undefined
      for (const d of batch) {
        if (d.data.length === 1 && d.data[0] === question) asked = d
        else count++
      }
      if (asked !== undefined) return socket.send(enc.encode(String(count)), asked.from)
    })
  }))
