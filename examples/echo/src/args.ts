/** Command-line flags of the echo example (the same on every runtime). */
import { parseArgs } from "node:util"
import type { EchoFraming, EchoOptions } from "./Echo.ts"

/** Parses `--host`, `--port`, `--framing none|lines|length`; exits with usage on a bad value. */
export const parse = (argv: ReadonlyArray<string>): EchoOptions => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "7000" },
      framing: { type: "string", default: "none" }
    },
    strict: false
  })
  const framing = String(values.framing)
  if (framing !== "none" && framing !== "lines" && framing !== "length") {
    console.error(`--framing must be none, lines or length (got ${framing})`)
    process.exit(2)
  }
  return { host: String(values.host), port: Number(values.port), framing: framing as EchoFraming }
}
