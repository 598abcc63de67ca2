/** Command-line flags of the RESP example (the same on every runtime). */
import { parseArgs } from "node:util"
import type { RespServerOptions } from "./RespServer.ts"

/**
 * Parses `--host` (default 127.0.0.1), `--port` (default 6380) and `--max-command-bytes` (the
 * decoder's `maxCommandBytes`: largest cost of one command, its arguments' lengths plus a fixed
 * overhead each; default 128 MiB).
 */
export const parse = (argv: ReadonlyArray<string>): RespServerOptions => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "6380" },
      "max-command-bytes": { type: "string" }
    },
    strict: false
  })
  const maxCommandBytes = values["max-command-bytes"]
  return {
    host: String(values.host),
    port: Number(values.port),
    limits: maxCommandBytes === undefined ? {} : { maxCommandBytes: Number(maxCommandBytes) }
  }
}
