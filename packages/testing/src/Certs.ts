/**
 * Certificates for TLS tests, made when the tests run with the `openssl`
 * command line tool (Debian's `openssl` package), so no private key is ever
 * committed. Everything is generated in a fresh temporary directory, read
 * into memory, and the directory removed before {@link generate} returns.
 * Uses `node:child_process` and `node:fs`, which Node, Bun and Deno all have.
 *
 * What you get (EC P-256 keys, valid from now for two days):
 * - `ca`: a root CA; `otherCa`: an unrelated root CA.
 * - `server`: for `localhost`, `127.0.0.1` and `::1`, issued by `ca`;
 *   `serverNext`: the same names with a new key (a renewed certificate).
 * - `alt`: for `alt.test` and `*.alt.test`, issued by `ca` (SNI).
 * - `client`: a client certificate (`CN=wirekit test client`), issued by `ca`.
 * - `otherServer` and `otherClient`: like `server` and `client`, issued by `otherCa`.
 *
 * @example
 * ```ts
 * import { Certs } from "@wirekit/testing"
 * const certs = Certs.generate()
 * const layer = NodeTransport.layerTls(Certs.tlsDefaults(certs))
 * ```
 * @since 0.1.0
 */
import type { Tls as Tls$ } from "@wirekit/core"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
type KeyPair = Tls$.KeyPair
type TlsClientOptions = Tls$.TlsClientOptions
type TlsServerOptions = Tls$.TlsServerOptions

/**
 * A certificate and its key, as PEM text.
 *
 * @since 0.1.0
 * @category models
 */
export interface Issued extends KeyPair {
  readonly cert: string
  readonly key: string
}

/**
 * The certificates {@link generate} makes (see the module docs).
 *
 * @since 0.1.0
 * @category models
 */
export interface TestCertificates {
  /** The root CA that issues `server`, `serverNext`, `alt` and `client`. */
  readonly ca: Issued
  /** For `localhost`, `127.0.0.1` and `::1`. */
  readonly server: Issued
  /** The same names as `server` with a new key: a renewed certificate, for reload tests. */
  readonly serverNext: Issued
  /** For `alt.test` and `*.alt.test`: the certificate chosen by SNI. */
  readonly alt: Issued
  /** A client certificate (`CN=wirekit test client`, see {@link clientName}). */
  readonly client: Issued
  /** An unrelated root CA. */
  readonly otherCa: Issued
  /** Like `server`, issued by `otherCa`: a server a client trusting `ca` refuses. */
  readonly otherServer: Issued
  /** Like `client`, issued by `otherCa`: a client a server trusting `ca` refuses. */
  readonly otherClient: Issued
}

/**
 * The subject's common name of the client certificates.
 *
 * @since 0.1.0
 * @category constants
 */
export const clientName = "wirekit test client"

const config = [
  "[req]",
  "distinguished_name = dn",
  "[dn]",
  "[ca_ext]",
  "basicConstraints = critical, CA:TRUE",
  "keyUsage = critical, keyCertSign, cRLSign",
  "subjectKeyIdentifier = hash"
].join("\n")

const serverExt = (names: ReadonlyArray<string>) =>
  [
    "basicConstraints = CA:FALSE",
    "keyUsage = critical, digitalSignature",
    "extendedKeyUsage = serverAuth",
    `subjectAltName = ${names.join(", ")}`
  ].join("\n")

const clientExt = [
  "basicConstraints = CA:FALSE",
  "keyUsage = critical, digitalSignature",
  "extendedKeyUsage = clientAuth"
].join("\n")

/**
 * Makes a fresh set of {@link TestCertificates}. Throws, saying so, when
 * `openssl` is missing or fails. Takes a few hundred milliseconds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (options?: { readonly openssl?: string | undefined }): TestCertificates => {
  const openssl = options?.openssl ?? "openssl"
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "wirekit-certs-"))
  const file = (name: string) => Path.join(dir, name)
  const run = (args: ReadonlyArray<string>) => {
    try {
      ChildProcess.execFileSync(openssl, args as Array<string>, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
    } catch (e) {
      const err = e as { code?: string; stderr?: Uint8Array }
      if (err.code === "ENOENT") {
        throw new Error(
          `the '${openssl}' command is missing: TLS tests make their certificates with it (apt-get install openssl)`
        )
      }
      throw new Error(
        `${openssl} ${args.join(" ")} failed: ${err.stderr ? new TextDecoder().decode(err.stderr) : String(e)}`
      )
    }
  }
  const read = (name: string) => Fs.readFileSync(file(name), "utf8")
  let serial = 1
  const key = (name: string) =>
    run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`])
  const rootCa = (name: string, cn: string): Issued => {
    key(name)
    run([
      "req",
      "-x509",
      "-new",
      "-key",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/O=wirekit/CN=${cn}`,
      "-config",
      "openssl.cnf",
      "-extensions",
      "ca_ext"
    ])
    return { cert: read(`${name}.pem`), key: read(`${name}.key`) }
  }
  const leaf = (name: string, issuer: string, subject: string, ext: string): Issued => {
    key(name)
    Fs.writeFileSync(file(`${name}.ext`), ext)
    run(["req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", subject, "-config", "openssl.cnf"])
    run([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${issuer}.pem`,
      "-CAkey",
      `${issuer}.key`,
      "-set_serial",
      String(1000 + serial++),
      "-days",
      "2",
      "-sha256",
      "-out",
      `${name}.pem`,
      "-extfile",
      `${name}.ext`
    ])
    return { cert: read(`${name}.pem`), key: read(`${name}.key`) }
  }
  try {
    Fs.writeFileSync(file("openssl.cnf"), config)
    const localNames = serverExt(["DNS:localhost", "IP:127.0.0.1", "IP:::1"])
    const ca = rootCa("ca", "wirekit test CA")
    const otherCa = rootCa("other-ca", "wirekit other CA")
    return {
      ca,
      server: leaf("server", "ca", "/O=wirekit/CN=localhost", localNames),
      serverNext: leaf("server-next", "ca", "/O=wirekit/CN=localhost", localNames),
      alt: leaf("alt", "ca", "/O=wirekit/CN=alt.test", serverExt(["DNS:alt.test", "DNS:*.alt.test"])),
      client: leaf("client", "ca", `/O=wirekit/CN=${clientName}`, clientExt),
      otherCa,
      otherServer: leaf("other-server", "other-ca", "/O=wirekit/CN=localhost", localNames),
      otherClient: leaf("other-client", "other-ca", `/O=wirekit/CN=${clientName}`, clientExt)
    }
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * TLS defaults for a whole transport (e.g. `NodeTransport.layerTls`):
 * servers present `server` (and `alt` for `alt.test` by SNI); clients trust
 * `ca`. With `mutual`, servers also require a client certificate issued by
 * `ca` and clients present `client`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tlsDefaults = (
  certs: TestCertificates,
  options?: { readonly mutual?: boolean | undefined }
): { readonly server: TlsServerOptions; readonly client: TlsClientOptions } => {
  const mutual = options?.mutual ?? false
  return {
    server: {
      certificates: {
        cert: certs.server.cert,
        key: certs.server.key,
        ca: certs.ca.cert,
        sni: { "alt.test": certs.alt }
      },
      ...(mutual ? { requestCert: true } : {})
    },
    client: { ca: certs.ca.cert, ...(mutual ? { certificate: certs.client } : {}) }
  }
}

/**
 * Writes PEM files into a new temporary directory, for tools that read
 * files (`openssl s_client -CAfile`); returns the path of each by name and a
 * function that removes the directory.
 *
 * @since 0.1.0
 * @category utils
 */
export const writeFiles = (files: Readonly<Record<string, string>>): {
  readonly paths: Readonly<Record<string, string>>
  readonly remove: () => void
} => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "wirekit-pem-"))
  const paths: Record<string, string> = {}
  for (const [name, pem] of Object.entries(files)) {
    const path = Path.join(dir, `${name}.pem`)
    Fs.writeFileSync(path, pem, { mode: 0o600 })
    paths[name] = path
  }
  return { paths, remove: () => Fs.rmSync(dir, { recursive: true, force: true }) }
}

/**
 * The SHA-256 fingerprint of a PEM certificate in the form
 * `Tls.PeerCertificate.fingerprint256` uses (`"AB:01:..."`), by WebCrypto.
 *
 * @since 0.1.0
 * @category utils
 */
export const fingerprint256 = async (pem: string): Promise<string> => {
  const der = derOf(pem)
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", der as Uint8Array<ArrayBuffer>))
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":")
}

/**
 * The DER bytes of the first certificate of a PEM text.
 *
 * @since 0.1.0
 * @category utils
 */
export const derOf = (pem: string): Uint8Array => {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)
  if (m === null) throw new Error("no certificate in the PEM text")
  const bin = atob(m[1]!.replace(/\s+/g, ""))
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}
