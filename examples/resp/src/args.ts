/** Command-line flags of the RESP example (the same on every runtime). */
import { parseArgs } from "node:util"
import type { RespServerOptions } from "./RespServer.ts"

/** Parses `--host` (default 127.0.0.1) and `--port` (default 6380). */
export const parse = (argv: ReadonlyArray<string>): RespServerOptions => {
  const { values } = parseArgs({
    args: [...argv],
    options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "6380" } },
    strict: false
  })
  return { host: String(values.host), port: Number(values.port) }
}
