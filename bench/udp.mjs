#!/usr/bin/env node
// UDP: wirekit's datagram sockets against the raw runtime APIs. See bench/README.md ("udp").
//
//   node bench/udp.mjs [--runtimes node,bun,deno] [--modes echo,sink] [--runs N]
//                      [--duration S] [--warmup S] [--quick] [--write-readme]
//
// echo: 16 sockets × 32 datagrams of 64 bytes in flight (bench/loadgen/udpgen.c); the server
//       sends each datagram back to its sender. Answered datagrams per second; loss = datagrams
//       not answered within 20 ms / sent.
// sink: 2 sockets send 64-byte datagrams as fast as the kernel takes them; the server counts
//       them. Received datagrams per second (counts asked of the server at the start and end of
//       the measured window) and the loss (what the kernel dropped because the server was slower).
// Servers: bench/servers/raw-{node,bun,deno}-udp.mjs (node:dgram, Bun.udpSocket,
// Deno.listenDatagram) and bench/servers/wirekit-{node,bun,deno}-udp.ts (bench/src/udp.ts on each runtime's
// layer: the same shape, through the public API). Each server pinned to CPU 1 and the load
// generator to CPU 0 when taskset works. Runs interleaved (raw, wirekit, raw, ...), a fresh
// server per run; medians over --runs. Every wait has a deadline; Ctrl-C kills every child.
import { spawnSync } from "node:child_process"
import { ensureBuilt } from "../scripts/runtimes.mjs"
import {
  buildC,
  BUN,
  cpuBusy,
  DENO,
  fmtInt,
  fmtRatio,
  gitInfo,
  LABEL,
  machineInfo,
  median,
  NODE,
  rel,
  startServer,
  stop,
  versionOf,
  withSpread,
  writeReadmeSection
} from "./lib/harness.mjs"

// servers started from TypeScript sources import @wirekit/* from the packages' dist/: build what changed
ensureBuilt()

const UDPGEN = "bench/build/udpgen"
const MARKERS = ["<!-- bench:udp:start -->", "<!-- bench:udp:end -->"]
const LOAD = {
  echo: { sockets: 16, window: 32, size: 64 },
  sink: { sockets: 2, window: 1, size: 64 }
}

function parseArgs(argv) {
  const o = {
    runtimes: ["node", "bun", "deno"],
    modes: ["echo", "sink"],
    runs: 3,
    duration: 2,
    warmup: 1,
    write: false
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => {
      const x = argv[++i]
      if (x === undefined) usage(`missing value for ${a}`)
      return x
    }
    if (a === "--runtimes") o.runtimes = v().split(",")
    else if (a === "--modes") o.modes = v().split(",")
    else if (a === "--runs") o.runs = Number(v())
    else if (a === "--duration") o.duration = Number(v())
    else if (a === "--warmup") o.warmup = Number(v())
    else if (a === "--quick") Object.assign(o, { runs: 1, duration: 1, warmup: 0.3 })
    else if (a === "--write-readme") o.write = true
    else if (a === "--help") usage()
    else usage(`unknown option ${a}`)
  }
  for (const r of o.runtimes) if (!LABEL[r]) usage(`unknown runtime ${r}`)
  for (const m of o.modes) if (!LOAD[m]) usage(`unknown mode ${m}`)
  if (!(o.runs >= 1 && o.duration > 0 && o.warmup >= 0)) usage("bad --runs/--duration/--warmup")
  return o
}

function usage(error) {
  const text = "usage: node bench/udp.mjs [--runtimes node,bun,deno] [--modes echo,sink] [--runs N] " +
    "[--duration S] [--warmup S] [--quick] [--write-readme]"
  if (error) {
    console.error(`${error}\n${text}`)
    process.exit(2)
  }
  console.log(text)
  process.exit(0)
}

const pinWorks = spawnSync("taskset", ["-c", "0,1", "true"], { timeout: 5000 }).status === 0
const pinned = (cpu, cmd, args) => (pinWorks ? ["taskset", ["-c", String(cpu), cmd, ...args]] : [cmd, args])

/** [command, args] of a server: `impl` raw or wirekit, on `rt`, in `mode`. */
function serverCommand(impl, rt, mode) {
  const flags = ["--host", "127.0.0.1", "--port", "0", "--mode", mode]
  if (impl === "raw") {
    const file = rel(`bench/servers/raw-${rt}-udp.mjs`)
    if (rt === "node") return [NODE, [file, ...flags]]
    if (rt === "bun") return [BUN, [file, ...flags]]
    return [DENO, ["run", "-A", "--unstable-net", file, ...flags]]
  }
  const file = rel(`bench/servers/wirekit-${rt}-udp.ts`)
  if (rt === "node") return [NODE, ["--import", "tsx", file, ...flags]]
  if (rt === "bun") return [BUN, [file, ...flags]]
  return [DENO, ["run", "-A", "--unstable-net", file, ...flags]]
}

function runUdpgen(port, mode, opts) {
  const load = LOAD[mode]
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--mode",
    mode,
    "--sockets",
    String(load.sockets),
    "--window",
    String(load.window),
    "--size",
    String(load.size),
    "--duration",
    String(opts.duration),
    "--warmup",
    String(opts.warmup),
    "--json"
  ]
  const [cmd, argv] = pinned(0, rel(UDPGEN), args)
  const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: (opts.duration + opts.warmup + 10) * 1000 })
  if (r.status !== 0) throw new Error(`udpgen failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`)
  return JSON.parse(r.stdout.trim().split("\n").pop())
}

async function oneRun(impl, rt, mode, opts) {
  const [cmd, args] = serverCommand(impl, rt, mode)
  const [pcmd, pargs] = pinned(1, cmd, args)
  const server = await startServer(pcmd, pargs, /LISTENING \d+/, 30_000)
  try {
    const port = Number(/LISTENING (\d+)/.exec(server.output())[1])
    return runUdpgen(port, mode, opts)
  } finally {
    await stop(server.child, 5000)
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  buildC("bench/loadgen/udpgen.c", UDPGEN)
  const busy = await cpuBusy(500)
  console.log(`machine: ${JSON.stringify(machineInfo())}, CPU busy before start: ${busy}%`)
  if (busy != null && busy > 20) console.log("warning: the machine is busy; ratios will be noisy")
  const rows = []
  for (const rt of opts.runtimes) {
    for (const mode of opts.modes) {
      const samples = { raw: [], wirekit: [] }
      for (let run = 0; run < opts.runs; run++) {
        for (const impl of ["raw", "wirekit"]) {
          try {
            const r = await oneRun(impl, rt, mode, opts)
            samples[impl].push(r)
            console.log(
              `${rt} ${mode} ${impl} run ${run + 1}: ${fmtInt(r.rate)} datagrams/s, loss ${(r.loss * 100).toFixed(2)}%`
            )
          } catch (e) {
            console.log(`${rt} ${mode} ${impl} run ${run + 1}: FAILED ${e.message}`)
          }
        }
      }
      const rate = (impl) => samples[impl].map((r) => r.rate)
      const loss = (impl) => median(samples[impl].map((r) => r.loss))
      const [raw, wk] = [median(rate("raw")), median(rate("wirekit"))]
      rows.push({
        rt,
        mode,
        samples,
        ratio: raw && wk ? wk / raw : null,
        loss: { raw: loss("raw"), wirekit: loss("wirekit") }
      })
    }
  }
  const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(1)}%`)
  const lines = [
    `One run of \`node bench/udp.mjs\` (${opts.runs} runs per cell, medians ± half the range; ` +
    `${opts.duration} s measured after ${opts.warmup} s warm-up). Machine: ${machineInfo().nproc} cores, ` +
    `${machineInfo().cpu}; Node ${process.versions.node}, Bun ${versionOf(BUN)}, Deno ${versionOf(DENO)}; ` +
    `commit ${gitInfo()?.commit ?? "?"}. Server on CPU 1, load generator on CPU 0${pinWorks ? "" : " (not pinned)"}.`,
    "",
    "| runtime | workload | raw datagrams/s | wirekit datagrams/s | wirekit / raw | loss raw | loss wirekit |",
    "|---|---|---:|---:|---:|---:|---:|"
  ]
  for (const r of rows) {
    const load = LOAD[r.mode]
    const shape = r.mode === "echo" ? `echo ${load.sockets}×${load.window}×${load.size} B` : `sink ${load.size} B`
    lines.push(
      `| ${LABEL[r.rt]} | ${shape} | ${withSpread(r.samples.raw.map((s) => s.rate), fmtInt)} | ` +
        `${withSpread(r.samples.wirekit.map((s) => s.rate), fmtInt)} | ${fmtRatio(r.ratio)} | ${pct(r.loss.raw)} | ` +
        `${pct(r.loss.wirekit)} |`
    )
  }
  const block = lines.join("\n")
  console.log("\n" + block)
  if (opts.write) writeReadmeSection(MARKERS, block)
}

await main()
