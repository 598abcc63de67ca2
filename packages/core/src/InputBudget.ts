/**
 * A server-wide bound on input held for incomplete messages. Each codec
 * bounds one message (`maxFrameLength`, the RESP decoder's limits), but many
 * peers each sending most of a large message, then nothing, would together
 * hold many times that. Connections read through a `Framed` that shares an
 * `InputBudget` report what their decoder holds after every read.
 *
 * When the total passes `maxBytes`:
 *
 * - a connection that holds part of a message and reads more is paused (not
 *   read: its peer's bytes wait in the kernel, under TCP flow control) until
 *   the total is back within `maxBytes`;
 * - while readers wait, every `evictAfter` the connection whose incomplete
 *   message is the oldest is closed (its read fails with a `FramingError`
 *   `FrameTooLarge` naming the budget, or it is aborted), which gives its
 *   memory back: peers that stop halfway cannot keep the others waiting;
 * - the reads of paused connections may take the total past `maxBytes` (by
 *   at most one read each); a read that takes it past `hardBytes` closes
 *   its connection at once (its bytes are all that is thrown away);
 * - one message alone larger than `maxBytes` closes its connection at once
 *   (it could never fit).
 *
 * Complete messages waiting to be handled are not counted: they are bounded
 * by the read batch and by `maxInFlight`.
 *
 * ```
 *   conn A ─ holds 8 MiB of a frame (oldest) ─┐
 *   conn B ─ holds 8 MiB of a frame ──────────┼─ total 16 MiB = maxBytes
 *   conn C ─ reads its first 64 KiB ──────────┘  → total past maxBytes: C is paused
 *   evictAfter later, still past: A is closed → C is read again
 * ```
 *
 * Pausing instead of closing is what keeps memory flat under many such
 * peers: a closed connection's bytes were read for nothing, and would be
 * garbage the runtime collects later; a paused one's were never read.
 *
 * `ProtocolServer.serve` makes one per server (`maxBufferedInput`); with
 * `Server`, make one and pass it to each connection's `Framed.make`.
 *
 * @example
 * ```ts
 * const budget = InputBudget.make({ maxBytes: 16 * 1024 * 1024 })
 * yield* Server.serve(address, (conn) => Framed.make(conn, LengthField.make({ fieldLength: 4 }), { budget }).pump(handle))
 * ```
 * @since 0.1.0
 */
import type { Duration } from "effect"
import * as internal from "./internal/inputBudget.ts"

/**
 * A shared bound on the bytes held by incomplete messages across connections.
 * @since 0.1.0
 * @category models
 */
export interface InputBudget {
  /** The bound, in bytes. */
  readonly maxBytes: number
  /** Bytes held now by incomplete messages of every connection sharing it. */
  held(): number
  /** Connections closed so far to stay within it. */
  evictions(): number
  /** Times a connection was paused because the budget was spent. */
  pauses(): number
}

/**
 * Options of {@link make}.
 * @since 0.1.0
 * @category models
 */
export interface InputBudgetOptions {
  /** The bound, in bytes (a positive integer): past it, readers holding part of a message are paused. */
  readonly maxBytes: number
  /**
   * A read that takes the total past this closes its connection at once.
   * Default `maxBytes` + 25 %. At least `maxBytes`.
   */
  readonly hardBytes?: number | undefined
  /**
   * While readers are paused, how often the connection with the oldest
   * incomplete message is closed to make room (on the Clock). Default 5 seconds.
   */
  readonly evictAfter?: Duration.DurationInput | undefined
}

/**
 * The default server-wide bound of `ProtocolServer.serve`: 16 MiB, two
 * messages of the default largest frame (8 MiB) at once. Past it readers of
 * incomplete messages wait rather than being closed, so a smaller bound costs
 * concurrency of large uploads, not errors; raise it (`maxBufferedInput`) for
 * servers with many peers sending large messages at once.
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_BYTES: number = 16 * 1024 * 1024

/**
 * A budget of `maxBytes` (throws a `RangeError` when an option is out of range).
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: InputBudgetOptions) => InputBudget = internal.make
