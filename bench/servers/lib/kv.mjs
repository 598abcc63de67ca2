// The raw kv baselines' request handler (suite `typed`), shared by
// raw-node-framed.mjs, raw-bun-echo.mjs and raw-deno-echo.mjs with `--kv`: the
// same wire format as the wirekit kv server (bench/src/kv.ts: Protocol.schema's
// JSON envelope, correlation byId) by hand, on top of the shared frame
// parser/encoder (lib/frames.mjs: every reply of one read in one write).
//
//   const handler = makeKvHandler({ decode, encode })   // payload bytes -> reply bytes
//
//   {"id":N,"request":{"_tag":"Get","key":K}}            -> {"id":N,"success":<value or null>}
//   {"id":N,"request":{"_tag":"Put","key":K,"value":V}}  -> {"id":N,"success":null}
//                                     V longer than 128  -> {"id":N,"failure":{"_tag":"TooLong","max":128}}
//   anything else that parses as a JSON object           -> {"id":N,"fault":{"reason":"BadRequest"}}
//
// JSON.parse / JSON.stringify of the envelope, a Map store. A frame that is not
// JSON throws (the caller closes the connection).

export const MAX_VALUE = 128

const utf8Decoder = new TextDecoder()
const utf8Encoder = new TextEncoder()

/** `decode(bytes) => string` and `encode(string) => bytes` default to TextDecoder/TextEncoder. */
export function makeKvHandler({ decode = (b) => utf8Decoder.decode(b), encode = (s) => utf8Encoder.encode(s) } = {}) {
  const store = new Map()
  return (payload) => {
    const m = JSON.parse(decode(payload))
    const id = m.id
    const req = m.request
    let reply
    if (req !== null && typeof req === "object" && typeof req.key === "string") {
      if (req._tag === "Get") {
        const v = store.get(req.key)
        reply = { id, success: v === undefined ? null : v }
      } else if (req._tag === "Put" && typeof req.value === "string") {
        if (req.value.length > MAX_VALUE) {
          reply = { id, failure: { _tag: "TooLong", max: MAX_VALUE } }
        } else {
          store.set(req.key, req.value)
          reply = { id, success: null }
        }
      }
    }
    if (reply === undefined) reply = { id, fault: { reason: "BadRequest" } }
    return encode(JSON.stringify(reply))
  }
}
