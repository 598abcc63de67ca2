/**
 * A chat user for the chat's end-to-end tests: reads lines (CRLF or LF) and
 * waits for the ones it expects. On a raw socket (what `nc` does), or on the
 * pipes of a client process (openssl s_client, the chat client).
 */
import * as Net from "node:net"
import type { Readable, Writable } from "node:stream"
import { StringDecoder } from "node:string_decoder"
import { expect } from "vitest"

/** The welcome line a chat server greets each newcomer with; it names the guest. */
const welcome = /^\* welcome to wirekit chat, (guest-\d+)!/

/** A line waited for, and the lines that came before it since the last one taken. */
export interface Received {
  readonly line: string
  readonly skipped: Array<string>
}

/** A chat user: the lines it got, and waits for the ones it expects. */
export class LineClient {
  /** Every line received, in order. */
  readonly lines: Array<string> = []
  /** Everything received, line ends included. */
  raw = ""
  closed = false
  /** The guest name of the welcome line, then each nickname taken with `rename`. */
  nick = ""
  /** On a socket, its own port once connected: what a server must see as the client's. */
  localPort = 0
  private cursor = 0
  private partial = ""
  /** The pending `until`s, woken when a line comes or the server closes. */
  private readonly waiters = new Set<() => void>()

  /** `incoming`: what the server says; `outgoing`: where our lines go; `stop`: hang up at once. */
  private constructor(incoming: Readable, private readonly outgoing: Writable, private readonly stop: () => void) {
    // decoded here, not with setEncoding: other listeners of a client process's stdout may want its bytes
    const utf8 = new StringDecoder("utf8")
    incoming.on("data", (bytes: Buffer) => {
      const text = utf8.write(bytes)
      this.raw += text
      const parts = (this.partial + text).split(/\r?\n/)
      this.partial = parts.pop()!
      this.lines.push(...parts)
      this.wakeAll()
    })
    incoming.on("error", () => {})
    outgoing.on("error", () => {})
    incoming.on("close", () => {
      this.closed = true
      this.wakeAll()
    })
  }

  /** A client on a raw socket to `port` on 127.0.0.1, once connected; nothing read yet. */
  static open(port: number): Promise<LineClient> {
    const socket = Net.connect({ host: "127.0.0.1", port })
    const client = new LineClient(socket, socket, () => socket.destroy())
    return new Promise((resolve, reject) => {
      socket.once("error", reject)
      socket.once("connect", () => {
        socket.off("error", reject)
        client.localPort = socket.localPort!
        resolve(client)
      })
    })
  }

  /** Connects on a raw socket and reads the welcome line. */
  static async connect(port: number): Promise<LineClient> {
    return (await LineClient.open(port)).greeted()
  }

  /** A user behind a client process that talks on its stdin and stdout; reads the welcome line. */
  static over(
    process: { readonly stdin: Writable; readonly stdout: Readable; readonly kill: () => unknown }
  ): Promise<LineClient> {
    return new LineClient(process.stdout, process.stdin, () => process.kill()).greeted()
  }

  /** Reads the welcome line and takes the guest name it gives. */
  private async greeted(): Promise<LineClient> {
    const { line } = await this.until(welcome)
    this.nick = welcome.exec(line)![1]!
    return this
  }

  /** Writes `text` as it is (line ends included, or not). */
  send(text: string | Uint8Array): void {
    this.outgoing.write(text)
  }

  /** Writes `line` and a LF. */
  sendLine(line: string): void {
    this.send(`${line}\n`)
  }

  /** Ends our side (after `text`): the server reads what came before, then closes. */
  end(text?: string): void {
    this.outgoing.end(text)
  }

  /**
   * Waits for the next line matching `pattern` (a string matches a whole
   * line), after those already taken; returns it with the lines skipped on
   * the way. Fails after `ms`, or at once when the server has closed.
   */
  async until(pattern: RegExp | string, ms = 10_000): Promise<Received> {
    const matches = (l: string) => (typeof pattern === "string" ? l === pattern : pattern.test(l))
    const deadline = Date.now() + ms
    for (;;) {
      for (let i = this.cursor; i < this.lines.length; i++) {
        if (matches(this.lines[i]!)) {
          const skipped = this.lines.slice(this.cursor, i)
          this.cursor = i + 1
          return { line: this.lines[i]!, skipped }
        }
      }
      const left = deadline - Date.now()
      if (left <= 0 || this.closed) {
        throw new Error(
          `${this.nick || "client"}: no line matching ${pattern} (${this.closed ? "closed" : "timeout"}); got: ${
            JSON.stringify(this.lines.slice(this.cursor))
          }`
        )
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer)
          this.waiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(wake, left)
        this.waiters.add(wake)
      })
    }
  }

  /** Sends a command and returns its answer (`+ ...` or `! ...`) and the lines that came before it. */
  async command(line: string): Promise<Received> {
    this.sendLine(line)
    return this.until(/^[+!] /)
  }

  /** Renames to `nick` (must succeed). */
  async rename(nick: string): Promise<void> {
    expect((await this.command(`/nick ${nick}`)).line).toBe(`+ you are now ${nick}`)
    this.nick = nick
  }

  /** Asks `command` every 100 ms until its answer satisfies `check`; fails after `ms` with the last answer. */
  async eventually(command: string, check: (answer: string) => boolean, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms
    let answer = ""
    while (Date.now() < deadline) {
      answer = (await this.command(command)).line
      if (check(answer)) return answer
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`${this.nick}: ${command} still answers ${JSON.stringify(answer)} after ${ms}ms`)
  }

  /** Resolves once the server closed the connection. */
  async awaitClose(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    if (!this.closed) throw new Error(`${this.nick}: still open after ${ms}ms`)
  }

  close(): void {
    this.stop()
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake()
  }
}
