// Self-test of the raw framed baselines' parser/encoder (lib/frames.mjs): a stream
// of frames cut into random chunks (split headers, split bodies, empty frames,
// many frames per chunk) must come back as exactly the same byte stream, and a
// too-large length must throw.   node bench/servers/lib/frames.selftest.mjs
import assert from "node:assert/strict"
import { makeFramedCodec } from "./frames.mjs"

let seed = 12345
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed % n
}

for (let round = 0; round < 300; round++) {
  const parts = []
  const count = 1 + rand(40)
  for (let i = 0; i < count; i++) {
    const len = rand(4) === 0 ? 0 : rand(3) === 0 ? rand(9000) : rand(100)
    const f = new Uint8Array(4 + len)
    new DataView(f.buffer).setUint32(0, len)
    for (let j = 0; j < len; j++) f[4 + j] = rand(256)
    parts.push(f)
  }
  const stream = Buffer.concat(parts)
  const codec = makeFramedCodec({ alloc: (n) => Buffer.allocUnsafe(n), handler: (p) => p })
  const outs = []
  for (let i = 0; i < stream.length;) {
    const n = Math.min(stream.length - i, 1 + (rand(3) === 0 ? rand(5) : rand(20000)))
    const out = codec.push(stream.subarray(i, i + n))
    if (out !== null) outs.push(Buffer.from(out))
    i += n
  }
  assert.deepEqual(Buffer.concat(outs), stream, `round ${round}`)
}

const small = makeFramedCodec({ alloc: (n) => new Uint8Array(n), handler: (p) => p, maxFrame: 10 })
assert.throws(() => small.push(new Uint8Array([0, 0, 0, 11])))
const split = makeFramedCodec({ alloc: (n) => new Uint8Array(n), handler: (p) => p, maxFrame: 10 })
assert.equal(split.push(new Uint8Array([0, 0])), null)
assert.throws(() => split.push(new Uint8Array([0, 11])))
console.log("frames.mjs: all checks passed")
