// Self-test for the load generator: it must report errors (non-zero exit, JSON
// "error") against deliberately broken servers, and succeed against a correct one.
//
//   node bench/loadgen/selftest.mjs        (run `node bench/run.mjs --quick` once first,
//                                          or build: cc -O2 -o bench/build/loadgen bench/loadgen/loadgen.c -lm)
//
// Everything listens on 127.0.0.1 only; each loadgen run is 1 s + 0.2 s warmup.
import { spawn } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import path from "node:path"
import tls from "node:tls"
import { fileURLToPath } from "node:url"
import { makeCerts, removeCerts } from "../servers/lib/certs.mjs"
import { makeFramedCodec } from "../servers/lib/frames.mjs"
import { makeKvHandler } from "../servers/lib/kv.mjs"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const LOADGEN = path.join(ROOT, "bench/build/loadgen")
if (!fs.existsSync(LOADGEN)) {
  console.error(`missing ${LOADGEN}; build it first (node bench/run.mjs --quick)`)
  process.exit(2)
}

let staleFirst = null

/** Echo servers that misbehave after `after` bytes have passed through a connection. */
const BEHAVIOURS = {
  ok: () => (chunk) => [chunk],
  // drops one byte in the middle of the stream
  "drop-byte": () => {
    let seen = 0, done = false
    return (chunk) => {
      const at = 1000 - seen
      seen += chunk.length
      if (done || at < 0 || at >= chunk.length) return [chunk]
      done = true
      return [Buffer.concat([chunk.subarray(0, at), chunk.subarray(at + 1)])]
    }
  },
  // zeroes one whole chunk
  corrupt: () => {
    let seen = 0, done = false
    return (chunk) => {
      seen += chunk.length
      if (done || seen < 5000) return [chunk]
      done = true
      return [Buffer.alloc(chunk.length)]
    }
  },
  // sends one chunk twice
  duplicate: () => {
    let seen = 0, done = false
    return (chunk) => {
      seen += chunk.length
      if (done || seen < 5000) return [chunk]
      done = true
      return [chunk, chunk]
    }
  },
  // never answers
  silent: () => () => [],
  // answers every request with the first request it ever saw (a reply not made for this
  // request: with --handshake, each connection's one request has its own sequence number)
  stale: () => {
    return (chunk) => {
      staleFirst ??= Buffer.from(chunk)
      return [staleFirst.subarray(0, chunk.length)]
    }
  },
  // closes the connection after a while
  close: () => {
    let seen = 0
    return (chunk, socket) => {
      seen += chunk.length
      if (seen > 20000) {
        socket.destroy()
        return []
      }
      return [chunk]
    }
  }
}

/** `tlsOptions`: serve over node:tls with these options (certificate, key, allowHalfOpen) instead of node:net. */
function startServer(kind, tlsOptions) {
  staleFirst = null
  return new Promise((resolve) => {
    const onConnection = (socket) => {
      socket.setNoDelay(true)
      socket.on("error", () => {})
      const f = BEHAVIOURS[kind]()
      socket.on("data", (chunk) => {
        for (const out of f(chunk, socket)) if (!socket.destroyed) socket.write(out)
      })
    }
    const server = tlsOptions ? tls.createServer(tlsOptions, onConnection) : net.createServer(onConnection)
    server.listen(0, "127.0.0.1", () => resolve(server))
  })
}

function loadgen(port, extra = []) {
  return new Promise((resolve) => {
    const args = [
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--conns",
      "4",
      "--size",
      "64",
      "--pipeline",
      "4",
      "--duration",
      "1",
      "--warmup",
      "0.2",
      "--mode",
      "echo",
      "--json",
      ...extra
    ]
    const child = spawn(LOADGEN, args, { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => {
      out += d
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      let json = null
      try {
        json = JSON.parse(out.trim().split("\n").pop())
      } catch {}
      resolve({ code, json })
    })
  })
}

let failures = 0
function check(name, ok, detail) {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}`)
  if (!ok) failures++
}

for (const kind of Object.keys(BEHAVIOURS)) {
  const server = await startServer(kind)
  const { port } = server.address()
  const r = await loadgen(port)
  server.close()
  const detail = `exit ${r.code}, rps ${r.json?.rps ?? "?"}, error ${JSON.stringify(r.json?.error ?? null)}`
  if (kind === "ok") check(kind, r.code === 0 && r.json && !r.json.error && r.json.rps > 0, detail)
  else check(kind, r.code === 1 && r.json && typeof r.json.error === "string", detail)
}

// nothing listening: connect failure must be an error
{
  const server = await startServer("ok")
  const { port } = server.address()
  await new Promise((r) => server.close(r))
  const r = await loadgen(port)
  check(
    "connect-refused",
    r.code === 1 && typeof r.json?.error === "string",
    `exit ${r.code}, error ${JSON.stringify(r.json?.error ?? null)}`
  )
}

// a sink that closes must fail a oneway run too
{
  const server = net.createServer((s) => {
    s.on("error", () => {})
    setTimeout(() => s.destroy(), 300)
  })
  await new Promise((r) => server.listen(0, "127.0.0.1", r))
  const { port } = server.address()
  const r = await new Promise((resolve) => {
    const child = spawn(LOADGEN, [
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--conns",
      "2",
      "--size",
      "65536",
      "--duration",
      "1",
      "--warmup",
      "0.2",
      "--mode",
      "oneway",
      "--json"
    ], { stdio: ["ignore", "pipe", "ignore"] })
    let out = ""
    child.stdout.on("data", (d) => {
      out += d
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      let json = null
      try {
        json = JSON.parse(out)
      } catch {}
      resolve({ code, json })
    })
  })
  server.close()
  check(
    "oneway-close",
    r.code === 1 && typeof r.json?.error === "string",
    `exit ${r.code}, error ${JSON.stringify(r.json?.error ?? null)}`
  )
}

// kv / rpc-kv modes: the load generator must accept a correct kv server (both wire
// formats) and fail against each kind of wrong reply. `breakReply(reply, n)` may
// rewrite the n-th reply object of a connection (null: drop it; an array: send
// each). Connection 0 (the load generator's setup Puts, then load) is left
// alone, so that the breaks hit the measured load, not the setup.
const KV_BREAKS = {
  ok: null,
  "wrong-value": (r, n) => (n > 300 && typeof r.success === "string" ? { ...r, success: r.success + "x" } : r),
  "miss-not-null": (r, n) => (n > 300 && r.success === null ? { ...r, success: "" } : r),
  "no-limit": (r) => (r.failure ? { id: r.id, success: null } : r), // TooLong answered as a success
  "fault": (r) => (r.failure ? { id: r.id, fault: { reason: "Internal" } } : r),
  "wrong-error": (r) => (r.failure ? { ...r, failure: { _tag: "TooLong", max: 64 } } : r),
  "wrong-id": (r, n) => (n === 400 ? { ...r, id: r.id + 1 } : r),
  "drop-reply": (r, n) => (n === 30 ? null : r), // early in the warmup: must be noticed at the end
  "duplicate": (r, n) => (n === 400 ? [r, r] : r)
}

function startKvServer(wire, breakReply) {
  const handler = makeKvHandler()
  let connections = 0
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true)
      socket.on("error", () => {})
      const index = connections++
      let n = 0
      const fix = (reply) => {
        n++
        if (!breakReply || index === 0) return [reply]
        const r = breakReply(reply, n)
        return r === null ? [] : Array.isArray(r) ? r : [r]
      }
      if (wire === "kv") {
        const extra = [] // replies past the first of one request, written after the batch
        const codec = makeFramedCodec({
          alloc: (k) => Buffer.allocUnsafe(k),
          handler: (payload) => {
            const out = fix(JSON.parse(Buffer.from(handler(payload)).toString()))
            for (const o of out.slice(1)) {
              const b = Buffer.from(JSON.stringify(o))
              const h = Buffer.alloc(4)
              h.writeUInt32BE(b.length)
              extra.push(h, b)
            }
            return out.length === 0 ? null : Buffer.from(JSON.stringify(out[0]))
          }
        })
        socket.on("data", (chunk) => {
          let out
          try {
            out = codec.push(chunk)
          } catch {
            socket.destroy()
            return
          }
          if (out !== null) socket.write(out)
          if (extra.length) socket.write(Buffer.concat(extra.splice(0)))
        })
      } else {
        // a minimal @effect/rpc ndjson server: Request in, Exit out (RpcMessage's encoding)
        let buf = ""
        socket.on("data", (chunk) => {
          buf += chunk.toString()
          let out = ""
          let nl
          while ((nl = buf.indexOf("\n")) >= 0) {
            const m = JSON.parse(buf.slice(0, nl))
            buf = buf.slice(nl + 1)
            const env = { id: Number(m.id), request: { _tag: m.tag, ...m.payload } }
            for (const r of fix(JSON.parse(Buffer.from(handler(Buffer.from(JSON.stringify(env)))).toString()))) {
              const exit = "success" in r ?
                { _tag: "Success", value: r.success }
                : "failure" in r ?
                { _tag: "Failure", cause: { _tag: "Fail", error: { max: r.failure.max, _tag: r.failure._tag } } }
                : { _tag: "Failure", cause: { _tag: "Die", defect: r.fault.reason } }
              out += JSON.stringify({ _tag: "Exit", requestId: String(r.id), exit }) + "\n"
            }
          }
          if (out) socket.write(out)
        })
      }
    })
    server.listen(0, "127.0.0.1", () => resolve(server))
  })
}

for (const wire of ["kv", "rpc-kv"]) {
  for (const [kind, breakReply] of Object.entries(KV_BREAKS)) {
    if (wire === "rpc-kv" && !["ok", "wrong-value", "no-limit", "wrong-id", "drop-reply"].includes(kind)) continue
    const server = await startKvServer(wire, breakReply)
    const { port } = server.address()
    const r = await loadgen(port, ["--mode", wire])
    server.close()
    const detail = `exit ${r.code}, rps ${r.json?.rps ?? "?"}, mix ${JSON.stringify(r.json?.mix ?? null)}, error ${
      JSON.stringify(r.json?.error ?? null)
    }`
    const name = `${wire} ${kind}`
    if (kind === "ok") {
      const m = r.json?.mix ?? {}
      check(
        name,
        r.code === 0 && r.json && !r.json.error && r.json.rps > 0 && m.get_hit > 0 && m.get_miss > 0 && m.put > 0 &&
          m.too_long > 0,
        detail
      )
    } else {
      check(name, r.code === 1 && r.json && typeof r.json.error === "string", detail)
    }
  }
}

// --tls and --tls --handshake: the same checks through TLS, plus the TLS failures of their own
// (a certificate from another CA, a plain server, a server that never closes after close_notify).
// Needs a loadgen built with TLS (bench/run.mjs does where libssl-dev is installed) and openssl.
const probe = await loadgen(1, ["--tls"])
if (probe.code === 2) {
  console.log("skip TLS checks: this loadgen was built without TLS")
} else {
  const certs = makeCerts(), other = makeCerts()
  try {
    const pair = { cert: fs.readFileSync(certs.cert), key: fs.readFileSync(certs.key) }
    // expectOk: true, or false, or a regex the error must match
    const tlsRun = async (name, kind, extra, expectOk, serverOptions = {}) => {
      const server = kind === "plain" ? await startServer("ok") : await startServer(kind, { ...pair, ...serverOptions })
      const r = await loadgen(server.address().port, ["--tls", ...extra])
      server.close()
      const detail = `exit ${r.code}, rps ${r.json?.rps ?? "?"}, tls ${JSON.stringify(r.json?.tls ?? null)}, error ${
        JSON.stringify(r.json?.error ?? null)
      }`
      if (expectOk === true) {
        check(name, r.code === 0 && r.json && !r.json.error && r.json.rps > 0 && r.json.tls?.version, detail)
      } else {check(
          name,
          r.code === 1 && r.json && typeof r.json.error === "string" &&
            (expectOk === false || expectOk.test(r.json.error)),
          detail
        )}
    }
    const verify = ["--tls-ca", certs.ca]
    for (const kind of Object.keys(BEHAVIOURS)) await tlsRun(`tls ${kind}`, kind, verify, kind === "ok")
    await tlsRun("tls wrong-ca", "ok", ["--tls-ca", other.ca], false)
    await tlsRun("tls plain-server", "plain", [], false)
    const hs = ["--handshake", "--pipeline", "1"]
    await tlsRun("tls handshake ok", "ok", hs, true)
    await tlsRun("tls handshake ok verified", "ok", [...hs, ...verify], true)
    // a window longer than the 2 s a connection may take, so that the stuck ones are named
    const stuck = [...hs, "--duration", "2.5"]
    await tlsRun("tls handshake silent", "silent", stuck, /not done within 2 s .*stuck in reply/)
    await tlsRun("tls handshake stale-reply", "stale", hs, /payload mismatch/)
    await tlsRun("tls handshake no-close", "ok", stuck, /not done within 2 s .*stuck in close/, { allowHalfOpen: true })
  } finally {
    removeCerts(certs)
    removeCerts(other)
  }
}

console.log(failures ? `${failures} check(s) failed` : "all loadgen self-checks passed")
process.exit(failures ? 1 : 0)
