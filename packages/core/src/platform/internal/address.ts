import type * as SocketServer from "@effect/platform/SocketServer"
import type { Address } from "../../Address.ts"

/** Either kind of address: wirekit's or `@effect/platform`'s. */
export type AnyAddress = Address | SocketServer.Address

/** wirekit address → `@effect/platform` SocketServer address. */
export const toPlatform = (address: Address): SocketServer.Address =>
  "path" in address
    ? { _tag: "UnixAddress", path: address.path }
    : { _tag: "TcpAddress", hostname: address.host, port: address.port }

/** `@effect/platform` SocketServer address (or a wirekit one, returned as is) → wirekit address. */
export const fromPlatform = (address: AnyAddress): Address => {
  if (!("_tag" in address)) return address
  return address._tag === "UnixAddress"
    ? { path: address.path }
    : { host: address.hostname, port: address.port }
}
