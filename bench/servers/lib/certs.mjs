// Test certificates for the TLS suites (bench/run.mjs) and the load generator's
// self-test, made with the `openssl` command line tool into a fresh temp
// directory, so that no private key ever lives in the repository.
//
//   const certs = makeCerts()   // { dir, ca, cert, key } (absolute paths), or throws
//   removeCerts(certs)
//
// A CA and a server certificate it signed (not a self-signed leaf): the server
// sends the usual one-certificate chain and a client that verifies (loadgen
// --tls-ca) checks a real chain and the subject alt names (IP 127.0.0.1,
// localhost). ECDSA P-256 keys: the common choice for new certificates, and
// its signature is cheap enough that a handshake's cost is not all RSA
// arithmetic, which would hide the server's own per-connection work.
import { spawnSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"

function openssl(dir, args) {
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8", timeout: 20_000 })
  if (r.error) throw new Error(`openssl ${args[0]}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`)
}

/** Makes a CA and a server certificate for 127.0.0.1/localhost in a new temp directory. */
export function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirekit-bench-tls-"))
  try {
    const ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    openssl(dir, ["genpkey", ...ec, "-out", "ca.key"])
    openssl(dir, [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-sha256",
      "-days",
      "2",
      "-subj",
      "/CN=wirekit bench CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      "ca.pem"
    ])
    openssl(dir, ["genpkey", ...ec, "-out", "server.key"])
    openssl(dir, ["req", "-new", "-key", "server.key", "-subj", "/CN=localhost", "-out", "server.csr"])
    fs.writeFileSync(
      path.join(dir, "server.ext"),
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost"
      ].join("\n") + "\n"
    )
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-sha256",
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.pem"
    ])
    return { dir, ca: path.join(dir, "ca.pem"), cert: path.join(dir, "server.pem"), key: path.join(dir, "server.key") }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw e
  }
}

export function removeCerts(certs) {
  if (certs?.dir) fs.rmSync(certs.dir, { recursive: true, force: true })
}
