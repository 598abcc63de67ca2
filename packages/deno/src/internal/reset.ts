/**
 * Sending a TCP RST from Deno.
 *
 * `Deno.Conn` has no abortive close: `conn.close()` runs `shutdown(SHUT_WR)`
 * and then `close(2)`, so the peer always sees a FIN (EOF) first; not even
 * `SO_LINGER {1, 0}` or unread received data can turn that into a reset,
 * because the FIN is already out when the descriptor is closed. Deno exposes no
 * file descriptor for a TCP connection either.
 *
 * What works (Linux): through FFI, find the connection's descriptor (the one
 * whose `getsockname`/`getpeername` are exactly the connection's local and
 * remote address) and call `connect(fd, AF_UNSPEC)` on it. For a TCP socket
 * that is `tcp_disconnect()`: the kernel sends RST at once and leaves the
 * descriptor open but unconnected, so Deno's own `close()` afterwards only
 * gets `ENOTCONN` from its `shutdown` and closes the descriptor normally.
 *
 * Needs `--allow-ffi`; the descriptor is found by listing `/proc/self/fd` when
 * it may be read (`--allow-read`), otherwise by probing descriptors 0..65535.
 * Without FFI, or on another OS, {@link sendReset} returns `false` and the
 * caller closes normally (the peer then sees EOF, not a reset).
 *
 * The same lookup finds a TLS listener's socket for {@link setListenerOptions}.
 * @internal
 */
import type { DenoNamespace, ForeignCall, NetAddr, TcpConn } from "../deno-types.d.ts"

interface Libc {
  readonly connect: ForeignCall
  readonly getsockname: ForeignCall
  readonly getpeername: ForeignCall
  readonly setsockopt: ForeignCall
}

const symbols = {
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" }
} as const

/** undefined: not loaded yet; null: cannot be loaded on this system. */
let libc: Libc | null | undefined

const load = (deno: DenoNamespace): Libc | null => {
  if (libc !== undefined) return libc
  if (deno.build.os !== "linux") return (libc = null)
  // asked again on every call until loaded: permissions may be granted later
  if (deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null
  const names = ["libc.so.6", `libc.musl-${deno.build.arch}.so.1`, "libc.so"]
  for (const name of names) {
    try {
      return (libc = deno.dlopen(name, symbols).symbols)
    } catch {
      // try the next name
    }
  }
  return (libc = null)
}

/** Whether {@link sendReset} can send a real RST in this process. */
export const available = (deno: DenoNamespace): boolean => load(deno) !== null

/** The bytes of an IPv4 or IPv6 literal (zone id ignored), or undefined. */
export const ipBytes = (host: string): Uint8Array | undefined => {
  if (!host.includes(":")) return ipv4(host)
  const zone = host.indexOf("%")
  const h = zone >= 0 ? host.slice(0, zone) : host
  const halves = h.split("::")
  if (halves.length > 2) return undefined
  const groups = (s: string): Array<number> | undefined => {
    if (s === "") return []
    const out: Array<number> = []
    const parts = s.split(":")
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = ipv4(p)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined
        out.push(parseInt(p, 16))
      }
    }
    return out
  }
  const head = groups(halves[0]!)
  const tail = halves.length === 2 ? groups(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  const fill = 8 - head.length - tail.length
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail]
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >>> 8
    out[2 * i + 1] = all[i]! & 0xff
  }
  return out
}

const ipv4 = (s: string): Uint8Array | undefined => {
  const parts = s.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i]!)) return undefined
    const n = Number(parts[i])
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

const AF_INET = 2
const AF_INET6 = 10
const sockaddr = new Uint8Array(128)
const socklen = new Uint32Array(1)
const unspec = new Uint8Array(16) // struct sockaddr with sa_family = AF_UNSPEC (0)

/** Whether `getsockname`/`getpeername` of `fd` is exactly `ip`:`port` (Linux sockaddr layout). */
const is = (f: ForeignCall, fd: number, ip: Uint8Array, port: number): boolean => {
  socklen[0] = sockaddr.length
  if (f(fd, sockaddr, socklen) !== 0) return false
  if (((sockaddr[2]! << 8) | sockaddr[3]!) !== port) return false
  const family = sockaddr[0]! | (sockaddr[1]! << 8)
  const at = family === AF_INET && ip.length === 4 ? 4 : family === AF_INET6 && ip.length === 16 ? 8 : -1
  if (at < 0) return false
  for (let i = 0; i < ip.length; i++) if (sockaddr[at + i] !== ip[i]) return false
  return true
}

const descriptors = function*(deno: DenoNamespace): Iterable<number> {
  if (deno.permissions.querySync({ name: "read", path: "/proc/self/fd" }).state === "granted") {
    try {
      const fds: Array<number> = []
      for (const e of deno.readDirSync("/proc/self/fd")) fds.push(Number(e.name))
      yield* fds
      return
    } catch {
      // fall back to probing
    }
  }
  for (let fd = 0; fd < 65536; fd++) yield fd
}

/**
 * Resets a TCP connection (RST) without closing its descriptor; the caller
 * then closes the connection as usual. Returns false when it cannot (see the
 * module docs), leaving the connection untouched.
 */
export const sendReset = (deno: DenoNamespace, conn: TcpConn): boolean => {
  const lib = load(deno)
  if (lib === null) return false
  let local: NetAddr
  let remote: NetAddr
  try {
    local = conn.localAddr
    remote = conn.remoteAddr
  } catch {
    return false
  }
  const lip = ipBytes(local.hostname)
  const rip = ipBytes(remote.hostname)
  if (lip === undefined || rip === undefined) return false
  for (const fd of descriptors(deno)) {
    if (is(lib.getpeername, fd, rip, remote.port) && is(lib.getsockname, fd, lip, local.port)) {
      return lib.connect(fd, unspec, unspec.length) === 0
    }
  }
  return false
}

const IPPROTO_TCP = 6
const TCP_NODELAY = 1
const SOL_SOCKET = 1
const SO_KEEPALIVE = 9
const peer = new Uint8Array(128)
const peerLen = new Uint32Array(1)

/**
 * Sets TCP_NODELAY (and SO_KEEPALIVE when asked) on a listening TCP socket,
 * found like a connection above (bound to `addr`, with no peer): Linux copies
 * both to the sockets it accepts. For `Deno.listenTls`, whose connections have
 * no `setNoDelay`/`setKeepAlive`: one descriptor scan per listen instead of
 * one per connection. Returns false when it cannot (see {@link sendReset}).
 */
export const setListenerOptions = (
  deno: DenoNamespace,
  addr: NetAddr,
  noDelay: boolean,
  keepAlive: boolean
): boolean => {
  const lib = load(deno)
  if (lib === null) return false
  const ip = ipBytes(addr.hostname)
  if (ip === undefined) return false
  let done = false
  for (const fd of descriptors(deno)) {
    if (!is(lib.getsockname, fd, ip, addr.port)) continue
    peerLen[0] = peer.length
    if (lib.getpeername(fd, peer, peerLen) === 0) continue // a connection on that port, not the listener
    const ok = lib.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Int32Array([noDelay ? 1 : 0]), 4) === 0 &&
      (!keepAlive || lib.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, new Int32Array([1]), 4) === 0)
    // every listener on that address (several with reusePort)
    done = done || ok
  }
  return done
}
