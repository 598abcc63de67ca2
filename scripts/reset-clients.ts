/**
 * Clients that reset (RST) their connection to an example, for the examples'
 * end-to-end tests: a server must shrug them off and go on serving.
 */
import * as Net from "node:net"

/** One client: connects, writes `partial` (if any), then resets; resolves whether it had connected. */
const resetClient = (port: number, partial: string | Uint8Array | undefined) =>
  new Promise<boolean>((resolve) => {
    let connected = false
    const s = Net.connect({ host: "127.0.0.1", port })
    s.on("error", () => {})
    s.on("close", () => resolve(connected))
    s.on("connect", () => {
      connected = true
      if (partial === undefined) s.resetAndDestroy()
      else s.write(partial, () => s.resetAndDestroy())
    })
  })

/**
 * `n` clients that connect and reset at once (most before the server set them
 * up), and `n` that write `partial` (an incomplete request) and then reset, all
 * at the same time. Resolves with how many connected, once every one is gone.
 */
export const resetClients = async (port: number, n: number, partial: string | Uint8Array): Promise<number> => {
  const all = await Promise.all(
    Array.from({ length: 2 * n }, (_, i) => resetClient(port, i % 2 === 0 ? undefined : partial))
  )
  return all.filter(Boolean).length
}

/** `promise`, or a rejection naming `what` after `ms` (a server that serves late is not serving). */
export const within = <A>(ms: number, what: string, promise: Promise<A>): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}
