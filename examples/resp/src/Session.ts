/**
 * Per-connection command state: protocol version, selected database, client name.
 *
 * ```
 *   makeSession({ id: 7 })  →  { id: 7, protocol: 2, db: 0, name: null, closeRequested: false, ... }
 *   execute(store, ["HELLO", "3"], session)   → session.protocol = 3 (encode this reply and the next ones as RESP3)
 *   execute(store, ["QUIT"], session)         → session.closeRequested = true (write "+OK", then close)
 * ```
 *
 * @since 0.1.0
 */
import type { Protocol } from "./resp/Reply.ts"

/** Mutable state of one connection, read and changed by `execute`. */
export interface Session {
  /** Client id (`CLIENT ID`, `HELLO`), chosen by the server. */
  readonly id: number
  /** RESP version for encoding this connection's replies; `HELLO 2|3` changes it. */
  protocol: Protocol
  /** Selected database (only 0 exists). */
  db: number
  /** `CLIENT SETNAME` / `HELLO ... SETNAME` (null: none). */
  name: Uint8Array | null
  /** `CLIENT SETINFO lib-name`. */
  libName: string | null
  /** `CLIENT SETINFO lib-ver`. */
  libVersion: string | null
  /** Set by `QUIT`: write the pending replies, then close the connection. */
  closeRequested: boolean
  /** Peer address for `CLIENT LIST`, e.g. `"127.0.0.1:51234"`. */
  readonly addr: string
  /** Local address for `CLIENT LIST`, e.g. `"127.0.0.1:6379"`. */
  readonly laddr: string
}

/** Options of {@link makeSession}. */
export interface SessionOptions {
  readonly id: number
  readonly addr?: string
  readonly laddr?: string
}

/** A fresh session: RESP2, database 0, no name. */
export const makeSession = (options: SessionOptions): Session => ({
  id: options.id,
  protocol: 2,
  db: 0,
  name: null,
  libName: null,
  libVersion: null,
  closeRequested: false,
  addr: options.addr ?? "?:0",
  laddr: options.laddr ?? "?:0"
})
