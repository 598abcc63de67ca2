/**
 * A server-wide bound on input held for incomplete messages. Each codec
 * bounds one message (`maxFrameLength`, the RESP decoder's limits), but many
 * peers each sending most of a large message, then nothing, would together
 * hold many times that. Connections read through a `Framed` that shares an
 * `InputBudget` report what their decoder holds after every read; when the
 * total passes `maxBytes`, the connection holding the most is closed (its
 * read fails with a `FramingError` `FrameTooLarge` naming the budget, or, if
 * it is waiting for its next bytes, it is aborted at once), which gives the
 * memory back. Complete messages waiting to be handled are not counted: they
 * are bounded by the read batch and by `maxInFlight`.
 *
 * ```
 *   conn A ─ holds 8 MiB of a frame ─┐
 *   conn B ─ holds 8 MiB of a frame ─┼─ total 24 MiB > maxBytes 16 MiB → the largest holder is closed
 *   conn C ─ holds 8 MiB of a frame ─┘
 * ```
 *
 * `ProtocolServer.serve` makes one per server (`maxBufferedInput`); with
 * `Server`, make one and pass it to each connection's `Framed.make`.
 *
 * @example
 * ```ts
 * const budget = InputBudget.make({ maxBytes: 32 * 1024 * 1024 })
 * yield* Server.serve(address, (conn) => Framed.make(conn, LengthField.make({ fieldLength: 4 }), { budget }).pump(handle))
 * ```
 * @since 0.1.0
 */
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
}

/**
 * The default server-wide bound of `ProtocolServer.serve`: 32 MiB, four
 * messages of the default largest frame (8 MiB) at once.
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_BYTES: number = 32 * 1024 * 1024

/**
 * A budget of `maxBytes` (a positive integer; throws a `RangeError` otherwise).
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: { readonly maxBytes: number }) => InputBudget = internal.make
