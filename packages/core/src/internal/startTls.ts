import type { Address } from "../Address.ts"
import type { ConnectionError } from "../Connection.ts"
import type { SocketDriver } from "../Driver.ts"
import type { StartTlsOptions, TlsInfo } from "../Tls.ts"
import { handshakeTimeoutMillis, startTlsSide, TlsError } from "../Tls.ts"

/** Where a connection's STARTTLS upgrade is (`Upgrade.phase`). */
export type Phase = typeof FLUSHING | typeof HANDSHAKING | typeof DONE
/** Reading stopped; waiting for what was written before to be sent. Bytes reported now are plain text: discarded. */
export const FLUSHING = 0
/** The adapter's handshake runs; the socket beneath is its TLS stream. */
export const HANDSHAKING = 1
/** Over (succeeded or failed). */
export const DONE = 2

/**
 * The driver of a connection while it upgrades: writes made meanwhile are
 * held, in order, and reported as over the high-water mark (writers wait for
 * `drain`), then go out through TLS once the handshake is done; an end waits
 * likewise. `destroy` and `reset` act on the socket beneath (the plain one,
 * then the TLS stream). Pausing and resuming are the upgrade's business.
 */
export class HoldingDriver implements SocketDriver {
  private held: Array<Uint8Array> = []
  private heldBytes = 0
  private ends: Array<(error?: ConnectionError) => void> = []

  constructor(public inner: SocketDriver) {}

  write(data: Uint8Array): boolean {
    this.held.push(data)
    this.heldBytes += data.length
    return false
  }

  writev(chunks: ReadonlyArray<Uint8Array>): boolean {
    for (const c of chunks) this.write(c)
    return false
  }

  pause(): void {}

  resume(): void {}

  end(done: (error?: ConnectionError) => void): void {
    this.ends.push(done)
  }

  destroy(): void {
    this.inner.destroy()
  }

  reset(): void {
    this.inner.reset()
  }

  writeBuffered(): number {
    return this.heldBytes + this.inner.writeBuffered()
  }

  /** The handshake succeeded: what was held goes to `driver`. Whether it is still under its high-water mark. */
  release(driver: SocketDriver): boolean {
    const held = this.held
    const ends = this.ends
    this.held = []
    this.heldBytes = 0
    this.ends = []
    const ok = held.length === 0 ? true : held.length === 1 ? driver.write(held[0]!) : driver.writev(held)
    for (const done of ends) driver.end(done)
    return ok
  }

  /** The upgrade failed: what was held is dropped, ends fail. */
  fail(error: ConnectionError): void {
    const ends = this.ends
    this.held = []
    this.heldBytes = 0
    this.ends = []
    for (const done of ends) done(error)
  }
}

/** One upgrade in progress (or done: it then keeps the count of discarded bytes). */
export interface Upgrade {
  phase: Phase
  readonly options: StartTlsOptions
  readonly holding: HoldingDriver
  /** Plain-text bytes discarded (see `Connection.startTls`). */
  discarded: number
  /** How it ended, once it has. */
  outcome: TlsInfo | TlsError | undefined
  /** Completes the `startTls` Effect. */
  resume: ((outcome: TlsInfo | TlsError) => void) | undefined
  /** Stops the wait for the plain-text output to be sent. */
  stopFlush: (() => void) | undefined
}

/** The handshake timeout of a `startTls`, in milliseconds. */
export const timeoutOf = (options: StartTlsOptions): number =>
  handshakeTimeoutMillis((options.server ?? options.client).handshakeTimeout)

/** A TlsError of the upgrade itself (not of the TLS library). */
export const upgradeError = (
  options: StartTlsOptions,
  address: Address,
  code: string,
  detail: string,
  extra?: { readonly reason?: TlsError["reason"]; readonly timeout?: number | undefined }
): TlsError =>
  new TlsError({
    reason: extra?.reason ?? "Other",
    side: startTlsSide(options),
    address,
    code,
    detail,
    ...(extra?.timeout !== undefined ? { timeout: extra.timeout } : {})
  })

/** True for the failure an adapter reports to `done` (a TlsInfo is a plain record). */
export const isTlsError = (u: TlsInfo | TlsError): u is TlsError => u instanceof TlsError

/**
 * Calls `ready` once `driver` holds no unsent byte: at once when it holds
 * none (the usual case), else by polling (an adapter reports `drain` only
 * below its high-water mark, not at zero). Returns the function that stops.
 */
export const whenFlushed = (driver: SocketDriver, ready: () => void): () => void => {
  if (driver.writeBuffered() === 0) {
    ready()
    return () => {}
  }
  let delay = 1
  let timer: ReturnType<typeof setTimeout> | undefined
  const check = () => {
    timer = undefined
    if (driver.writeBuffered() === 0) return ready()
    delay = Math.min(delay * 2, 50)
    timer = setTimeout(check, delay)
  }
  timer = setTimeout(check, delay)
  return () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
  }
}
