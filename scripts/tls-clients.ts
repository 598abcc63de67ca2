/**
 * TLS for the examples' end-to-end tests: certificate files made at test time
 * (`Certs.generate`, the openssl command line tool; no key is ever committed),
 * the flags that make an example serve TLS, `openssl s_client` as a real
 * client, and where a runtime's transport cannot serve mutual TLS.
 */
import { Certs } from "@wirekit/testing"
import { execFileSync, spawn } from "node:child_process"
import type { ChildProcessByStdio } from "node:child_process"
import type { Readable, Writable } from "node:stream"

/**
 * Why an example cannot be tested over mutual TLS on a runtime, or
 * `undefined` when it can. `Deno.listenTls` cannot ask for a client
 * certificate: the Deno transport refuses `requestCert` (ENOTSUP), so a Deno
 * server given `--tls-ca` does not start.
 */
export const mutualTlsUnsupported = (runtime: string): string | undefined =>
  runtime === "deno"
    ? "Deno.listenTls cannot ask for client certificates: the deno transport refuses requestCert"
    : undefined

/** `title`, with the reason mutual TLS is skipped on `runtime` appended when it is. */
export const mutualTlsTitle = (runtime: string, title: string): string => {
  const reason = mutualTlsUnsupported(runtime)
  return reason === undefined ? title : `${title} [skipped: ${reason}]`
}

/** PEM files for a test file's servers and clients. */
export interface CertFiles {
  /** The CA that issued `cert` and `clientCert`. */
  readonly ca: string
  /** The server's certificate (localhost, 127.0.0.1, ::1) and key. */
  readonly cert: string
  readonly key: string
  /** A client certificate (CN `Certs.clientName`) and key, issued by `ca`. */
  readonly clientCert: string
  readonly clientKey: string
  /** An unrelated CA: a client that trusts only it refuses the server. */
  readonly otherCa: string
  /** Removes the files. */
  readonly remove: () => void
}

/** Makes fresh certificates and writes them to a temporary directory (a few hundred ms). */
export const certFiles = (): CertFiles => {
  const certs = Certs.generate()
  const { paths, remove } = Certs.writeFiles({
    ca: certs.ca.cert,
    cert: certs.server.cert,
    key: certs.server.key,
    clientCert: certs.client.cert,
    clientKey: certs.client.key,
    otherCa: certs.otherCa.cert
  })
  return {
    ca: paths.ca!,
    cert: paths.cert!,
    key: paths.key!,
    clientCert: paths.clientCert!,
    clientKey: paths.clientKey!,
    otherCa: paths.otherCa!,
    remove
  }
}

/** The flags that make an example serve TLS; with `mutual`, clients must present a certificate issued by `files.ca`. */
export const serverTlsArgs = (files: CertFiles, options?: { readonly mutual?: boolean }): Array<string> => [
  "--tls-cert",
  files.cert,
  "--tls-key",
  files.key,
  ...(options?.mutual ? ["--tls-ca", files.ca] : [])
]

/** A running `openssl s_client -quiet` session: what we type goes to the server, what it sends comes out. */
export interface SClient {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>
  /** Everything the server sent so far (stdout). */
  readonly received: () => Buffer
  /** What s_client said on stderr (verification, alerts, errors). */
  readonly stderr: () => string
  /** Resolves with the received bytes once there are at least `n` (rejects after `ms`, or if s_client exits first). */
  readonly receive: (n: number, ms?: number) => Promise<Buffer>
  /** The exit code, once s_client exits. */
  readonly exited: Promise<number | null>
}

/**
 * Starts `openssl s_client -connect 127.0.0.1:PORT -quiet -CAfile CA
 * -verify_return_error` and `args` (e.g. `-cert`, `-key`): a plain session
 * over TLS, as a person would run it. `-quiet` also means s_client does not
 * close at the end of its input; it exits when the server closes (or when
 * killed).
 */
export const sClient = (port: number, ca: string, args: ReadonlyArray<string> = []): SClient => {
  const child = spawn("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-quiet",
    "-CAfile",
    ca,
    "-verify_return_error",
    ...args
  ], {
    stdio: ["pipe", "pipe", "pipe"]
  })
  const parts: Array<Buffer> = []
  let length = 0
  let err = ""
  let wake: (() => void) | undefined
  child.stdout.on("data", (d: Buffer) => {
    parts.push(d)
    length += d.length
    wake?.()
  })
  child.stderr.on("data", (d: Buffer) => (err += d.toString()))
  // a refused handshake closes the pipe under our writes
  child.stdin.on("error", () => {})
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  let done = false
  void exited.then(() => {
    done = true
    wake?.()
  })
  const received = () => Buffer.concat(parts)
  const receive = async (n: number, ms = 10_000) => {
    const deadline = Date.now() + ms
    while (length < n) {
      const left = deadline - Date.now()
      if (left <= 0 || done) {
        throw new Error(`s_client: ${length} of ${n} bytes (${done ? "exited" : "timeout"}); stderr: ${err}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      wake = undefined
    }
    return received()
  }
  return { child, received, stderr: () => err, receive, exited }
}

/**
 * Whether the installed redis-cli speaks TLS (`--tls` in its help): Debian's
 * redis-tools is built with it. `undefined` when it does, else why not.
 */
export const redisCliWithoutTls = (): string | undefined => {
  try {
    const help = execFileSync("redis-cli", ["--help"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    return /--tls\b/.test(help) ? undefined : "this redis-cli is built without TLS (no --tls in redis-cli --help)"
  } catch (error) {
    return `redis-cli --help failed: ${error instanceof Error ? error.message : String(error)}`
  }
}
