/**
 * MessagePack message codec (via `msgpackr`): one MessagePack value per frame.
 *
 * ```
 *   { a: 1 }  ⇄  81 A1 61 01        (fixmap of 1, fixstr "a", positive fixint 1)
 *   [1, "x"]  ⇄  92 01 A1 78
 * ```
 *
 * Defaults give plain, interoperable, compact MessagePack (`useRecords: false`: no msgpackr
 * record extension; `variableMapSize: true`: fixmap/map16 sized to the map). A frame holding
 * anything but exactly one value (empty, truncated, trailing bytes, the unused byte 0xC1) is one
 * `MessageError`. Binary values in decoded messages are views into the frame unless
 * `copyBuffers: true` is set.
 *
 * @example
 * ```ts
 * import * as Msgpack from "./Msgpack.ts"
 * const encode = Msgpack.msgpack.encoder()
 * encode({ a: 1 }) // Right([81 A1 61 01])
 * ```
 *
 * @module @wirekit/core/msgpack
 * @since 0.1.0
 */
import { Either } from "effect"
import { C1, type Options as MsgpackrOptions, Packr, Unpackr } from "msgpackr"
import { type MessageCodec, MessageError } from "./MessageCodec.ts"

/**
 * `msgpackr` options (passed to its `Packr` and `Unpackr`).
 * ```
 *   { useRecords: false, variableMapSize: true }   (the defaults: { a: 1 } ⇄ 81 A1 61 01)
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export type Options = MsgpackrOptions

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * A MessagePack codec with the given `msgpackr` options (merged over
 * `{ useRecords: false, variableMapSize: true }`).
 * Each connection gets its own `Packr`/`Unpackr`, so msgpackr features with per-stream state
 * (`sequential` records, structures) are per connection.
 *
 * ```
 *   make({ useRecords: true, sequential: true })   // msgpackr records, both peers must use msgpackr
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): MessageCodec<unknown> => {
  const settings: Options = { useRecords: false, variableMapSize: true, ...options }
  const name = "msgpack"
  return {
    name,
    decoder() {
      const unpackr = new Unpackr(settings)
      return (frame) => {
        try {
          const value = unpackr.unpack(frame)
          if (value === C1) {
            return Either.left(
              new MessageError({ reason: "Decode", codec: name, detail: "0xC1 is not a MessagePack value" })
            )
          }
          return Either.right(value)
        } catch (error) {
          return Either.left(new MessageError({ reason: "Decode", codec: name, detail: describe(error), cause: error }))
        }
      }
    },
    encoder() {
      const packr = new Packr(settings)
      return (message) => {
        try {
          // a view of packr's buffer; later packs write after it, never over it
          return Either.right(packr.pack(message))
        } catch (error) {
          return Either.left(new MessageError({ reason: "Encode", codec: name, detail: describe(error), cause: error }))
        }
      }
    }
  }
}

/**
 * Plain MessagePack with default options. A map key `__proto__` decodes as
 * `__proto_` (msgpackr's guard against prototype pollution), so such objects
 * do not round-trip unchanged.
 *
 * ```
 *   msgpack.decoder()(new Uint8Array([0x92, 0x01, 0xa1, 0x78])) // Right([1, "x"])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const msgpack: MessageCodec<unknown> = make()
