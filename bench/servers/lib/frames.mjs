// Shared by the raw framed baselines (node, bun, deno): an incremental parser
// for 4-byte big-endian length-prefixed frames and a batched re-encoder.
//
//   const codec = makeFramedCodec({ alloc, handler })
//   const out = codec.push(chunk)   // Uint8Array to write (every reply of this chunk), or null
//
// - Frames lying inside the chunk are views into it (no copy); a frame split
//   across chunks is copied once into a buffer of exactly its size, allocated
//   when its header is complete.
// - Each complete frame's payload goes through `handler(payload) => reply`;
//   every reply of one chunk is encoded (length + bytes) into ONE buffer of
//   exactly the right size, so the caller writes once per chunk.
// - A declared length above `maxFrame` throws (the caller closes the socket).
//
// This is deliberately what a careful hand-written framed server does: decode,
// hand each frame to a handler, encode the replies, one write per read. It does
// NOT take the shortcut of writing the received byte range back unchanged
// (that would be the byte echo of the `echo` suite, not framing).

export const MAX_FRAME = 8 * 1024 * 1024

export function makeFramedCodec({ alloc, handler, maxFrame = MAX_FRAME }) {
  const hdr = new Uint8Array(4)
  let hdrFill = 0 // bytes of a split header collected (body === null)
  let body = null // frame being completed across chunks
  let bodyFill = 0
  const replies = []
  let outSize = 0

  const emit = (payload) => {
    const reply = handler(payload)
    if (reply != null) {
      replies.push(reply)
      outSize += 4 + reply.length
    }
  }
  const startBody = (len) => {
    if (len > maxFrame) throw new RangeError(`frame of ${len} bytes exceeds ${maxFrame}`)
    body = alloc(len)
    bodyFill = 0
  }

  const push = (chunk) => {
    const n = chunk.length
    let i = 0
    // 1. complete the frame left over from the previous chunk
    if (body === null && hdrFill > 0) {
      while (hdrFill < 4 && i < n) hdr[hdrFill++] = chunk[i++]
      if (hdrFill < 4) return null
      hdrFill = 0
      startBody(((hdr[0] << 24) | (hdr[1] << 16) | (hdr[2] << 8) | hdr[3]) >>> 0)
    }
    if (body !== null) {
      const take = Math.min(body.length - bodyFill, n - i)
      if (take > 0) body.set(take === n && i === 0 ? chunk : chunk.subarray(i, i + take), bodyFill)
      bodyFill += take
      i += take
      if (bodyFill < body.length) return null
      const done = body
      body = null
      emit(done)
    }
    // 2. frames inside this chunk: views, no copy
    while (n - i >= 4) {
      const len = ((chunk[i] << 24) | (chunk[i + 1] << 16) | (chunk[i + 2] << 8) | chunk[i + 3]) >>> 0
      if (n - i - 4 >= len) {
        emit(chunk.subarray(i + 4, i + 4 + len))
        i += 4 + len
      } else {
        startBody(len)
        body.set(chunk.subarray(i + 4), 0)
        bodyFill = n - i - 4
        i = n
      }
    }
    // 3. a split header (< 4 bytes) at the end
    while (i < n) hdr[hdrFill++] = chunk[i++]
    if (replies.length === 0) return null
    // 4. encode every reply of this chunk into one buffer
    const out = alloc(outSize)
    let o = 0
    for (let k = 0; k < replies.length; k++) {
      const r = replies[k]
      const len = r.length
      out[o] = len >>> 24
      out[o + 1] = (len >>> 16) & 0xff
      out[o + 2] = (len >>> 8) & 0xff
      out[o + 3] = len & 0xff
      out.set(r, o + 4)
      o += 4 + len
    }
    replies.length = 0
    outSize = 0
    return out
  }
  return { push }
}

/**
 * `--port N --host H --mode echo|sink [--tls-cert PATH --tls-key PATH]` (the runner's server
 * contract; with the TLS pair the server speaks TLS, suites `echo-tls`, `framed-tls`,
 * `handshake`). Returns options (`tlsCert`/`tlsKey`: paths or null) or an error string.
 */
export function parseServerArgs(argv) {
  const opts = { port: 0, host: "127.0.0.1", mode: "echo", tlsCert: null, tlsKey: null }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]
    const value = argv[i + 1]
    if (value === undefined) return `missing value for ${key}`
    if (key === "--port") opts.port = Number(value)
    else if (key === "--host") opts.host = value
    else if (key === "--mode") opts.mode = value
    else if (key === "--tls-cert") opts.tlsCert = value
    else if (key === "--tls-key") opts.tlsKey = value
    else return `unknown option ${key}`
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) return "bad --port"
  if (opts.mode !== "echo" && opts.mode !== "sink") return "--mode must be echo or sink"
  if ((opts.tlsCert === null) !== (opts.tlsKey === null)) return "--tls-cert and --tls-key go together"
  return opts
}
