/**
 * Real TCP load balancers for tests: Debian's nginx (`stream`) and HAProxy
 * (`mode tcp`) in the foreground, balancing round robin over backends on
 * 127.0.0.1, optionally with a PROXY protocol header to each. Each starts on
 * a free port from a config file in its own temp dir, and is stopped by the
 * test (its finalizer). See scripts/external-program.ts for skipping where a
 * program is missing.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./example-process.ts"
import { externalProgram } from "./external-program.ts"
import type { ExternalProgram } from "./external-program.ts"

/** Debian builds nginx's stream module as a dynamic module, in libnginx-mod-stream. */
const streamModule = ["/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/lib64/nginx/modules/ngx_stream_module.so"]
  .find((p) => existsSync(p))

/** Whether the tests that need nginx with its stream module run here (and why not). */
export const nginxStreamProgram: ExternalProgram = (() => {
  const nginx = externalProgram("nginx", "nginx")
  if (nginx.skip || streamModule !== undefined || process.env.CI === "true") return nginx
  const reason =
    "nginx's stream module (ngx_stream_module.so) not found: install Debian's libnginx-mod-stream (apt-get install libnginx-mod-stream) to run these tests (with CI=true they run and fail)"
  return { ...nginx, skip: true, reason, title: (title) => `${title} [skipped: ${reason}]` }
})()

/** Whether the tests that need haproxy run here (and why not). */
export const haproxyProgram = externalProgram("haproxy", "haproxy")

/** A running load balancer of a test. */
export interface LoadBalancer {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number
  /** Everything it printed (nginx: and its error log, until stopped). */
  readonly output: () => string
  /** SIGTERM (SIGKILL after 5 s), waits for its exit, removes its temp dir; idempotent. */
  readonly stop: () => Promise<void>
}

/** Where a load balancer sends connections. */
export interface LoadBalancerOptions {
  /** The ports of the backends on 127.0.0.1, in round-robin order. */
  readonly backends: ReadonlyArray<number>
}

/** nginx `stream`: `proxyProtocol` sends a PROXY protocol version 1 header to each backend (`proxy_protocol on`). */
export interface NginxStreamOptions extends LoadBalancerOptions {
  readonly proxyProtocol: boolean
}

/** HAProxy: `sendProxy` sends a PROXY protocol header of that version to each backend (`send-proxy`, `send-proxy-v2`). */
export interface HaproxyOptions extends LoadBalancerOptions {
  readonly sendProxy?: "v1" | "v2"
}

/** Starts nginx (`daemon off`, one process) on a free port; resolves once it accepts connections (20 s limit). */
export const startNginxStream = async (options: NginxStreamOptions): Promise<LoadBalancer> => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "wirekit-nginx-"))
  const conf = join(dir, "nginx.conf")
  const log = join(dir, "nginx-error.log")
  writeFileSync(
    conf,
    [
      ...(streamModule !== undefined ? [`load_module ${streamModule};`] : []),
      "daemon off;",
      "master_process off;",
      "worker_processes 1;",
      `pid ${join(dir, "nginx.pid")};`,
      `error_log ${log} info;`,
      "events { worker_connections 64; }",
      "stream {",
      `  upstream backends { ${options.backends.map((p) => `server 127.0.0.1:${p};`).join(" ")} }`,
      `  server { listen 127.0.0.1:${port}; proxy_pass backends;${
        options.proxyProtocol ? " proxy_protocol on;" : ""
      } }`,
      "}",
      ""
    ].join("\n")
  )
  // -e: the log of start-up, before the config's error_log applies
  return launch("nginx", ["-p", dir, "-c", conf, "-e", log], port, dir, log)
}

/** Starts haproxy (`-db`: foreground) on a free port; resolves once it accepts connections (20 s limit). */
export const startHaproxy = async (options: HaproxyOptions): Promise<LoadBalancer> => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "wirekit-haproxy-"))
  const conf = join(dir, "haproxy.cfg")
  const sendProxy = options.sendProxy === "v1" ? " send-proxy" : options.sendProxy === "v2" ? " send-proxy-v2" : ""
  writeFileSync(
    conf,
    [
      "global",
      "  maxconn 64",
      `  pidfile ${join(dir, "haproxy.pid")}`,
      "defaults",
      "  mode tcp",
      "  timeout connect 5s",
      "  timeout client 60s",
      "  timeout server 60s",
      "frontend front",
      `  bind 127.0.0.1:${port}`,
      "  default_backend backends",
      "backend backends",
      "  balance roundrobin",
      ...options.backends.map((p, i) => `  server b${i + 1} 127.0.0.1:${p}${sendProxy}`),
      ""
    ].join("\n")
  )
  return launch("haproxy", ["-db", "-f", conf], port, dir, undefined)
}

/** Runs `cmd`, waits until `port` accepts connections; on failure stops it and rejects with what it printed. */
const launch = async (
  cmd: string,
  args: ReadonlyArray<string>,
  port: number,
  dir: string,
  log: string | undefined
): Promise<LoadBalancer> => {
  const child = spawn(cmd, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  let gone = false
  child.stdout.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr.on("data", (d: Buffer) => (output += d.toString()))
  // a program that cannot be spawned emits "error" and never "exit"
  const ended = new Promise<void>((resolve) => {
    child.once("exit", () => resolve())
    child.once("error", (e) => {
      output += String(e)
      resolve()
    })
  }).then(() => void (gone = true))
  let stopping: Promise<void> | undefined
  const stop = () => (stopping ??= (async () => {
    if (!gone) {
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
      await ended
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  })())
  const printed = () => output + (log !== undefined && existsSync(log) ? readFileSync(log, "utf8") : "")
  try {
    await accepting(port, () => gone, 20_000)
  } catch {
    const why = printed()
    await stop()
    throw new Error(`${cmd} is not listening on 127.0.0.1:${port}: ${why}`)
  }
  return { port, output: printed, stop }
}

/** Resolves once something accepts a TCP connection on `port`; rejects when `gone()` or after `ms`. */
const accepting = (port: number, gone: () => boolean, ms: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const deadline = Date.now() + ms
    const attempt = () => {
      const s = Net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy()
        resolve()
      })
      s.on("error", () => {
        if (gone() || Date.now() > deadline) return reject(new Error("not listening"))
        setTimeout(attempt, 50)
      })
    }
    attempt()
  })
