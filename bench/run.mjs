#!/usr/bin/env node
// wirekit bench runner. See bench/README.md.
//
//   node bench/run.mjs [--suite echo,framed,resp,typed,stream,echo-tls,framed-tls,handshake] [--runs N] [--duration S] [--warmup S]
//                      [--cells a,b] [--servers x,y] [--items N] [--quick] [--stand-in]
//                      [--write-readme] [--wait-idle]
//
// Builds the C programs into bench/build/, then, suite by suite, for every cell runs
// each selected server in turn, interleaved run by run (A, B, C, A, B, C, ...): start
// the server pinned to CPU 1, wait until it is ready, run the load (the C load
// generator, redis-benchmark for the resp suite, or the server's own client for the
// stream suite) pinned to CPU 0, stop the server.
// Medians per cell and server, ratios against each server's baseline (the raw server
// of the same runtime, or redis-server) and the suite's reference (c-epoll,
// redis-server); bench/results/latest.json; one markdown table per suite.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import fs from "node:fs"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { ensureBuilt } from "../scripts/runtimes.mjs"
import { cpuBusy, fmtRatio, gitInfo, live, median, sleep, tail, waitExit } from "./lib/harness.mjs"
import { makeCerts, removeCerts } from "./servers/lib/certs.mjs"

// servers started from TypeScript sources import @wirekit/* from the packages' dist/: build what changed
ensureBuilt()

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const rel = (p) => path.join(ROOT, p)

// ---------------------------------------------------------------------------
// Data: native programs, runtimes, servers, suites. Extend here.
// ---------------------------------------------------------------------------

/**
 * C programs built with `cc -O2` before every run (skipped when up to date). `tls`: flags and
 * libraries of the build with TLS (the TLS suites need it); where they do not build (no
 * libssl-dev), the program is built without them and the TLS suites are skipped.
 */
const NATIVE = [
  {
    name: "loadgen",
    src: "bench/loadgen/loadgen.c",
    out: "bench/build/loadgen",
    libs: ["-lm"],
    tls: { flags: ["-DLOADGEN_TLS"], libs: ["-lssl", "-lcrypto"] }
  },
  { name: "c-echo", src: "bench/servers/c-echo.c", out: "bench/build/c-echo", libs: [] }
]

const NODE = process.execPath
const BUN = "node_modules/.bin/bun"
const DENO = "node_modules/.bin/deno"

/**
 * Runtimes, in table order. `version`: [cmd, args] printing a version (first line is
 * kept); `label` is what the tables call it.
 */
const RUNTIMES = {
  node: { label: "Node", version: null },
  bun: { label: "Bun", version: [BUN, ["--version"]] },
  deno: { label: "Deno", version: [DENO, ["--version"]] },
  c: { label: "C", version: null }
}

/**
 * Servers.
 * - `args` placeholders: {mode} (the cell's server mode: echo|sink), {host}, {port}
 *   (0, the server picks and reports it, unless `port: "free"`: the runner picks a
 *   free port and passes it), {tlsCert}, {tlsKey} (PEM files made for this bench run,
 *   in the suites with `tls`).
 * - `ready`: how the server says it is ready: a regex on its stdout/stderr whose first
 *   group is the port (default `LISTENING <port>`), or `port: "free"` + a regex
 *   without group.
 * - `runtime` / `role`: raw (baseline of its runtime) | wirekit | reference | other
 *   (another framework measured against the same baseline: @effect/rpc in `typed`).
 * - `baseline`: the server its ratio is computed against (same runtime, same suite).
 * - `requires`: a file that must exist (else skipped, or the baseline's command runs
 *   in its place with --stand-in); `needs`: commands that must exist (else skipped).
 * - `optIn`: only run when named by --servers. `defaultCells`: without --servers,
 *   only these cells (c-epoll is the near-limit reference at 64/64/16 only).
 * - `startS`: rough start-up time, for the time estimate only.
 * - `loadMode`: the load generator's --mode for this server, instead of the cell's
 *   (the @effect/rpc servers of the typed suite speak another wire format).
 * - `client`: [cmd, args] of the server's own client (suites with driver "client");
 *   placeholders {host}, {port} (the server's), {items}, {warmup}.
 */
const loadgenArgs = ["--port", "{port}", "--host", "{host}", "--mode", "{mode}"]
const SERVERS = [
  // --- echo: byte echo / sink ---
  {
    name: "raw-node",
    runtime: "node",
    role: "raw",
    baseline: "raw-node",
    suites: ["echo"],
    startS: 0.2,
    cmd: NODE,
    args: ["bench/servers/raw-node-echo.mjs", ...loadgenArgs]
  },
  {
    name: "wirekit-node",
    runtime: "node",
    role: "wirekit",
    baseline: "raw-node",
    suites: ["echo"],
    startS: 3,
    cmd: NODE,
    args: ["--import", "tsx", "bench/servers/wirekit-node-echo.ts", ...loadgenArgs],
    requires: "bench/servers/wirekit-node-echo.ts"
  },
  {
    name: "raw-bun",
    runtime: "bun",
    role: "raw",
    baseline: "raw-bun",
    suites: ["echo"],
    startS: 0.2,
    needs: [BUN],
    cmd: BUN,
    args: ["run", "bench/servers/raw-bun-echo.mjs", ...loadgenArgs]
  },
  {
    name: "wirekit-bun",
    runtime: "bun",
    role: "wirekit",
    baseline: "raw-bun",
    suites: ["echo"],
    startS: 0.6,
    needs: [BUN],
    cmd: BUN,
    args: ["run", "bench/servers/wirekit-bun-echo.ts", ...loadgenArgs],
    requires: "bench/servers/wirekit-bun-echo.ts"
  },
  {
    name: "raw-deno",
    runtime: "deno",
    role: "raw",
    baseline: "raw-deno",
    suites: ["echo"],
    startS: 0.2,
    needs: [DENO],
    cmd: DENO,
    args: ["run", "--allow-net", "bench/servers/raw-deno-echo.mjs", ...loadgenArgs]
  },
  {
    name: "wirekit-deno",
    runtime: "deno",
    role: "wirekit",
    baseline: "raw-deno",
    suites: ["echo"],
    startS: 0.5,
    needs: [DENO],
    cmd: DENO,
    args: ["run", "-A", "bench/servers/wirekit-deno-echo.ts", ...loadgenArgs],
    requires: "bench/servers/wirekit-deno-echo.ts"
  },
  {
    // byte echo: also a correct (if frame-unaware) server for the framed suite's frames
    name: "c-epoll",
    runtime: "c",
    role: "reference",
    suites: ["echo", "framed"],
    defaultCells: ["64/64/16"],
    startS: 0.1,
    cmd: "bench/build/c-echo",
    args: loadgenArgs
  },
  // --- framed: LengthField(4) decode → handler → encode ---
  {
    name: "raw-node-framed",
    runtime: "node",
    role: "raw",
    baseline: "raw-node-framed",
    suites: ["framed", "protocol"],
    startS: 0.2,
    cmd: NODE,
    args: ["bench/servers/raw-node-framed.mjs", ...loadgenArgs]
  },
  {
    name: "wirekit-node-framed",
    runtime: "node",
    role: "wirekit",
    baseline: "raw-node-framed",
    suites: ["framed"],
    startS: 3,
    cmd: NODE,
    args: ["--import", "tsx", "bench/servers/wirekit-node-echo.ts", ...loadgenArgs, "--framing", "length4"],
    requires: "bench/servers/wirekit-node-echo.ts"
  },
  {
    name: "raw-bun-framed",
    runtime: "bun",
    role: "raw",
    baseline: "raw-bun-framed",
    suites: ["framed"],
    startS: 0.2,
    needs: [BUN],
    cmd: BUN,
    args: ["run", "bench/servers/raw-bun-echo.mjs", ...loadgenArgs, "--framed"]
  },
  {
    name: "wirekit-bun-framed",
    runtime: "bun",
    role: "wirekit",
    baseline: "raw-bun-framed",
    suites: ["framed"],
    startS: 0.6,
    needs: [BUN],
    cmd: BUN,
    args: ["run", "bench/servers/wirekit-bun-echo.ts", ...loadgenArgs, "--framing", "length4"],
    requires: "bench/servers/wirekit-bun-echo.ts"
  },
  {
    name: "raw-deno-framed",
    runtime: "deno",
    role: "raw",
    baseline: "raw-deno-framed",
    suites: ["framed"],
    startS: 0.2,
    needs: [DENO],
    cmd: DENO,
    args: ["run", "--allow-net", "bench/servers/raw-deno-echo.mjs", ...loadgenArgs, "--framed"]
  },
  {
    name: "wirekit-deno-framed",
    runtime: "deno",
    role: "wirekit",
    baseline: "raw-deno-framed",
    suites: ["framed"],
    startS: 0.5,
    needs: [DENO],
    cmd: DENO,
    args: ["run", "-A", "bench/servers/wirekit-deno-echo.ts", ...loadgenArgs, "--framing", "length4"],
    requires: "bench/servers/wirekit-deno-echo.ts"
  },
  // --- protocol: a typed request/response echo protocol (ProtocolServer, in order) vs the batched raw framed server ---
  {
    name: "wirekit-node-protocol",
    runtime: "node",
    role: "wirekit",
    baseline: "raw-node-framed",
    suites: ["protocol"],
    startS: 3,
    cmd: NODE,
    args: ["--import", "tsx", "bench/servers/wirekit-node-echo.ts", ...loadgenArgs, "--framing", "proto"],
    requires: "bench/servers/wirekit-node-echo.ts"
  },
  {
    name: "wirekit-node-protocol-gen",
    runtime: "node",
    role: "wirekit",
    baseline: "raw-node-framed",
    suites: ["protocol"],
    startS: 3,
    cmd: NODE,
    args: ["--import", "tsx", "bench/servers/wirekit-node-echo.ts", ...loadgenArgs, "--framing", "proto-gen"],
    requires: "bench/servers/wirekit-node-echo.ts"
  },
  // --- typed: a Schema-typed kv service (bench/src/kv*.ts) vs a raw server of the same wire format ---
  ...["node", "bun", "deno"].flatMap((rt) => {
    const kvArgs = ["--port", "{port}", "--host", "{host}"]
    const run = {
      node: {
        cmd: NODE,
        raw: ["bench/servers/raw-node-framed.mjs", ...kvArgs, "--mode", "echo", "--kv"],
        ts: ["--import", "tsx"],
        startS: 3
      },
      bun: {
        cmd: BUN,
        raw: ["run", "bench/servers/raw-bun-echo.mjs", ...kvArgs, "--mode", "echo", "--framed", "--kv"],
        ts: ["run"],
        startS: 0.6
      },
      deno: {
        cmd: DENO,
        raw: ["run", "--allow-net", "bench/servers/raw-deno-echo.mjs", ...kvArgs, "--mode", "echo", "--framed", "--kv"],
        ts: ["run", "-A"],
        startS: 0.5
      }
    }[rt]
    const needs = rt === "node" ? [] : [run.cmd]
    const entry = `bench/servers/wirekit-${rt}-kv.ts`
    return [
      {
        name: `raw-${rt}-kv`,
        runtime: rt,
        role: "raw",
        baseline: `raw-${rt}-kv`,
        suites: ["typed"],
        startS: 0.2,
        needs,
        cmd: run.cmd,
        args: run.raw
      },
      ...["gen", "mw", "rpc", "rpc-mw"].map((variant) => ({
        name: `wirekit-${rt}-typed-${variant}`,
        runtime: rt,
        role: "wirekit",
        baseline: `raw-${rt}-kv`,
        suites: ["typed"],
        startS: run.startS,
        needs,
        cmd: run.cmd,
        args: [...run.ts, entry, ...kvArgs, "--variant", variant],
        requires: entry
      }))
    ]
  }),
  ...["node", "bun"].flatMap((rt) => {
    const entry = `bench/servers/effect-rpc-${rt}-kv.ts`
    const [cmd, pre, needs, startS] = rt === "node" ? [NODE, ["--import", "tsx"], [], 3.5] : [BUN, ["run"], [BUN], 0.8]
    return ["gen", "mw"].map((variant) => ({
      name: `effect-rpc-${rt}-kv${variant === "mw" ? "-mw" : ""}`,
      runtime: rt,
      role: "other",
      baseline: `raw-${rt}-kv`,
      suites: ["typed"],
      startS,
      needs,
      loadMode: "rpc-kv",
      cmd,
      args: [...pre, entry, "--port", "{port}", "--host", "{host}", "--variant", variant],
      requires: entry
    }))
  }),
  // --- stream: one request answered with a stream of items, read by the framework's own client ---
  ...[
    ["wirekit", "node", NODE, ["--import", "tsx"], 3, "effect-rpc-node-stream"],
    ["wirekit", "bun", BUN, ["run"], 0.6, "effect-rpc-bun-stream"],
    ["wirekit", "deno", DENO, ["run", "-A"], 0.5, null],
    ["effect-rpc", "node", NODE, ["--import", "tsx"], 3.5, "effect-rpc-node-stream"],
    ["effect-rpc", "bun", BUN, ["run"], 0.8, "effect-rpc-bun-stream"]
  ].map(([fw, rt, cmd, pre, startS, baseline]) => {
    const entry = `bench/servers/${fw}-${rt}-stream.ts`
    const to = ["--host", "{host}", "--port", "{port}"]
    return {
      name: `${fw}-${rt}-stream`,
      runtime: rt,
      role: fw === "wirekit" ? "wirekit" : "other",
      baseline,
      suites: ["stream"],
      startS,
      needs: rt === "node" ? [] : [cmd],
      requires: entry,
      cmd,
      args: [...pre, entry, "--role", "server", ...to],
      client: [cmd, [...pre, entry, "--role", "client", ...to, "--items", "{items}", "--warmup-items", "{warmup}"]]
    }
  }),
  // --- resp: the real redis-server (the reference) and, per runtime, a hand-written RESP server on
  //     the runtime's socket API (the baseline: servers/raw-<rt>-resp.mjs + servers/lib/resp.mjs)
  //     vs the wirekit RESP example ---
  {
    name: "redis-server",
    runtime: "c",
    role: "reference",
    baseline: "redis-server",
    suites: ["resp"],
    startS: 0.2,
    needs: ["redis-server"],
    port: "free",
    ready: /Ready to accept connections/,
    cmd: "redis-server",
    args: ["--port", "{port}", "--bind", "{host}", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
  },
  {
    name: "raw-node-resp",
    runtime: "node",
    role: "raw",
    baseline: "raw-node-resp",
    suites: ["resp"],
    startS: 0.2,
    cmd: NODE,
    args: ["bench/servers/raw-node-resp.mjs", "--port", "{port}", "--host", "{host}"]
  },
  {
    name: "wirekit-resp-node",
    runtime: "node",
    role: "wirekit",
    baseline: "raw-node-resp",
    suites: ["resp"],
    startS: 3.5,
    cmd: NODE,
    args: ["--import", "tsx", "examples/resp/src/main.ts", "--port", "0", "--host", "{host}"],
    requires: "examples/resp/src/main.ts",
    ready: /RESP server listening on [^\s;]*:(\d+)/
  },
  {
    name: "raw-bun-resp",
    runtime: "bun",
    role: "raw",
    baseline: "raw-bun-resp",
    suites: ["resp"],
    startS: 0.2,
    needs: [BUN],
    cmd: BUN,
    args: ["run", "bench/servers/raw-bun-resp.mjs", "--port", "{port}", "--host", "{host}"]
  },
  {
    name: "wirekit-resp-bun",
    runtime: "bun",
    role: "wirekit",
    baseline: "raw-bun-resp",
    suites: ["resp"],
    startS: 0.7,
    needs: [BUN],
    cmd: BUN,
    args: ["run", "examples/resp/src/main.bun.ts", "--port", "0", "--host", "{host}"],
    requires: "examples/resp/src/main.bun.ts",
    ready: /RESP server listening on [^\s;]*:(\d+)/
  },
  {
    name: "raw-deno-resp",
    runtime: "deno",
    role: "raw",
    baseline: "raw-deno-resp",
    suites: ["resp"],
    startS: 0.2,
    needs: [DENO],
    cmd: DENO,
    args: ["run", "--allow-net", "bench/servers/raw-deno-resp.mjs", "--port", "{port}", "--host", "{host}"]
  },
  {
    name: "wirekit-resp-deno",
    runtime: "deno",
    role: "wirekit",
    baseline: "raw-deno-resp",
    suites: ["resp"],
    startS: 0.5,
    needs: [DENO],
    cmd: DENO,
    args: ["run", "-A", "examples/resp/src/main.deno.ts", "--port", "0", "--host", "{host}"],
    requires: "examples/resp/src/main.deno.ts",
    ready: /RESP server listening on [^\s;]*:(\d+)/
  }
]

/**
 * echo-tls, framed-tls, handshake: every echo and framed row above (not c-epoll) over TLS,
 * as `<name>-tls`: the same command plus the certificate flags, its baseline the raw row's
 * `-tls` twin. The byte-echo rows serve the handshake suite too (one request per connection).
 */
const TLS_FLAGS = ["--tls-cert", "{tlsCert}", "--tls-key", "{tlsKey}"]
for (const plain of SERVERS.filter((s) => s.runtime !== "c" && s.suites.some((x) => x === "echo" || x === "framed"))) {
  const framed = plain.suites.includes("framed")
  SERVERS.push({
    ...plain,
    name: `${plain.name}-tls`,
    baseline: `${plain.baseline}-tls`,
    suites: framed ? ["framed-tls"] : ["echo-tls", "handshake"],
    // the raw Deno servers run with --allow-net only; the certificate files need --allow-read
    args: [...plain.args.flatMap((a) => (a === "--allow-net" ? [a, "--allow-read"] : [a])), ...TLS_FLAGS]
  })
}

/**
 * Suites. `driver`: "loadgen" (cells = loadgen settings + the server mode the cell
 * needs) or "redis-benchmark" (cells = pipeline depth + request counts).
 * `reference`: the server a second ratio column is computed against, where it ran.
 * A cell with `optIn` only runs when named by --cells; a suite with `optIn` only
 * when named by --suite. `table: "servers"`: one table line per server (the
 * default table pairs one raw and one wirekit server per runtime). `tls`: the
 * suite's servers speak TLS with certificates made for the run (`openssl`);
 * `unit`: what the loadgen's rate counts, in the table header.
 */
/** The request/response cells every loadgen suite shares (conns/size/pipeline). */
const ECHO_CELLS = [
  { id: "1/64/1", load: { mode: "echo", conns: 1, size: 64, pipeline: 1 }, server: { mode: "echo" } },
  { id: "64/64/16", load: { mode: "echo", conns: 64, size: 64, pipeline: 16 }, server: { mode: "echo" } },
  { id: "64/4096/16", load: { mode: "echo", conns: 64, size: 4096, pipeline: 16 }, server: { mode: "echo" } }
]
/**
 * The same cells over TLS: the loadgen completes every connection's handshake before the clock
 * starts (verifying the server's chain against the run's CA), so they measure the TLS data path.
 */
const TLS_CELLS = ECHO_CELLS.map((c) => ({ ...c, load: { ...c.load, tls: true, verify: true } }))
/**
 * Handshakes per second: 16 connection slots, each runs one 64-byte echo request on a fresh
 * connection (connect, full TLS handshake, request, reply checked, close_notify, the server's
 * close) and starts the next. The chain is not verified here: that is client-side work only
 * (the server's is the same), and the client's core is the scarce one in this cell.
 */
const HANDSHAKE_CELL = {
  id: "16/64/new",
  label: "16 × new conn per request",
  load: { mode: "echo", conns: 16, size: 64, pipeline: 1, tls: true, handshake: true },
  server: { mode: "echo" }
}
/** One-way throughput: 16 connections streaming 64 KiB frames into a sink. */
const ONEWAY_CELL = {
  id: "oneway",
  label: "oneway 16×64KiB",
  load: { mode: "oneway", conns: 16, size: 65536, pipeline: 1 },
  server: { mode: "sink" }
}

const SUITES = {
  echo: {
    title: "echo: raw byte echo (the server does no framing)",
    driver: "loadgen",
    reference: "c-epoll",
    cells: [...ECHO_CELLS, ONEWAY_CELL]
  },
  framed: {
    title: "framed: 4-byte length-prefixed frames decoded, handed to a handler (echo), re-encoded; one write per read",
    driver: "loadgen",
    reference: "c-epoll",
    cells: [...ECHO_CELLS, { ...ONEWAY_CELL, optIn: true }]
  },
  protocol: {
    title:
      "protocol: a typed request/response protocol (ProtocolServer, LengthField(4), in order) echoing each request; `-gen` = a typical Effect.gen handler",
    driver: "loadgen",
    reference: "c-epoll",
    cells: ECHO_CELLS.slice(0, 2)
  },
  typed: {
    title:
      "typed: a Schema-typed kv service (Get/Put, typed error TooLong) on ProtocolServer (Effect.gen handlers, ± middleware) and @effect/rpc vs a raw server of the same wire format",
    driver: "loadgen",
    table: "servers",
    optIn: true, // ~6 min with 3 runs: not part of the default run
    cells: [
      { id: "1x1", label: "1×1", load: { mode: "kv", conns: 1, size: 0, pipeline: 1 }, server: { mode: "echo" } },
      { id: "64x16", label: "64×16", load: { mode: "kv", conns: 64, size: 0, pipeline: 16 }, server: { mode: "echo" } }
    ]
  },
  stream: {
    title:
      "stream: one request answered with a stream of the integers 1..N, read and checked item by item by the framework's own client, wirekit vs @effect/rpc",
    driver: "client",
    table: "stream",
    reference: "effect-rpc-node-stream",
    optIn: true,
    // items of the measured stream; `warmup`: an unmeasured stream of that many items first,
    // on the same connection. --quick multiplies both by 0.25, --items N sets N (warmup N/10).
    cells: [{ id: "1e6", label: "10⁶ items", items: 1_000_000, warmup: 100_000 }]
  },
  "echo-tls": {
    title:
      "echo-tls: the echo suite's byte echo over TLS (certificates made per run), raw TLS server vs wirekit per runtime",
    driver: "loadgen",
    tls: true,
    optIn: true,
    cells: TLS_CELLS
  },
  "framed-tls": {
    title: "framed-tls: the framed suite's length-prefixed echo over TLS, raw TLS server vs wirekit per runtime",
    driver: "loadgen",
    tls: true,
    optIn: true,
    cells: TLS_CELLS
  },
  handshake: {
    title:
      "handshake: full TLS handshakes per second, one echo request per new connection, raw TLS server vs wirekit per runtime",
    driver: "loadgen",
    tls: true,
    optIn: true,
    unit: "handshakes/s",
    cells: [HANDSHAKE_CELL]
  },
  resp: {
    title:
      "resp: redis-benchmark -c 50 -t set,get against redis-server, a raw RESP server per runtime and the wirekit RESP example",
    driver: "redis-benchmark",
    reference: "redis-server",
    clients: 50,
    tests: ["set", "get"],
    // requests per test; `warmup`: an unmeasured run of that many requests first.
    // --quick divides by 4. Sized for ~1-2 s per test against redis-server here.
    cells: [
      { id: "P1", label: "-P 1", pipeline: 1, requests: 60_000, warmup: 10_000 },
      { id: "P16", label: "-P 16", pipeline: 16, requests: 600_000, warmup: 100_000 }
    ]
  }
}

const HOST = "127.0.0.1"
const READY_TIMEOUT_MS = 15_000
const KILL_GRACE_MS = 2_000
const BUILD_TIMEOUT_MS = 60_000
const PROBE_TIMEOUT_MS = 3_000
/** Hard bound of one redis-benchmark invocation (it is count-bounded; this catches a stall). */
const REDIS_BENCHMARK_TIMEOUT_MS = 60_000
/** Hard bound of one stream-suite client process (start-up, warmup stream, measured stream). */
const STREAM_CLIENT_TIMEOUT_MS = 60_000
/** For the time estimate only. */
const STREAM_EST_ITEMS_PER_S = 300_000
const README = "bench/README.md"
const markers = (suite) => [`<!-- bench:${suite}:start -->`, `<!-- bench:${suite}:end -->`]
const BUDGET_S = 12 * 60
const PRESSURE_FLAG_PCT = 30 // CPU pressure during a run above this = other load disturbed it
/** A TLS run whose loadgen used more of its core than this may be measuring the client, not the server. */
const LOADGEN_BUSY_PCT = 90
const IDLE_BUSY_PCT = 15
const WAIT_IDLE_MAX_MS = 30_000
const CHILD_ENV = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" }

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function usage(code) {
  const lines = [
    "usage: node bench/run.mjs [options]",
    "  --suite a,b         suites to run, in order (default: " +
    Object.keys(SUITES).filter((n) => !SUITES[n].optIn).join(",") +
    "; opt-in: " + Object.keys(SUITES).filter((n) => SUITES[n].optIn).join(",") + ")",
    "  --runs N            runs per cell per server (default 3; --quick 1)",
    "  --duration S        loadgen: measured seconds per run (default 2; --quick 1)",
    "  --warmup S          loadgen: warmup seconds per run (default 1; --quick 0.3)",
    "  --cells a,b         cell ids (default: all non-opt-in cells of each suite), e.g. 64/64/16,oneway,P16,16/64/new",
    "  --servers x,y       servers (default: all non-opt-in servers of each suite); names: " +
    SERVERS.map((s) => s.name).join(", "),
    "  --items N           stream suite: items of the measured stream (default 1000000; warmup stream N/10)",
    "  --quick             smoke run: 1 run, loadgen 1 s (+0.3 s warmup), redis-benchmark requests and stream items / 4; same as BENCH_QUICK=1",
    "  --stand-in          run the baseline's command in place of servers whose file is missing",
    "  --write-readme      replace each suite's table between its markers in bench/README.md",
    "  --wait-idle         before each run wait (max 30 s) until the machine is <15% busy (unbounded total time!)",
    "  --list              print what would run (suites, cells, servers, estimate) and exit",
    "  --help"
  ]
  ;(code ? process.stderr : process.stdout).write(lines.join("\n") + "\n")
  process.exit(code)
}

function parseArgs(argv) {
  const o = {
    suites: Object.keys(SUITES).filter((n) => !SUITES[n].optIn),
    runs: undefined,
    duration: undefined,
    warmup: undefined,
    cells: undefined,
    servers: undefined,
    items: undefined,
    quick: process.env.BENCH_QUICK === "1",
    standIn: false,
    writeReadme: false,
    waitIdle: false,
    list: false
  }
  const num = (k, v, min) => {
    const n = Number(v)
    if (!Number.isFinite(n) || n < min) {
      console.error(`bad value for ${k}: ${v}`)
      usage(2)
    }
    return n
  }
  const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) {
        console.error(`missing value for ${a}`)
        usage(2)
      }
      return argv[++i]
    }
    switch (a) {
      case "--suite":
      case "--suites":
        o.suites = list(val())
        break
      case "--runs":
        o.runs = Math.floor(num(a, val(), 1))
        break
      case "--duration":
        o.duration = num(a, val(), 0.5)
        break
      case "--warmup":
        o.warmup = num(a, val(), 0)
        break
      case "--cells":
        o.cells = list(val())
        break
      case "--servers":
        o.servers = list(val())
        break
      case "--items":
        o.items = Math.floor(num(a, val(), 1))
        break
      case "--quick":
        o.quick = true
        break
      case "--stand-in":
        o.standIn = true
        break
      case "--write-readme":
        o.writeReadme = true
        break
      case "--wait-idle":
        o.waitIdle = true
        break
      case "--list":
        o.list = true
        break
      case "--help":
      case "-h":
        usage(0)
        break
      default:
        console.error(`unknown option ${a}`)
        usage(2)
    }
  }
  const unknown = o.suites.filter((s) => !SUITES[s])
  if (unknown.length || o.suites.length === 0) {
    console.error(`unknown suite(s): ${unknown.join(", ")}`)
    usage(2)
  }
  o.runs ??= o.quick ? 1 : 3
  o.duration ??= o.quick ? 1 : 2
  o.warmup ??= o.quick ? 0.3 : 1
  o.requestScale = o.quick ? 0.25 : 1
  return o
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const fmtInt = (n) => Math.round(n).toLocaleString("en-US")
const fmtUs = (n) => (n == null ? "–" : n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1))
const fmtMs = (n) => (n == null ? "–" : n >= 10 ? n.toFixed(1) : n.toFixed(3))
const isDisturbed = (r) => r.cpuPressurePct != null && r.cpuPressurePct > PRESSURE_FLAG_PCT

/** Live child processes, killed if the runner itself is interrupted (the harness's signal handlers). */
function track(child) {
  live.add(child)
  child.once("exit", () => live.delete(child))
  return child
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGTERM")
  if (await waitExit(child, KILL_GRACE_MS)) return
  child.kill("SIGKILL")
  await waitExit(child, KILL_GRACE_MS)
}

function machineInfo() {
  let cpu = "unknown"
  try {
    const m = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m)
    if (m) cpu = m[1].trim()
  } catch {}
  const nproc = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length
  return { nproc, cpu, node: process.version, kernel: `${os.type()} ${os.release()}`, arch: process.arch }
}

/** The version number in the first line of `cmd args` (or that line), or null. */
function versionOf(cmd, args) {
  const r = spawnSync(cmd.includes("/") ? rel(cmd) : cmd, args, {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 10_000,
    env: CHILD_ENV
  })
  if (r.error || r.status !== 0) return null
  const line = r.stdout.trim().split("\n")[0].trim()
  return line.match(/\d+\.\d+\.\d+\S*/)?.[0] ?? line
}

/** Is `cmd` runnable (a repo-relative path that exists, or a name on PATH)? */
function commandExists(cmd) {
  if (cmd.includes("/")) return fs.existsSync(path.isAbsolute(cmd) ? cmd : rel(cmd))
  return (process.env.PATH ?? "").split(":").some((d) => d && fs.existsSync(path.join(d, cmd)))
}

function cpuPressureTotalUs() {
  try {
    const m = fs.readFileSync("/proc/pressure/cpu", "utf8").match(/^some .*total=(\d+)/m)
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** Measures CPU pressure (% of wall time some task waited for a CPU) around `fn`. */
async function withPressure(fn) {
  const psi0 = cpuPressureTotalUs(), w0 = Date.now()
  const value = await fn()
  const psi1 = cpuPressureTotalUs(), w1 = Date.now()
  const cpuPressurePct = psi0 != null && psi1 != null && w1 > w0 ? Math.round((psi1 - psi0) / 10 / (w1 - w0)) : null
  return { value, cpuPressurePct }
}

/** With --wait-idle: wait (bounded) until the machine is quiet before a run. */
async function waitIdle(maxMs) {
  const deadline = Date.now() + maxMs
  let busy = await cpuBusy(500)
  while (busy != null && busy > IDLE_BUSY_PCT && Date.now() < deadline) busy = await cpuBusy(1000)
  return busy
}

function pinningAvailable(nproc) {
  if (nproc < 2) return { ok: false, why: `only ${nproc} CPU(s)` }
  const r = spawnSync("taskset", ["-c", "0,1", "true"], { timeout: 5000 })
  if (r.error) return { ok: false, why: "taskset not found" }
  if (r.status !== 0) return { ok: false, why: `taskset failed: ${String(r.stderr).trim()}` }
  return { ok: true }
}

/** Native programs built with TLS (by name); see NATIVE's `tls`. */
const builtWithTls = new Set()

/** Builds `p` with extra flags and libraries unless it is up to date; returns null or the compiler's error. */
function buildOne(p, flags, libs) {
  const src = rel(p.src), out = rel(p.out), stamp = `${out}.stamp`
  const args = ["-O2", "-Wall", ...flags, "-o", out, src, ...libs]
  const shown = args.map((a) => (path.isAbsolute(a) ? path.relative(ROOT, a) : a))
  // rebuild unless the binary was built from exactly this source with these flags
  const key = createHash("sha256").update(fs.readFileSync(src)).update(JSON.stringify(shown)).digest("hex")
  if (fs.existsSync(out) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === key) return null
  console.log(`build: cc ${shown.join(" ")}`)
  const r = spawnSync("cc", args, { cwd: ROOT, encoding: "utf8", timeout: BUILD_TIMEOUT_MS })
  if (r.error || r.status !== 0) return r.error ? r.error.message : r.stderr
  if (r.stderr.trim()) console.error(r.stderr.trim())
  fs.writeFileSync(stamp, key)
  return null
}

function build() {
  fs.mkdirSync(rel("bench/build"), { recursive: true })
  for (const p of NATIVE) {
    if (p.tls) {
      const error = buildOne(p, p.tls.flags, [...p.libs, ...p.tls.libs])
      if (error === null) {
        builtWithTls.add(p.name)
        continue
      }
      console.warn(
        `warning: ${p.name} does not build with TLS (libssl-dev missing?), building it without; the TLS suites will be skipped:\n  ${
          tail(error.trim(), 400).replace(/\n/g, "\n  ")
        }`
      )
    }
    const error = buildOne(p, [], p.libs)
    if (error !== null) {
      console.error(`build of ${p.name} failed: ${error}`)
      process.exit(1)
    }
  }
}

/** A port that was free a moment ago (for servers that cannot take --port 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, HOST, () => {
      const port = s.address().port
      s.close(() => resolve(port))
    })
  })
}

// ---------------------------------------------------------------------------
// Servers: start, wait until ready, stop.
// ---------------------------------------------------------------------------

function expand(args, vars) {
  return args.map((a) => a.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)))
}

/** The TLS suites' certificates (`makeCerts()`: { dir, ca, cert, key }), made once per bench run. */
let tlsCerts = null

async function startServer(server, mode, pin) {
  const cmd = server.cmd.includes("/") && !path.isAbsolute(server.cmd) ? rel(server.cmd) : server.cmd
  const port = server.port === "free" ? await freePort() : 0
  const args = expand(server.args, {
    mode,
    host: HOST,
    port,
    ...(tlsCerts ? { tlsCert: tlsCerts.cert, tlsKey: tlsCerts.key } : {})
  })
  const [file, argv] = pin ? ["taskset", ["-c", "1", cmd, ...args]] : [cmd, args]
  const child = track(spawn(file, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: CHILD_ENV }))
  let stderr = ""
  const pattern = server.ready ?? /^LISTENING (\d+)\s*$/m
  const ready = new Promise((resolve) => {
    let buf = ""
    let done = false
    const finish = (v) => {
      if (!done) {
        done = true
        clearTimeout(timer)
        resolve(v)
      }
    }
    const timer = setTimeout(
      () => finish({ error: `not ready within ${READY_TIMEOUT_MS / 1000}s (waiting for ${pattern})` }),
      READY_TIMEOUT_MS
    )
    const onText = (d) => {
      if (done) return // keep draining
      buf += d
      const m = buf.match(pattern)
      if (m) finish({ port: m[1] !== undefined ? Number(m[1]) : port })
      else if (buf.length > 64 * 1024) buf = buf.slice(-4096)
    }
    child.stdout.setEncoding("utf8").on("data", onText)
    child.stderr.setEncoding("utf8").on("data", (d) => {
      stderr = tail(stderr + d, 4000)
      onText(d)
    })
    child.once("error", (e) => finish({ error: `spawn failed: ${e.message}` }))
    child.once(
      "exit",
      (code, sig) => finish({ error: `server exited before it was ready (code ${code}, signal ${sig})` })
    )
  })
  return { child, ready, stderr: () => stderr, def: server }
}

// ---------------------------------------------------------------------------
// Driver 1: the C load generator (suites echo, framed, protocol, typed, echo-tls, framed-tls, handshake)
// ---------------------------------------------------------------------------

function runLoadgen(cell, port, opts, pin, server) {
  const l = { ...cell.load, mode: server?.loadMode ?? cell.load.mode }
  const args = [
    "--host",
    HOST,
    "--port",
    String(port),
    "--conns",
    String(l.conns),
    "--size",
    String(l.size),
    "--pipeline",
    String(l.pipeline),
    "--duration",
    String(opts.duration),
    "--warmup",
    String(opts.warmup),
    "--mode",
    l.mode,
    "--json"
  ]
  if (l.tls) args.push("--tls", ...(l.verify ? ["--tls-ca", tlsCerts.ca] : []), ...(l.handshake ? ["--handshake"] : []))
  const bin = rel("bench/build/loadgen")
  const [file, argv] = pin ? ["taskset", ["-c", "0", bin, ...args]] : [bin, args]
  const timeoutMs = (opts.duration + opts.warmup + 10) * 1000
  return new Promise((resolve) => {
    const child = track(spawn(file, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }))
    let out = "", err = ""
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d
    })
    child.stderr.setEncoding("utf8").on("data", (d) => {
      err = tail(err + d, 4000)
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("error", (e) => {
      clearTimeout(timer)
      resolve({ code: -1, error: `loadgen spawn failed: ${e.message}` })
    })
    child.once("close", (code, sig) => {
      clearTimeout(timer)
      let json = null
      const line = out.trim().split("\n").pop()
      try {
        json = JSON.parse(line)
      } catch {}
      resolve({ code, sig, json, stderr: err, raw: out })
    })
  })
}

async function loadgenRun(srv, port, cell, opts, pin) {
  const { value: lg, cpuPressurePct } = await withPressure(() => runLoadgen(cell, port, opts, pin, srv.def))
  const serverDied = srv.child.exitCode !== null || srv.child.signalCode !== null
  const res = { ok: false, cpuPressurePct, result: lg.json ?? undefined }
  if (lg.code === 0 && lg.json && !lg.json.error && !serverDied) {
    res.ok = true
  } else {
    res.error = lg.json?.error ?? lg.error ??
      (lg.sig ? `loadgen killed by ${lg.sig}` : `loadgen exit ${lg.code}: ${tail(lg.stderr || lg.raw || "", 300)}`)
    if (serverDied) res.error = `server died during the run; ${res.error ?? ""}`
  }
  return res
}

// ---------------------------------------------------------------------------
// Driver 2: redis-benchmark (suite resp)
// ---------------------------------------------------------------------------

/** Sends `request` on a fresh connection and waits until the reply matches `expect` (anchored). */
function respProbe(port, request, expect) {
  return new Promise((resolve) => {
    let got = ""
    let done = false
    const sock = net.connect(port, HOST)
    const finish = (error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(error ? `${error}; got ${JSON.stringify(tail(got, 120))}` : null)
    }
    const timer = setTimeout(() => finish(`no matching reply within ${PROBE_TIMEOUT_MS} ms`), PROBE_TIMEOUT_MS)
    sock.setEncoding("latin1")
    sock.on("connect", () => sock.write(request))
    sock.on("data", (d) => {
      got += d
      if (expect.test(got)) finish(null)
      else if (got.length > 4096) finish("reply too long")
    })
    sock.on("error", (e) => finish(`probe: ${e.message}`))
    sock.on("close", () => finish("connection closed"))
  })
}

const respCommand = (...words) =>
  `*${words.length}\r\n` + words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")

function runRedisBenchmark(port, suite, cell, requests, pin) {
  const args = [
    "-h",
    HOST,
    "-p",
    String(port),
    "-q",
    "--csv",
    "-c",
    String(suite.clients),
    "-n",
    String(requests),
    "-P",
    String(cell.pipeline),
    "-t",
    suite.tests.join(",")
  ]
  const [file, argv] = pin ? ["taskset", ["-c", "0", "redis-benchmark", ...args]] : ["redis-benchmark", args]
  return new Promise((resolve) => {
    const child = track(spawn(file, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }))
    let out = "", err = ""
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out = tail(out + d, 8000)
    })
    child.stderr.setEncoding("utf8").on("data", (d) => {
      err = tail(err + d, 4000)
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), REDIS_BENCHMARK_TIMEOUT_MS)
    child.once("error", (e) => {
      clearTimeout(timer)
      resolve({ error: `redis-benchmark spawn failed: ${e.message}` })
    })
    child.once("close", (code, sig) => {
      clearTimeout(timer)
      if (sig) {
        return resolve({ error: `redis-benchmark killed by ${sig} (timeout ${REDIS_BENCHMARK_TIMEOUT_MS / 1000} s?)` })
      }
      // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
      const tests = {}
      for (const line of out.split("\n")) {
        const f = line.trim().split(",").map((x) => x.replace(/^"|"$/g, ""))
        if (f.length >= 8 && f[0] !== "test" && Number.isFinite(Number(f[1]))) {
          tests[f[0].toLowerCase()] = {
            rps: Number(f[1]),
            avg_ms: Number(f[2]),
            p50_ms: Number(f[4]),
            p99_ms: Number(f[6]),
            max_ms: Number(f[7])
          }
        }
      }
      const missing = suite.tests.filter((t) => !tests[t])
      if (code !== 0 || missing.length) {
        return resolve({
          error: `redis-benchmark exit ${code}${missing.length ? `, no result for ${missing.join(",")}` : ""}: ${
            tail((err || out).trim(), 300)
          }`
        })
      }
      // redis-benchmark prints error replies it gets (e.g. "Error from server: ...") but still exits 0
      if (/error/i.test(err) || /error from server/i.test(out)) {
        return resolve({ error: `redis-benchmark reported errors: ${tail(err || out, 300)}` })
      }
      resolve({ tests })
    })
  })
}

async function redisBenchmarkRun(srv, port, suite, cell, opts, pin) {
  // 1. the server answers correctly at all
  let error = await respProbe(
    port,
    respCommand("PING") + respCommand("SET", "bench:probe", "hello") + respCommand("GET", "bench:probe"),
    /^\+PONG\r\n\+OK\r\n\$5\r\nhello\r\n$/
  )
  if (error) return { ok: false, error: `probe before the run failed: ${error}` }
  // 2. warmup (not measured)
  const scale = (n) => Math.max(1000, Math.round(n * opts.requestScale))
  if (cell.warmup) {
    const w = await runRedisBenchmark(port, suite, cell, scale(cell.warmup), pin)
    if (w.error) return { ok: false, error: `warmup: ${w.error}` }
  }
  // 3. measured run
  const requests = scale(cell.requests)
  const { value: rb, cpuPressurePct } = await withPressure(() => runRedisBenchmark(port, suite, cell, requests, pin))
  const serverDied = srv.child.exitCode !== null || srv.child.signalCode !== null
  if (rb.error || serverDied) {
    return { ok: false, cpuPressurePct, error: serverDied ? `server died during the run; ${rb.error ?? ""}` : rb.error }
  }
  // 4. the SETs really happened: redis-benchmark's SET stores 3 random bytes under key:__rand_int__
  error = await respProbe(port, respCommand("GET", "key:__rand_int__"), /^\$3\r\n[\s\S]{3}\r\n$/)
  if (error) return { ok: false, cpuPressurePct, error: `probe after the run failed: ${error}` }
  return {
    ok: true,
    cpuPressurePct,
    result: { requests, clients: suite.clients, pipeline: cell.pipeline, ...rb.tests }
  }
}

// ---------------------------------------------------------------------------
// Driver 3: the server's own client (suite stream)
// ---------------------------------------------------------------------------

/** Items of the measured stream and of the unmeasured warmup stream before it (after --items, --quick). */
function streamItems(cell, opts) {
  if (opts.items) return { items: opts.items, warmup: Math.floor(opts.items / 10) }
  return {
    items: Math.max(1000, Math.round(cell.items * opts.requestScale)),
    warmup: Math.round((cell.warmup ?? 0) * opts.requestScale)
  }
}

/**
 * Runs the server's client (`server.client`), pinned to CPU 0: it connects, reads the warmup
 * stream, then the measured one, checks every item and prints `RESULT {json}` (its own timing:
 * from sending the request to the last item; its start-up is not measured) or `ERROR …`.
 */
function runClient(server, port, cell, opts, pin) {
  const { items, warmup } = streamItems(cell, opts)
  const [c, a] = server.client
  const cmd = c.includes("/") && !path.isAbsolute(c) ? rel(c) : c
  const args = expand(a, { host: HOST, port, items, warmup })
  const [file, argv] = pin ? ["taskset", ["-c", "0", cmd, ...args]] : [cmd, args]
  return new Promise((resolve) => {
    const child = track(spawn(file, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: CHILD_ENV }))
    let out = "", err = ""
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out = tail(out + d, 8000)
    })
    child.stderr.setEncoding("utf8").on("data", (d) => {
      err = tail(err + d, 4000)
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), STREAM_CLIENT_TIMEOUT_MS)
    child.once("error", (e) => {
      clearTimeout(timer)
      resolve({ error: `client spawn failed: ${e.message}` })
    })
    child.once("close", (code, sig) => {
      clearTimeout(timer)
      if (sig) return resolve({ error: `client killed by ${sig} (timeout ${STREAM_CLIENT_TIMEOUT_MS / 1000} s?)` })
      const line = out.match(/^RESULT (.+)$/m)?.[1]
      let json = null
      try {
        json = JSON.parse(line)
      } catch {}
      if (code !== 0 || !json) {
        const why = out.match(/^ERROR (.+)$/m)?.[1] ?? tail((err || out).trim(), 300)
        return resolve({ error: `client exit ${code}: ${why}` })
      }
      if (json.items !== items || !(json.items_per_s > 0)) {
        return resolve({ error: `client reported ${line} for a stream of ${items} items` })
      }
      resolve({ result: { ...json, warmup_items: warmup } })
    })
  })
}

async function clientRun(srv, port, cell, opts, pin) {
  const { value: c, cpuPressurePct } = await withPressure(() => runClient(srv.def, port, cell, opts, pin))
  const serverDied = srv.child.exitCode !== null || srv.child.signalCode !== null
  if (c.error || serverDied) {
    return { ok: false, cpuPressurePct, error: serverDied ? `server died during the run; ${c.error ?? ""}` : c.error }
  }
  return { ok: true, cpuPressurePct, result: c.result }
}

// ---------------------------------------------------------------------------
// One run: start server, wait until ready, drive the load, stop server.
// ---------------------------------------------------------------------------

async function oneRun(suite, server, cell, opts, pin) {
  if (opts.waitIdle) await waitIdle(WAIT_IDLE_MAX_MS)
  const t0 = Date.now()
  const srv = await startServer(server, cell.server?.mode ?? "echo", pin)
  const ready = await srv.ready
  const startMs = Date.now() - t0
  if (ready.error) {
    await stop(srv.child)
    return { ok: false, startMs, error: ready.error, serverStderr: srv.stderr() }
  }
  const res = suite.driver === "redis-benchmark"
    ? await redisBenchmarkRun(srv, ready.port, suite, cell, opts, pin)
    : suite.driver === "client"
    ? await clientRun(srv, ready.port, cell, opts, pin)
    : await loadgenRun(srv, ready.port, cell, opts, pin)
  await stop(srv.child)
  const out = { ...res, startMs, wallMs: Date.now() - t0 }
  if (!res.ok) out.serverStderr = srv.stderr()
  return out
}

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------

/** Throughput figures of one run's result, by metric name. */
function metricsOf(suite, cell, r) {
  if (suite.driver === "redis-benchmark") {
    const m = {}
    for (const t of suite.tests) m[t] = r[t].rps
    return m
  }
  if (suite.driver === "client") return { tp: r.items_per_s }
  return { tp: cell.load.mode === "oneway" ? r.mb_per_s : r.rps }
}

function describeRun(suite, cell, r) {
  if (!r.ok) return `FAILED: ${r.error}`
  const j = r.result
  if (suite.driver === "redis-benchmark") {
    return suite.tests.map((t) => `${t.toUpperCase()} ${fmtInt(j[t].rps)} req/s (p50 ${fmtMs(j[t].p50_ms)} ms)`).join(
      "  "
    ) + `  [${fmtInt(j.requests)} req/test]`
  }
  if (suite.driver === "client") {
    return `${fmtInt(j.items_per_s)} items/s  (${fmtInt(j.items)} items in ${fmtMs(j.ms)} ms, first after ${
      fmtMs(j.first_item_ms)
    } ms)`
  }
  if (cell.load.mode === "oneway") return `${fmtInt(j.mb_per_s)} MB/s`
  const line = `${fmtInt(j.rps)} ${cell.load.handshake ? "handshakes/s" : "req/s"}  p50 ${fmtUs(j.p50_us)} µs  p99 ${
    fmtUs(j.p99_us)
  } µs`
  if (!j.tls) return line
  const busy = j.loadgen_cpu_pct >= LOADGEN_BUSY_PCT ? ": the client may be the limit" : ""
  return `${line}  [${j.tls.version} ${j.tls.cipher}; loadgen ${Math.round(j.loadgen_cpu_pct)}% CPU${busy}]`
}

function summarize(suite, cells, plan, runs) {
  const rows = []
  for (const cell of cells) {
    const here = []
    for (const s of plan.get(cell.id)) {
      const mine = runs.filter((r) => r.cell === cell.id && r.server === s.name)
      const ok = mine.filter((r) => r.ok).map((r) => r.result)
      const metrics = {}
      for (const j of ok) for (const [k, v] of Object.entries(metricsOf(suite, cell, j))) (metrics[k] ??= []).push(v)
      const row = {
        cell: cell.id,
        label: cell.label ?? cell.id,
        server: s.name,
        runtime: s.runtime,
        role: s.role,
        baseline: s.baseline ?? null,
        standIn: s.standIn ?? null,
        okRuns: ok.length,
        runs: mine.length,
        disturbedRuns: mine.filter(isDisturbed).length,
        medians: {},
        spreadPct: {},
        samples: metrics
      }
      for (const [k, xs] of Object.entries(metrics)) {
        const m = median(xs)
        row.medians[k] = m
        row.spreadPct[k] = xs.length > 1 && m ? (50 * (Math.max(...xs) - Math.min(...xs))) / m : null
      }
      if (suite.driver === "redis-benchmark") {
        for (const t of suite.tests) {
          row.medians[`${t}_p50_ms`] = median(ok.map((j) => j[t].p50_ms))
          row.medians[`${t}_p99_ms`] = median(ok.map((j) => j[t].p99_ms))
        }
      } else if (suite.driver === "client") {
        row.medians.stream_ms = median(ok.map((j) => j.ms))
        row.medians.first_item_ms = median(ok.map((j) => j.first_item_ms))
      } else if (cell.load.mode !== "oneway") {
        row.medians.p50_us = median(ok.map((j) => j.p50_us))
        row.medians.p99_us = median(ok.map((j) => j.p99_us))
        if (cell.load.tls) row.medians.loadgen_cpu_pct = median(ok.map((j) => j.loadgen_cpu_pct))
      }
      here.push(row)
    }
    const ratio = (
      row,
      other,
      k
    ) => (other && other.medians[k] && row.medians[k] != null ? row.medians[k] / other.medians[k] : null)
    for (const row of here) {
      const base = here.find((r) => r.server === row.baseline)
      const ref = here.find((r) => r.server === suite.reference)
      row.vsBaseline = {}
      row.vsReference = {}
      for (const k of Object.keys(row.medians)) {
        if (/_(p50|p99)_|^p\d|_ms$|_pct$/.test(k)) continue
        row.vsBaseline[k] = ratio(row, base, k)
        row.vsReference[k] = ratio(row, ref, k)
      }
      rows.push(row)
    }
  }
  return rows
}

const withSpread = (v, spread, fmt) => (v == null ? "–" : `${fmt(v)}${spread != null ? ` ±${spread.toFixed(0)}%` : ""}`)

/** echo/framed: one line per cell and runtime: raw | wirekit | wirekit/raw (| wirekit/reference). */
function loadgenTable(suite, rows) {
  const refName = suite.reference
  const hasRef = rows.some((r) => r.server === refName && r.okRuns > 0)
  const unit = suite.unit ? ` (${suite.unit})` : ""
  const head = ["cell (conns/size/pipeline)", "runtime", `raw baseline${unit}`, `wirekit${unit}`, "**wirekit / raw**"]
  if (hasRef) head.push(`wirekit / ${refName}`)
  head.push("p50 µs raw / wirekit", "p99 µs raw / wirekit", "ok runs")
  const lines = ["| " + head.join(" | ") + " |", "|" + head.map((h, i) => (i < 2 ? "---" : "---:")).join("|") + "|"]
  const cellIds = [...new Set(rows.map((r) => r.cell))]
  for (const id of cellIds) {
    const inCell = rows.filter((r) => r.cell === id)
    const oneway = inCell[0].label.startsWith("oneway")
    const fmt = oneway ? (v) => `${fmtInt(v)} MB/s` : (v) => fmtInt(v)
    const show = (r) => (r ? withSpread(r.medians.tp, r.spreadPct.tp, fmt) + (r.standIn ? "†" : "") : "–")
    const okOf = (...rs) => rs.filter(Boolean).map((r) => `${r.okRuns}/${r.runs}`).join(" · ")
    for (const rt of Object.keys(RUNTIMES)) {
      if (rt === "c") continue
      const raw = inCell.find((r) => r.runtime === rt && r.role === "raw")
      const wk = inCell.find((r) => r.runtime === rt && r.role === "wirekit")
      if (!raw && !wk) continue
      const cols = [
        inCell[0].label,
        RUNTIMES[rt].label,
        show(raw),
        show(wk),
        wk ? `**${fmtRatio(wk.vsBaseline.tp)}**` : "–"
      ]
      if (hasRef) cols.push(wk ? fmtRatio(wk.vsReference.tp) : "–")
      cols.push(
        oneway ? "–" : `${fmtUs(raw?.medians.p50_us)} / ${fmtUs(wk?.medians.p50_us)}`,
        oneway ? "–" : `${fmtUs(raw?.medians.p99_us)} / ${fmtUs(wk?.medians.p99_us)}`,
        okOf(raw, wk)
      )
      lines.push("| " + cols.join(" | ") + " |")
    }
    for (const ref of inCell.filter((r) => r.role === "reference")) {
      const cols = [inCell[0].label, `${RUNTIMES[ref.runtime].label} (\`${ref.server}\`)`, show(ref), "–", "–"]
      if (hasRef) cols.push("–")
      cols.push(
        oneway ? "–" : `${fmtUs(ref.medians.p50_us)} / –`,
        oneway ? "–" : `${fmtUs(ref.medians.p99_us)} / –`,
        okOf(ref)
      )
      lines.push("| " + cols.join(" | ") + " |")
    }
  }
  return lines.join("\n")
}

/** typed: one line per cell and server: req/s, the ratio to its runtime's raw baseline, latency. */
function serversTable(suite, rows) {
  const head = ["cell (conns×in flight)", "runtime", "server", "req/s", "**/ raw**", "p50 µs", "p99 µs", "ok runs"]
  const lines = ["| " + head.join(" | ") + " |", "|" + head.map((h, i) => (i < 3 ? "---" : "---:")).join("|") + "|"]
  const rtOrder = Object.keys(RUNTIMES)
  const sorted = [...rows].sort((a, b) => rtOrder.indexOf(a.runtime) - rtOrder.indexOf(b.runtime))
  for (const id of [...new Set(rows.map((r) => r.cell))]) {
    for (const r of sorted.filter((x) => x.cell === id)) {
      const isBase = r.server === r.baseline
      lines.push(
        "| " +
          [
            r.label,
            RUNTIMES[r.runtime].label,
            `\`${r.server}\`${r.standIn ? "†" : ""}`,
            withSpread(r.medians.tp, r.spreadPct.tp, fmtInt),
            isBase ? "1.00×" : `**${fmtRatio(r.vsBaseline.tp)}**`,
            fmtUs(r.medians.p50_us),
            fmtUs(r.medians.p99_us),
            `${r.okRuns}/${r.runs}`
          ].join(" | ") + " |"
      )
    }
  }
  return lines.join("\n")
}

/** stream: one line per server: items/s, the ratio to the reference (@effect/rpc on Node) and to @effect/rpc on its runtime. */
function streamTable(suite, rows) {
  const head = [
    "cell",
    "runtime",
    "server",
    "items/s",
    `**/ ${suite.reference}**`,
    "/ effect-rpc, same runtime",
    "ms per stream",
    "first item ms",
    "ok runs"
  ]
  const lines = ["| " + head.join(" | ") + " |", "|" + head.map((h, i) => (i < 3 ? "---" : "---:")).join("|") + "|"]
  const rtOrder = Object.keys(RUNTIMES)
  const sorted = [...rows].sort((a, b) =>
    rtOrder.indexOf(a.runtime) - rtOrder.indexOf(b.runtime) || (a.role === "wirekit" ? -1 : 1)
  )
  for (const r of sorted) {
    lines.push(
      "| " +
        [
          r.label,
          RUNTIMES[r.runtime].label,
          `\`${r.server}\`${r.standIn ? "†" : ""}`,
          withSpread(r.medians.tp, r.spreadPct.tp, fmtInt),
          r.server === suite.reference ? "1.00×" : `**${fmtRatio(r.vsReference.tp)}**`,
          r.server === r.baseline ? "1.00×" : fmtRatio(r.vsBaseline.tp),
          fmtMs(r.medians.stream_ms),
          fmtMs(r.medians.first_item_ms),
          `${r.okRuns}/${r.runs}`
        ].join(" | ") + " |"
    )
  }
  return lines.join("\n")
}

/**
 * resp: one line per pipeline depth and server (redis-server first, then per runtime its raw
 * baseline and the wirekit server): req/s per test, the ratio to redis-server, and the ratio to
 * the raw baseline of the server's runtime (wirekit / raw; 1.00× on the raw rows themselves).
 */
function respTable(suite, rows) {
  const T = suite.tests.map((t) => t.toUpperCase())
  const head = [
    "pipeline",
    "server",
    ...T.map((t) => `${t} req/s`),
    ...T.map((t) => `**${t} / ${suite.reference}**`),
    ...T.map((t) => `**${t} / raw**`),
    `p50 ms ${T.join(" / ")}`,
    `p99 ms ${T.join(" / ")}`,
    "ok runs"
  ]
  const lines = ["| " + head.join(" | ") + " |", "|" + head.map((h, i) => (i < 2 ? "---" : "---:")).join("|") + "|"]
  const rtOrder = Object.keys(RUNTIMES)
  const roleOrder = ["reference", "raw", "wirekit", "other"]
  const rank = (r) => (r.role === "reference" ? -1 : rtOrder.indexOf(r.runtime)) * 10 + roleOrder.indexOf(r.role)
  for (const id of [...new Set(rows.map((r) => r.cell))]) {
    for (const r of rows.filter((x) => x.cell === id).sort((a, b) => rank(a) - rank(b))) {
      const cols = [
        r.label,
        r.server + (r.standIn ? "†" : ""),
        ...suite.tests.map((t) => withSpread(r.medians[t], r.spreadPct[t], fmtInt)),
        ...suite.tests.map((t) => (r.server === suite.reference ? "1.00×" : `**${fmtRatio(r.vsReference[t])}**`)),
        ...suite.tests.map((
          t
        ) => (r.role === "reference" ? "–" : r.server === r.baseline ? "1.00×" : `**${fmtRatio(r.vsBaseline[t])}**`)),
        suite.tests.map((t) => fmtMs(r.medians[`${t}_p50_ms`])).join(" / "),
        suite.tests.map((t) => fmtMs(r.medians[`${t}_p99_ms`])).join(" / "),
        `${r.okRuns}/${r.runs}`
      ]
      lines.push("| " + cols.join(" | ") + " |")
    }
  }
  return lines.join("\n")
}

function disturbanceNote(runs, suiteName) {
  const bad = runs.filter(isDisturbed)
  if (!bad.length) return `_No run of this suite saw CPU pressure above ${PRESSURE_FLAG_PCT}%._`
  const max = 14
  const listed = bad.slice(0, max).map((r) => `${r.cell} ${r.server} #${r.run} (${r.cpuPressurePct}%)`).join(", ")
  return `_Disturbed: ${bad.length} of ${runs.length} runs saw CPU pressure above ${PRESSURE_FLAG_PCT}% ` +
    `(tasks waiting for a CPU: other processes on the pinned cores): ${listed}${
      bad.length > max ? `, and ${bad.length - max} more` : ""
    }; ` +
    `see \`suites.${suiteName}.runs[].cpuPressurePct\` in latest.json. Read those cells' ratios with care._`
}

/** TLS suites: the cells where the load generator's own core was (nearly) saturated. */
function clientBoundNote(rows) {
  const busy = rows.filter((r) => r.medians.loadgen_cpu_pct >= LOADGEN_BUSY_PCT)
  if (!busy.length) return null
  return `_Load generator at ≥${LOADGEN_BUSY_PCT}% of its core (median) in: ` +
    busy.map((r) => `${r.label} ${r.server} (${Math.round(r.medians.loadgen_cpu_pct)}%)`).join(", ") +
    `. There the figure is at least partly the client's limit (one core of OpenSSL), not the server's; ` +
    `a ratio whose baseline is listed here is an upper bound._`
}

function writeReadme(name, block) {
  const file = rel(README)
  const text = fs.readFileSync(file, "utf8")
  const [start, end] = markers(name)
  const a = text.indexOf(start), b = text.indexOf(end)
  if (a < 0 || b < a) {
    console.error(`--write-readme: markers ${start} … ${end} not found in ${README}; suite ${name} not written`)
    return false
  }
  fs.writeFileSync(file, text.slice(0, a + start.length) + "\n" + block + "\n" + text.slice(b))
  return true
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

/** Which servers run which cells of `suiteName`, after --cells/--servers and availability checks. */
function planSuite(suiteName, opts, notes) {
  const suite = SUITES[suiteName]
  const cells = suite.cells.filter((c) => (opts.cells ? opts.cells.includes(c.id) : !c.optIn))
    // stream cells shrunk by --items / --quick say so in their label
    .map((
      c
    ) => (suite.driver === "client" && streamItems(c, opts).items !== c.items
      ? { ...c, label: `${fmtInt(streamItems(c, opts).items)} items` }
      : c)
    )
  const inSuite = SERVERS.filter((s) => s.suites.includes(suiteName))
  const servers = []
  for (const s of inSuite) {
    if (opts.servers ? !opts.servers.includes(s.name) : s.optIn) continue
    const missingCmd = (s.needs ?? []).filter((c) => !commandExists(c))
    if (missingCmd.length) {
      const note = `${suiteName}: ${s.name} skipped: ${missingCmd.join(", ")} not found`
      console.warn(`warning: ${note}`)
      notes.push(note)
      continue
    }
    if (s.requires && !fs.existsSync(rel(s.requires))) {
      const baseDef = inSuite.find((b) => b.name === s.baseline && b !== s)
      if (opts.standIn && baseDef) {
        const note =
          `${suiteName}: ${s.name}: ${s.requires} not found; running ${baseDef.name}'s command in its place (--stand-in)`
        console.warn(`warning: ${note}`)
        notes.push(note)
        servers.push({ ...baseDef, name: s.name, role: s.role, baseline: s.baseline, standIn: baseDef.name })
      } else {
        const note =
          `${suiteName}: ${s.name}: ${s.requires} not found; skipped (pass --stand-in to run ${s.baseline} in its place)`
        console.warn(`warning: ${note}`)
        notes.push(note)
      }
      continue
    }
    servers.push(s)
  }
  const plan = new Map()
  for (const c of cells) {
    plan.set(
      c.id,
      servers.filter((s) => opts.servers?.includes(s.name) || !s.defaultCells || s.defaultCells.includes(c.id))
    )
  }
  return { suite, cells: cells.filter((c) => plan.get(c.id).length > 0), plan, servers }
}

function estimateSeconds(suite, cells, plan, opts) {
  let total = 0
  for (const c of cells) {
    for (const s of plan.get(c.id)) {
      let run
      if (suite.driver === "redis-benchmark") {
        // assume ~300k req/s with -P 16, ~40k without, for the estimate only
        const rate = c.pipeline > 1 ? 300_000 : 40_000
        run = ((c.requests + (c.warmup ?? 0)) * opts.requestScale * suite.tests.length) / rate + 0.5
      } else if (suite.driver === "client") {
        const { items, warmup } = streamItems(c, opts)
        run = (s.startS ?? 0.5) + (items + warmup) / STREAM_EST_ITEMS_PER_S + 0.3 // the client starts up too
      } else {
        run = opts.duration + opts.warmup + 0.4
      }
      total += opts.runs * (run + (s.startS ?? 0.5))
    }
  }
  return total
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.cells) {
    const known = new Set(opts.suites.flatMap((n) => SUITES[n].cells.map((c) => c.id)))
    const unknown = opts.cells.filter((id) => !known.has(id))
    if (unknown.length) {
      console.error(`unknown cell(s): ${unknown.join(", ")}; available: ${[...known].join(", ")}`)
      process.exit(2)
    }
  }
  if (opts.servers) {
    const known = new Set(SERVERS.filter((s) => s.suites.some((x) => opts.suites.includes(x))).map((s) => s.name))
    const unknown = opts.servers.filter((n) => !known.has(n))
    if (unknown.length) {
      console.error(
        `unknown server(s) for suite(s) ${opts.suites.join(",")}: ${unknown.join(", ")}; available: ${
          [...known].join(", ")
        }`
      )
      process.exit(2)
    }
  }

  const globalNotes = []
  const plans = []
  for (const name of opts.suites) {
    const notes = []
    const p = planSuite(name, opts, notes)
    if (p.cells.length === 0) {
      console.warn(`suite ${name}: nothing to run (no server/cell selected)`)
      continue
    }
    if (p.suite.driver === "redis-benchmark" && !commandExists("redis-benchmark")) {
      console.warn(`warning: suite ${name} skipped: redis-benchmark not found`)
      continue
    }
    if (p.suite.tls && !commandExists("openssl")) {
      console.warn(
        `warning: suite ${name} skipped: openssl (the command line tool that makes its certificates) not found`
      )
      continue
    }
    plans.push({ name, notes, ...p })
  }
  if (plans.length === 0) {
    console.error("nothing to run")
    process.exit(2)
  }

  const machine = machineInfo()
  const git = gitInfo()
  const versions = { node: process.version }
  const usedRuntimes = new Set(plans.flatMap((p) => p.servers.map((s) => s.runtime)))
  for (const rt of usedRuntimes) if (RUNTIMES[rt].version) versions[rt] = versionOf(...RUNTIMES[rt].version)
  if (plans.some((p) => p.name === "resp")) {
    versions.redis = versionOf("redis-server", ["--version"])
  }
  const pinning = pinningAvailable(machine.nproc)
  if (!pinning.ok) {
    const note = `running UNPINNED (${pinning.why}); numbers are less stable`
    console.warn(`warning: ${note}`)
    globalNotes.push(note)
  }

  let estimates = plans.map((p) => estimateSeconds(p.suite, p.cells, p.plan, opts))
  const estimate = Math.ceil(estimates.reduce((a, b) => a + b, 0))
  const countRuns = () =>
    plans.reduce((n, p) => n + p.cells.reduce((m, c) => m + p.plan.get(c.id).length * opts.runs, 0), 0)
  let totalRuns = countRuns()
  console.log(
    `bench: suites ${
      plans.map((p) => p.name).join(", ")
    }; ${totalRuns} runs; ${opts.runs} run(s) per cell per server; ` +
      (plans.every((p) => p.suite.driver === "client")
        ? ""
        : `loadgen ${opts.duration} s + ${opts.warmup} s warmup; `) +
      (plans.some((p) => p.suite.driver === "client")
        ? `stream ${fmtInt(streamItems(SUITES.stream.cells[0], opts).items)} items; `
        : "") +
      `pinned: ${pinning.ok ? "server CPU 1, load CPU 0" : "no"}; ` +
      `estimated ~${Math.floor(estimate / 60)} min ${estimate % 60} s (on an idle machine)`
  )
  if (estimate > BUDGET_S) console.warn(`note: estimated time exceeds ${BUDGET_S / 60} min`)
  if (opts.list) {
    for (const [pi, p] of plans.entries()) {
      console.log(`suite ${p.name} (~${Math.round(estimates[pi])} s): ${p.suite.title}`)
      for (const c of p.cells) console.log(`  ${c.label ?? c.id}: ${p.plan.get(c.id).map((s) => s.name).join(", ")}`)
    }
    for (const name of Object.keys(SUITES).filter((n) => SUITES[n].optIn && !opts.suites.includes(n))) {
      const p = planSuite(name, { ...opts, cells: undefined, servers: undefined }, [])
      const est = Math.round(estimateSeconds(p.suite, p.cells, p.plan, opts))
      console.log(`suite ${name} (opt-in, not in this run: add --suite ${name}; ~${est} s): ${p.suite.title}`)
      for (const c of p.cells) console.log(`  ${c.label ?? c.id}: ${p.plan.get(c.id).map((s) => s.name).join(", ")}`)
    }
    return
  }

  build()

  // TLS suites: certificates made once for this run into a temp dir (removed at exit), or skipped
  const tlsPlans = plans.filter((p) => p.suite.tls)
  if (tlsPlans.length) {
    let why = builtWithTls.has("loadgen") ? null : "the load generator was built without TLS"
    if (!why) {
      try {
        tlsCerts = makeCerts()
        process.on("exit", () => removeCerts(tlsCerts))
      } catch (e) {
        why = `making the certificates failed: ${e.message}`
      }
    }
    if (why) {
      for (const p of tlsPlans) {
        console.warn(`warning: suite ${p.name} skipped: ${why}`)
        plans.splice(plans.indexOf(p), 1)
      }
      if (plans.length === 0) {
        console.error("nothing to run")
        process.exit(2)
      }
      estimates = plans.map((p) => estimateSeconds(p.suite, p.cells, p.plan, opts))
      totalRuns = countRuns()
    }
  }

  const started = Date.now()
  let done = 0
  const results = {}
  let failed = 0
  for (const [pi, p] of plans.entries()) {
    const busy = await cpuBusy(500)
    if (busy != null && busy > 20) {
      const note = `machine was ${busy}% busy just before the ${p.name} suite; results may be disturbed by other load`
      console.warn(`warning: ${note}`)
      p.notes.push(note)
    }
    const servers = [...new Set(p.cells.flatMap((c) => p.plan.get(c.id)))]
    console.log(
      `\n== suite ${p.name}: ${p.suite.title}\n   ${p.cells.length} cell(s) [${
        p.cells.map((c) => c.label ?? c.id).join(", ")
      }] × ` +
        `servers [${
          servers.map((s) => s.name + (s.defaultCells && !opts.servers ? ` (${s.defaultCells.join(",")} only)` : ""))
            .join(", ")
        }] × ${opts.runs} run(s); ~${Math.round(estimates[pi])} s`
    )
    const suiteStarted = Date.now()
    const runs = []
    for (const cell of p.cells) {
      for (let i = 1; i <= opts.runs; i++) {
        for (const s of p.plan.get(cell.id)) {
          const r = await oneRun(p.suite, s, cell, opts, pinning.ok)
          done++
          runs.push({ cell: cell.id, server: s.name, run: i, ...r })
          const tag = `[${done}/${totalRuns} ${p.name} ${cell.label ?? cell.id}] ${s.name}${
            s.standIn ? "†" : ""
          } run ${i}/${opts.runs}:`
          const start = r.startMs != null ? `  (start ${(r.startMs / 1000).toFixed(1)} s)` : ""
          console.log(
            `${tag} ${describeRun(p.suite, cell, r)}${start}${
              isDisturbed(r) ? `  [cpu pressure ${r.cpuPressurePct}%: other load?]` : ""
            }`
          )
          if (!r.ok && r.serverStderr) {
            console.log(`    server stderr: ${tail(r.serverStderr, 600).replace(/\n/g, "\n    ")}`)
          }
        }
      }
    }
    failed += runs.filter((r) => !r.ok).length
    const rows = summarize(p.suite, p.cells, p.plan, runs)
    const table = p.suite.driver === "redis-benchmark" ?
      respTable(p.suite, rows)
      : p.suite.table === "servers" ?
      serversTable(p.suite, rows)
      : p.suite.table === "stream"
      ? streamTable(p.suite, rows)
      : loadgenTable(p.suite, rows)
    const date = new Date().toISOString()
    const gitText = git ? `, commit ${git.commit}${git.dirty ? " + local changes" : ""}` : ""
    const rtVersions = [...new Set(servers.map((s) => s.runtime))].filter((rt) => rt !== "c")
      .map((rt) => `${RUNTIMES[rt].label} ${rt === "node" ? versions.node : versions[rt] ?? "?"}`)
    if (p.name === "resp" && versions.redis) rtVersions.push(`redis ${versions.redis}`)
    const loadText = p.suite.driver === "redis-benchmark"
      ? `redis-benchmark -c ${p.suite.clients} -t ${p.suite.tests.join(",")}, ${
        p.cells.map((c) =>
          `${c.label}: -n ${
            fmtInt(Math.max(1000, Math.round(c.requests * opts.requestScale)))
          } after an unmeasured -n ${fmtInt(Math.max(1000, Math.round((c.warmup ?? 0) * opts.requestScale)))}`
        ).join("; ")
      }`
      : p.suite.driver === "client"
      ? p.cells.map((c) => streamItems(c, opts)).map(({ items, warmup }) =>
        `one request answered with a stream of ${fmtInt(items)} items, after an unmeasured stream of ${
          fmtInt(warmup)
        } on the same connection, read by the server's client on its runtime`
      ).join("; ")
      : `${opts.duration} s measured + ${opts.warmup} s warmup`
    const tlsSeen = [
      ...new Set(
        runs.filter((r) => r.result?.tls?.version).map((r) => `${r.result.tls.version} ${r.result.tls.cipher}`)
      )
    ]
    const tlsText = !p.suite.tls ?
      ""
      : `; TLS (${
        tlsSeen.join(", ") || "no handshake completed"
      }; loadgen on OpenSSL; an ECDSA P-256 server certificate from a CA made for this run` +
        `${
          p.cells.some((c) => c.load.handshake)
            ? "; full handshakes, no resumption"
            : "; every handshake before the clock, chain verified"
        })`
    const standIns = servers.filter((s) => s.standIn)
    const meta = [
      `_Suite \`${p.name}\`, ${date.slice(0, 10)}${gitText}; ${machine.nproc} × ${machine.cpu}, ${machine.kernel}; ${
        rtVersions.join(", ")
      }; ` +
      `${opts.runs} run(s) per cell per server (fresh server process each), ${loadText}${tlsText}, interleaved; ` +
      (pinning.ok
        ? `server pinned to CPU 1, ${p.suite.driver === "client" ? "client" : "load generator"} to CPU 0`
        : "unpinned") +
      (opts.waitIdle ? "; waited (≤30 s) for an idle machine before each run" : "") +
      `; medians (± = half the min–max range).${opts.quick ? " **Quick run: smoke test, not a measurement.**" : ""}_`,
      ...standIns.map((s) =>
        `_† **${s.name} is a stand-in**: its server file did not exist, so ${s.standIn}'s command ran under its name. The ratio only shows run-to-run noise, not wirekit's cost._`
      ),
      ...p.notes.filter((n) => n.includes("busy")).map((n) => `_Warning: ${n}._`),
      ...(p.suite.tls ? [clientBoundNote(rows)].filter(Boolean) : []),
      disturbanceNote(runs, p.name)
    ]
    const block = [...meta, "", table].join("\n")
    console.log(`\n${table}\n`)
    for (const n of p.notes) console.log(`note: ${n}`)
    console.log(`suite ${p.name}: ${((Date.now() - suiteStarted) / 1000).toFixed(0)} s`)
    results[p.name] = {
      title: p.suite.title,
      date,
      preflightBusyPct: busy,
      notes: p.notes,
      config: {
        cells: p.cells.map((c) => ({
          id: c.id,
          ...(c.load ?? (p.suite.driver === "client"
            ? streamItems(c, opts)
            : { pipeline: c.pipeline, requests: c.requests, warmup: c.warmup })),
          serverMode: c.server?.mode
        })),
        servers: servers.map((s) => ({
          name: s.name,
          runtime: s.runtime,
          role: s.role,
          baseline: s.baseline ?? null,
          standIn: s.standIn ?? null,
          cmd: [path.basename(s.cmd), ...s.args].join(" "),
          ...(s.client ? { client: [path.basename(s.client[0]), ...s.client[1]].join(" ") } : {}),
          cells: p.cells.filter((c) => p.plan.get(c.id).includes(s)).map((c) => c.id)
        }))
      },
      elapsedSeconds: (Date.now() - suiteStarted) / 1000,
      summary: rows,
      runs,
      readmeBlock: block
    }
  }
  const elapsed = (Date.now() - started) / 1000

  const result = {
    date: new Date().toISOString(),
    machine,
    versions,
    git,
    pinned: pinning.ok ? { server: 1, load: 0 } : false,
    options: {
      runs: opts.runs,
      duration_s: opts.duration,
      warmup_s: opts.warmup,
      quick: opts.quick,
      requestScale: opts.requestScale,
      items: opts.items ?? null
    },
    notes: globalNotes,
    elapsedSeconds: elapsed,
    suites: results
  }
  fs.mkdirSync(rel("bench/results"), { recursive: true })
  fs.writeFileSync(rel("bench/results/latest.json"), JSON.stringify(result, null, 2) + "\n")
  for (const n of globalNotes) console.log(`note: ${n}`)
  console.log(`wrote bench/results/latest.json (total ${(elapsed / 60).toFixed(1)} min)`)
  if (opts.writeReadme) {
    for (const [name, r] of Object.entries(results)) {
      if (writeReadme(name, r.readmeBlock)) console.log(`updated ${README} (${name})`)
    }
  }
  if (failed) {
    console.error(`${failed} run(s) failed`)
    process.exitCode = 1
  }
}

main().catch((e) => {
  console.error(e)
  for (const c of live) {
    try {
      c.kill("SIGKILL")
    } catch {}
  }
  process.exit(1)
})
