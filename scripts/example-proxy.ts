/**
 * The `--proxy-protocol CIDR[,CIDR]` flag every example shares: the server
 * sits behind TCP load balancers (HAProxy `send-proxy` / `send-proxy-v2`,
 * nginx `stream` with `proxy_protocol on`) at these addresses or blocks, and
 * reads the PROXY protocol header they send first, so a connection's remote
 * address is the real client's (see `ProxyProtocol` in @wirekit/core). Peers
 * outside the list are refused, and a trusted peer that sends no header is
 * closed. Read the same way on Node, Bun and Deno.
 */
import { ProxyProtocol } from "@wirekit/core"

/** `parseArgs` options of the flag (spread them into the example's own). */
export const proxyFlags = {
  "proxy-protocol": { type: "string" }
} as const

/** The flag, for usage lines. */
export const proxyUsage = "[--proxy-protocol CIDR[,CIDR]]"

/**
 * The listen's `proxyProtocol` option from `--proxy-protocol`, or
 * `undefined` when the flag is absent. The list is checked here, before
 * anything listens: an entry that is not an address or block, or the flag
 * together with `--tls-cert` (the header comes before the TLS handshake,
 * which the listener does not support yet: terminate TLS at the proxy),
 * exits with status 2 and the usage.
 */
export const proxyProtocol = (
  values: Readonly<Record<string, unknown>>,
  usage: string
): ProxyProtocol.Options | undefined => {
  const value = values["proxy-protocol"]
  if (value === undefined) return undefined
  const fail = (message: string): never => {
    console.error(`${message}\n${usage}`)
    process.exit(2)
  }
  if (values["tls-cert"] !== undefined) {
    return fail(
      "--proxy-protocol cannot be used with --tls-cert: the proxy's header comes before the TLS handshake, which is not supported yet (terminate TLS at the proxy)"
    )
  }
  const trusted = String(value).split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")
  const options: ProxyProtocol.Options = { trusted }
  const error = ProxyProtocol.validate(options)
  if (error !== undefined) return fail(`--proxy-protocol: ${error.detail} (got ${String(value)})`)
  return options
}
