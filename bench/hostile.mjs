#!/usr/bin/env node
/**
 * Hostile peers against the examples: how much a server grows (VmHWM - VmRSS
 * before, in MiB) under inputs meant to make it hold memory, per runtime.
 * Not a speed measurement: it only needs the machine not to be starved.
 *
 *   node bench/hostile.mjs [--runtimes node,bun,deno] [--attacks amplify-kv,amplify-resp,partial-kv,never-resp]
 *
 * Attacks (each against a fresh server process):
 * - amplify-kv:   one write of 1,000 pipelined `Get`s of a 256 KiB value, never reading the replies
 * - amplify-resp: the same with RESP `GET`
 * - partial-kv:   50 connections, each sending all but the last byte of an 8 MiB - 64 KiB frame, then nothing
 * - never-resp:   one RESP command announcing 1,048,576 arguments, then 64 KiB bulks for as long as the server takes them
 * Each attack runs for at most 20 s; the server is then checked to still answer.
 */
import { spawn } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import { ensureBuilt } from "../scripts/runtimes.mjs"

// servers started from TypeScript sources import @wirekit/* from the packages' dist/: build what changed
ensureBuilt()

const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? fallback : args[i + 1]
}
const runtimes = flag("runtimes", "node,bun,deno").split(",")
const attacks = flag("attacks", "amplify-kv,amplify-resp,partial-kv,never-resp").split(",")
const BIN = new URL("../node_modules/.bin/", import.meta.url).pathname

const entry = (example, runtime, port) => {
  const dir = `examples/${example}/src`
  switch (runtime) {
    case "node":
      return [process.execPath, ["--import", "tsx", `${dir}/main.ts`, "--port", String(port)]]
    case "bun":
      return [`${BIN}bun`, [`${dir}/main.bun.ts`, "--port", String(port)]]
    case "deno":
      return [`${BIN}deno`, ["run", "-A", `${dir}/main.deno.ts`, "--port", String(port)]]
  }
}

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const memOf = (pid) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)[1])
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 }
}

/** The pid of the process that listens (a launcher may exec or fork the runtime). */
const listenerPid = (pid) => {
  const children = (p) => {
    try {
      return fs.readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)
    } catch {
      return []
    }
  }
  let p = pid
  for (let kids = children(p); kids.length > 0; kids = children(p)) p = kids[0]
  return p
}

const connect = (port) =>
  new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s))
    s.on("error", reject)
  })

const startServer = async (example, runtime) => {
  const port = await freePort()
  const [cmd, argv] = entry(example, runtime, port)
  const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], cwd: new URL("..", import.meta.url).pathname })
  child.stdout.resume()
  child.stderr.resume()
  for (let i = 0; i < 200; i++) {
    try {
      ;(await connect(port)).destroy()
      await sleep(300)
      return { child, port, pid: listenerPid(child.pid) }
    } catch {
      await sleep(100)
    }
  }
  child.kill("SIGKILL")
  throw new Error(`${example} on ${runtime} did not start`)
}

const kvFrame = (obj) => {
  const body = Buffer.from(JSON.stringify(obj))
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  return Buffer.concat([head, body])
}
const resp = (...words) => `*${words.length}\r\n` + words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")

/** Sends `setup`, waits for `replies` bytes of answer, then the attack; returns the sockets to keep open. */
const exchange = (sock, data, minBytes) =>
  new Promise((resolve) => {
    let got = 0
    const on = (b) => {
      got += b.length
      if (got >= minBytes) {
        sock.off("data", on)
        resolve()
      }
    }
    sock.on("data", on)
    sock.write(data)
  })

const BIG = "v".repeat(256 * 1024)

const attacksImpl = {
  "amplify-kv": {
    example: "kv",
    async run(port) {
      const s = await connect(port)
      await exchange(s, kvFrame({ id: 1, request: { _tag: "Set", key: "big", value: BIG } }), 10)
      s.pause()
      s.write(
        Buffer.concat(
          Array.from({ length: 1000 }, (_, i) => kvFrame({ id: i + 2, request: { _tag: "Get", key: "big" } }))
        )
      )
      await sleep(5000)
      return [s]
    }
  },
  "amplify-resp": {
    example: "resp",
    async run(port) {
      const s = await connect(port)
      await exchange(s, resp("SET", "big", BIG), 5)
      s.pause()
      s.write(resp("GET", "big").repeat(1000))
      await sleep(5000)
      return [s]
    }
  },
  "partial-kv": {
    example: "kv",
    async run(port) {
      const size = 8 * 1024 * 1024 - 64 * 1024
      const frame = Buffer.alloc(4 + size, 32)
      frame.writeUInt32BE(size)
      const socks = []
      for (let i = 0; i < 50; i++) {
        const s = await connect(port)
        s.on("error", () => {})
        s.write(frame.subarray(0, frame.length - 1))
        socks.push(s)
      }
      await sleep(8000)
      return socks
    }
  },
  "never-resp": {
    example: "resp",
    async run(port) {
      const s = await connect(port)
      const bulk = Buffer.concat([Buffer.from("$65536\r\n"), Buffer.alloc(65536, 120), Buffer.from("\r\n")])
      let open = true
      s.on("close", () => (open = false))
      s.on("error", () => (open = false))
      s.write("*1048576\r\n")
      const until = Date.now() + 20_000
      while (open && Date.now() < until) {
        if (!s.write(bulk)) await new Promise((r) => s.once("drain", r).once("close", r))
      }
      return [s]
    }
  }
}

const alive = async (example, port) => {
  const s = await connect(port)
  const ok = example === "kv"
    ? exchange(s, kvFrame({ id: 1, request: { _tag: "Get", key: "nokey" } }), 10)
    : exchange(s, resp("PING"), 7)
  const r = await Promise.race([ok.then(() => true), sleep(5000).then(() => false)])
  s.destroy()
  return r
}

const rows = []
for (const attack of attacks) {
  const impl = attacksImpl[attack]
  for (const runtime of runtimes) {
    const server = await startServer(impl.example, runtime)
    // the peak so far is the start-up's: reset it so the peak after is the attack's
    try {
      fs.writeFileSync(`/proc/${server.pid}/clear_refs`, "5")
    } catch {}
    const before = memOf(server.pid)
    let socks = []
    let error
    try {
      socks = await impl.run(server.port)
    } catch (e) {
      error = String(e)
    }
    const after = memOf(server.pid)
    const ok = await alive(impl.example, server.port).catch(() => false)
    for (const s of socks) s.destroy()
    server.child.kill("SIGTERM")
    await sleep(500)
    server.child.kill("SIGKILL")
    const growth = after.hwm - before.rss
    rows.push({ attack, runtime, before: before.rss, peak: after.hwm, growth, ok, error })
    console.log(
      `${attack} ${runtime}: RSS ${before.rss.toFixed(0)} MiB, peak ${after.hwm.toFixed(0)} MiB, growth ${
        growth.toFixed(0)
      } MiB, answers after: ${ok}${error ? `, ${error}` : ""}`
    )
  }
}
console.log("\n| attack | runtime | RSS before (MiB) | peak (MiB) | growth (MiB) | answers after |")
console.log("|---|---|---:|---:|---:|---|")
for (const r of rows) {
  console.log(
    `| ${r.attack} | ${r.runtime} | ${r.before.toFixed(0)} | ${r.peak.toFixed(0)} | **${r.growth.toFixed(0)}** | ${
      r.ok ? "yes" : "NO"
    } |`
  )
}
