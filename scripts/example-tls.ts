/**
 * The TLS flags every example shares, read the same way on Node, Bun and Deno
 * (only `node:fs`, which all three have):
 *
 * - servers: `--tls-cert PATH --tls-key PATH` serve TLS on the usual port;
 *   `--tls-ca PATH` adds mutual TLS (clients must present a certificate that
 *   chains to that CA, else their handshake is refused).
 * - clients (the kv and bank CLIs, the chat client): `--tls` connects with
 *   TLS, trusting the system's CAs or `--tls-ca PATH`; `--tls-cert PATH
 *   --tls-key PATH` present a client certificate. Any `--tls-*` flag implies
 *   `--tls`: a CA or certificate given is never silently dropped.
 *
 * Files are read once, at startup. A flag without its partner, or a file that
 * cannot be read or holds no PEM block of the expected kind, is refused
 * before anything listens or connects (the caller exits with status 2).
 */
import type { Tls } from "@wirekit/core"
import { readFileSync } from "node:fs"

/** `parseArgs` options of a server's TLS flags (spread them into the example's own). */
export const serverFlags = {
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string" }
} as const

/** `parseArgs` options of a client's TLS flags. */
export const clientFlags = {
  tls: { type: "boolean" },
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" }
} as const

/** The server flags, for usage lines. */
export const serverUsage = "[--tls-cert PATH --tls-key PATH [--tls-ca PATH]]"

/** The client flags, for usage lines. */
export const clientUsage = "[--tls [--tls-ca PATH] [--tls-cert PATH --tls-key PATH]]"

/** What `parseArgs` returns for the flags (strict or not). */
type Values = Readonly<Record<string, string | boolean | ReadonlyArray<string | boolean> | undefined>>

/** Exits with status 2 after printing `message` and `usage`: the default way to refuse flags. */
const exitWithUsage = (usage: string) => (message: string): never => {
  console.error(`${message}\n${usage}`)
  process.exit(2)
}

/** The PATH given to `--name`, if the flag is there. */
const pathOf = (values: Values, name: string, fail: (message: string) => never): string | undefined => {
  const value = values[name]
  if (value === undefined) return undefined
  if (typeof value !== "string" || value === "") return fail(`--${name} needs a PATH`)
  return value
}

/** Reads the PEM file given to `--name`; it must hold a `CERTIFICATE` block, or a `... PRIVATE KEY` one. */
const readPem = (
  name: string,
  path: string,
  kind: "CERTIFICATE" | "PRIVATE KEY",
  fail: (message: string) => never
): string => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    return fail(`--${name}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const labels = Array.from(text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g), (m) => m[1]!)
  if (!labels.some((label) => (kind === "CERTIFICATE" ? label === kind : label.endsWith(kind)))) {
    return fail(`--${name}: ${path} holds no ${kind} PEM block`)
  }
  return text
}

/** Reads `--tls-cert` and `--tls-key`, which come together or not at all. */
const keyPair = (values: Values, fail: (message: string) => never): Tls.KeyPair | undefined => {
  const cert = pathOf(values, "tls-cert", fail)
  const key = pathOf(values, "tls-key", fail)
  if (cert === undefined && key === undefined) return undefined
  if (cert === undefined) return fail("--tls-key needs --tls-cert (the certificate of that key)")
  if (key === undefined) return fail("--tls-cert needs --tls-key (the private key of that certificate)")
  return { cert: readPem("tls-cert", cert, "CERTIFICATE", fail), key: readPem("tls-key", key, "PRIVATE KEY", fail) }
}

/**
 * The TLS options of a listener from `--tls-cert`, `--tls-key` and
 * `--tls-ca`, or `undefined` (plain TCP) when none is given. `fail` refuses
 * the flags (default: print the message and `usage`, exit 2).
 *
 * ```ts
 * const { values } = parseArgs({ args, options: { port: { type: "string" }, ...ExampleTls.serverFlags }, strict: true })
 * const tls = ExampleTls.server(values, usage)   // → ProtocolServer.serve(P, handler, { address, tls })
 * ```
 */
export const server = (
  values: Values,
  usage: string,
  fail: (message: string) => never = exitWithUsage(usage)
): Tls.TlsServerOptions | undefined => {
  const pair = keyPair(values, fail)
  const caPath = pathOf(values, "tls-ca", fail)
  if (pair === undefined) {
    return caPath === undefined
      ? undefined
      : fail("--tls-ca needs --tls-cert and --tls-key (the server's own certificate)")
  }
  if (caPath === undefined) return { certificates: pair }
  return { certificates: { ...pair, ca: readPem("tls-ca", caPath, "CERTIFICATE", fail) }, requestCert: true }
}

/**
 * The TLS options of a connect from `--tls`, `--tls-ca`, `--tls-cert` and
 * `--tls-key`, or `undefined` (plain TCP) when none is given. `fail` refuses
 * the flags.
 */
export const client = (values: Values, fail: (message: string) => never): Tls.TlsClientOptions | undefined => {
  const pair = keyPair(values, fail)
  const caPath = pathOf(values, "tls-ca", fail)
  if (values.tls !== true && pair === undefined && caPath === undefined) return undefined
  return {
    ...(caPath === undefined ? {} : { ca: readPem("tls-ca", caPath, "CERTIFICATE", fail) }),
    ...(pair === undefined ? {} : { certificate: pair })
  }
}

/**
 * What a client adds to "the connection was lost" when it used TLS without a
 * certificate: a server that requires client certificates refuses it after
 * the handshake (TLS 1.3), which looks like a lost connection.
 */
export const lostConnectionHint = (tls: Tls.TlsClientOptions | undefined): string =>
  tls !== undefined && tls.certificate === undefined
    ? " (a server that requires client certificates does this: --tls-cert PATH --tls-key PATH)"
    : ""
