import { Address, ProxyProtocol } from "@wirekit/core"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { formatIPv6, parseIPv6 } from "../src/internal/ip.ts"
import { crc32c } from "../src/internal/proxyProtocol.ts"

const ascii = (s: string) => new TextEncoder().encode(s)
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)))
const cat = (...parts: ReadonlyArray<Uint8Array>) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const SIG = "0d0a0d0a000d0a515549540a"

/** Feeds `chunks` in order; the header and every byte after it. */
const feedAll = (chunks: ReadonlyArray<Uint8Array>, options?: ProxyProtocol.ParserOptions) => {
  const parser = ProxyProtocol.makeParser(options)
  for (let i = 0; i < chunks.length; i++) {
    const r = parser.feed(chunks[i]!)
    if (r._tag === "NeedMore") continue
    if (r._tag === "Failed") return { failed: r.error }
    return { header: r.header, rest: cat(chunks[i]!.subarray(r.consumed), ...chunks.slice(i + 1)) }
  }
  return { needMore: parser.seen() }
}

const done = (bytes: Uint8Array, options?: ProxyProtocol.ParserOptions) => {
  const r = ProxyProtocol.parse(bytes, options)
  if (r._tag !== "Done") throw new Error(`expected Done, got ${r._tag}: ${r._tag === "Failed" ? r.error.message : ""}`)
  return r
}
const failed = (bytes: Uint8Array, options?: ProxyProtocol.ParserOptions) => {
  const r = ProxyProtocol.parse(bytes, options)
  if (r._tag !== "Failed") throw new Error(`expected Failed, got ${r._tag}`)
  return r.error
}

// Vectors from the specification's examples and limits, written out by hand (not by the encoder).
const vectors: ReadonlyArray<{ name: string; bytes: Uint8Array; header: Partial<ProxyProtocol.Header> }> = [
  {
    name: "v1 TCP4",
    bytes: ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
    header: {
      version: 1,
      command: "PROXY",
      family: "INET",
      transport: "STREAM",
      source: Address.tcp("192.168.0.1", 56324),
      destination: Address.tcp("192.168.0.11", 443),
      length: 47
    }
  },
  {
    name: "v1 TCP6 (upper case, uncompressed: canonical text out)",
    bytes: ascii("PROXY TCP6 2001:0DB8:0:0:0:0:0:1 ::1 65535 0\r\n"),
    header: { family: "INET6", source: Address.tcp("2001:db8::1", 65535), destination: Address.tcp("::1", 0) }
  },
  {
    name: "v1 TCP6, the longest addresses (104 bytes)",
    bytes: ascii(`PROXY TCP6 ${"ffff:".repeat(7)}ffff ${"ffff:".repeat(7)}ffff 65535 65535\r\n`),
    header: { family: "INET6", length: 104, source: Address.tcp(`${"ffff:".repeat(7)}ffff`, 65535) }
  },
  {
    name: "v1 UNKNOWN",
    bytes: ascii("PROXY UNKNOWN\r\n"),
    header: { version: 1, family: "UNSPEC", transport: "UNSPEC", source: undefined, destination: undefined }
  },
  {
    name: "v1 UNKNOWN, the longest line (107 bytes, the rest ignored)",
    bytes: ascii(`PROXY UNKNOWN ${"ffff:".repeat(7)}ffff ${"ffff:".repeat(7)}ffff 65535 65535\r\n`),
    header: { family: "UNSPEC", length: 107, source: undefined }
  },
  {
    name: "v2 PROXY TCP4",
    bytes: hex(`${SIG} 21 11 000c c0a80001 c0a8000b dc04 01bb`),
    header: {
      version: 2,
      command: "PROXY",
      family: "INET",
      transport: "STREAM",
      source: Address.tcp("192.168.0.1", 56324),
      destination: Address.tcp("192.168.0.11", 443),
      tlvs: [],
      length: 28
    }
  },
  {
    name: "v2 PROXY TCP6",
    bytes: hex(`${SIG} 21 21 0024 20010db8000000000000000000000001 00000000000000000000ffffc0000201 1f90 0050`),
    header: {
      family: "INET6",
      source: Address.tcp("2001:db8::1", 8080),
      destination: Address.tcp("::ffff:192.0.2.1", 80),
      length: 52
    }
  },
  {
    name: "v2 PROXY UDP4",
    bytes: hex(`${SIG} 21 12 000c 0a000001 0a000002 0035 0035`),
    header: { family: "INET", transport: "DGRAM", source: Address.tcp("10.0.0.1", 53) }
  },
  {
    name: "v2 PROXY UNIX stream",
    bytes: cat(
      hex(`${SIG} 21 31 00d8`),
      ascii("/run/client.sock"),
      new Uint8Array(108 - 16),
      ascii("/run/app.sock"),
      new Uint8Array(108 - 13)
    ),
    header: {
      family: "UNIX",
      source: Address.unix("/run/client.sock"),
      destination: Address.unix("/run/app.sock"),
      length: 232
    }
  },
  {
    name: "v2 LOCAL (health check)",
    bytes: hex(`${SIG} 20 00 0000`),
    header: { version: 2, command: "LOCAL", family: "UNSPEC", source: undefined, length: 16 }
  },
  {
    name: "v2 LOCAL with addresses and a TLV: all ignored",
    bytes: hex(`${SIG} 20 11 0010 7f000001 7f000001 0001 0002 04 0001 00`),
    header: { command: "LOCAL", family: "INET", source: undefined, tlvs: [] }
  },
  {
    name: "v2 PROXY UNSPEC: no addresses",
    bytes: hex(`${SIG} 21 00 0003 aabbcc`),
    header: { command: "PROXY", family: "UNSPEC", source: undefined, tlvs: [] }
  }
]

describe("ProxyProtocol parser: specification vectors", () => {
  for (const v of vectors) {
    it(`${v.name}: parsed, then every split point gives the same header and leaves the data intact`, () => {
      const data = ascii("GET / HTTP/1.1\r\n")
      const whole = done(cat(v.bytes, data))
      expect(whole.header).toMatchObject(v.header)
      expect(whole.consumed).toBe(v.bytes.length)
      expect(whole.header.length).toBe(v.bytes.length)
      const all = cat(v.bytes, data)
      for (let k = 0; k <= all.length; k++) {
        const r = feedAll([all.subarray(0, k), all.subarray(k)])
        expect(r.header).toEqual(whole.header)
        expect(r.rest).toEqual(data)
      }
      // byte by byte: NeedMore until the last header byte, never more
      const parser = ProxyProtocol.makeParser()
      for (let k = 0; k < v.bytes.length - 1; k++) expect(parser.feed(v.bytes.subarray(k, k + 1))._tag).toBe("NeedMore")
      const last = parser.feed(cat(v.bytes.subarray(v.bytes.length - 1), data))
      expect(last._tag === "Done" && last.consumed).toBe(1)
    })
  }

  it("any chunking (random): the header and the bytes after it are the same", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...vectors),
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (v, data, cuts) => {
          const all = cat(v.bytes, data)
          const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b)
          const chunks: Array<Uint8Array> = []
          let at = 0
          for (const p of points) {
            chunks.push(all.subarray(at, p))
            at = p
          }
          chunks.push(all.subarray(at))
          const r = feedAll(chunks)
          expect(r.header).toEqual(done(all).header)
          expect(r.rest).toEqual(data)
        }
      )
    )
  })

  it("v2 TLVs: ALPN, AUTHORITY, UNIQUE_ID, NETNS, NOOP and SSL with its sub-TLVs are decoded; all are listed in order", () => {
    const tlv = (type: number, value: Uint8Array) =>
      cat(Uint8Array.of(type, value.length >> 8, value.length & 0xff), value)
    const ssl = cat(
      Uint8Array.of(0x07, 0, 0, 0, 0),
      tlv(0x21, ascii("TLSv1.3")),
      tlv(0x22, ascii("client.example")),
      tlv(0x23, ascii("TLS_AES_128_GCM_SHA256"))
    )
    const block = cat(
      hex("7f000001 7f000002 1234 0050"),
      tlv(0x01, ascii("h2")),
      tlv(0x02, ascii("example.com")),
      tlv(0x05, Uint8Array.of(1, 2, 3)),
      tlv(0x04, new Uint8Array(5)),
      tlv(0x30, ascii("blue")),
      tlv(0x20, ssl),
      tlv(0xe1, ascii("custom"))
    )
    const bytes = cat(hex(`${SIG} 21 11`), Uint8Array.of(block.length >> 8, block.length & 0xff), block)
    const { header } = done(bytes)
    expect(header.alpn).toBe("h2")
    expect(header.authority).toBe("example.com")
    expect(header.uniqueId).toEqual(Uint8Array.of(1, 2, 3))
    expect(header.netns).toBe("blue")
    expect(header.ssl).toMatchObject({
      client: 7,
      verify: 0,
      version: "TLSv1.3",
      commonName: "client.example",
      cipher: "TLS_AES_128_GCM_SHA256"
    })
    expect(header.tlvs.map((t) => t.type)).toEqual([0x01, 0x02, 0x05, 0x04, 0x30, 0x20, 0xe1])
    expect(header.tlvs[6]!.value).toEqual(ascii("custom"))
  })

  it("CRC32c: the check value of \"123456789\"; a header with a right checksum passes, a wrong one is Malformed", () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283)
    const good = ProxyProtocol.encode({
      source: Address.tcp("10.1.2.3", 1),
      destination: Address.tcp("10.1.2.4", 2),
      crc32c: true
    }, 2)
    expect(done(good).header.tlvs.map((t) => t.type)).toEqual([0x03])
    const bad = good.slice()
    bad[bad.length - 1] ^= 1
    expect(failed(bad)).toMatchObject({ reason: "Malformed" })
    expect(failed(bad).detail).toMatch(/CRC32C/)
    const flipped = good.slice()
    flipped[17] ^= 1 // an address byte
    expect(failed(flipped).reason).toBe("Malformed")
  })
})

describe("ProxyProtocol parser: refusals", () => {
  const cases: ReadonlyArray<[string, Uint8Array, ProxyProtocol.ProxyProtocolErrorReason, number?]> = [
    ["an HTTP request (no header): decided on the first byte", ascii("GET / HTTP/1.1\r\n"), "Missing", 1],
    ["a TLS ClientHello", hex("16030100"), "Missing", 1],
    ["PROXY without its space", ascii("PROXY\r\n"), "Missing", 6],
    ["the v2 signature, wrong in its last byte", hex("0d0a0d0a000d0a5155495400"), "Missing", 12],
    ["v1 with LF only", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80 8080\n"), "Malformed"],
    ["v1 without CRLF within 107 bytes", ascii(`PROXY UNKNOWN ${"x".repeat(120)}`), "Malformed", 107],
    ["v1 bad IPv4", ascii("PROXY TCP4 256.1.1.1 5.6.7.8 80 8080\r\n"), "Malformed"],
    ["v1 IPv4 with a leading zero", ascii("PROXY TCP4 01.1.1.1 5.6.7.8 80 8080\r\n"), "Malformed"],
    ["v1 IPv6 on TCP4", ascii("PROXY TCP4 ::1 ::1 80 8080\r\n"), "Malformed"],
    ["v1 IPv4 on TCP6", ascii("PROXY TCP6 1.2.3.4 5.6.7.8 80 8080\r\n"), "Malformed"],
    ["v1 double space", ascii("PROXY TCP4 1.2.3.4  5.6.7.8 80 8080\r\n"), "Malformed"],
    ["v1 missing port", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n"), "Malformed"],
    ["v1 port 65536", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n"), "Malformed"],
    ["v1 port with a leading zero", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n"), "Malformed"],
    ["v1 trailing space", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80 80 \r\n"), "Malformed"],
    ["v1 a zone in an IPv6 address", ascii("PROXY TCP6 fe80::1%eth0 ::1 80 80\r\n"), "Malformed"],
    ["v1 a control byte", ascii("PROXY TCP4 1.2.3.4\t5.6.7.8 80 80\r\n"), "Malformed"],
    ["v1 another protocol", ascii("PROXY UDP4 1.2.3.4 5.6.7.8 80 80\r\n"), "Unsupported"],
    ["v2 version nibble 1", hex(`${SIG} 11 11 000c 00000000 00000000 0000 0000`), "Unsupported", 16],
    ["v2 command 2", hex(`${SIG} 22 11 000c`), "Unsupported", 16],
    ["v2 family 4", hex(`${SIG} 21 41 0000`), "Unsupported", 16],
    ["v2 protocol 3", hex(`${SIG} 21 13 0000`), "Unsupported", 16],
    ["v2 INET with protocol UNSPEC", hex(`${SIG} 21 10 000c 00000000 00000000 0000 0000`), "Unsupported"],
    ["v2 INET with 8 bytes of addresses", hex(`${SIG} 21 11 0008 00000000 00000000`), "Malformed"],
    ["v2 INET6 with 12 bytes of addresses", hex(`${SIG} 21 21 000c 00000000 00000000 0000 0000`), "Malformed"],
    ["v2 a TLV past the end", hex(`${SIG} 21 11 0010 00000000 00000000 0000 0000 01 0005 68`), "Malformed"],
    ["v2 two bytes after the last TLV", hex(`${SIG} 21 11 000e 00000000 00000000 0000 0000 0100`), "Malformed"],
    ["v2 a CRC32C TLV of 3 bytes", hex(`${SIG} 21 11 0012 00000000 00000000 0000 0000 03 0003 000000`), "Malformed"],
    ["v2 an SSL TLV of 4 bytes", hex(`${SIG} 21 11 0013 00000000 00000000 0000 0000 20 0004 00000000`), "Malformed"],
    ["v2 announcing 65535 bytes: TooLarge after the 16 fixed bytes", hex(`${SIG} 21 11 ffff 00000000`), "TooLarge", 16]
  ]
  for (const [name, bytes, reason, seen] of cases) {
    it(`${name}: ${reason}`, () => {
      const error = failed(bytes)
      expect(error).toBeInstanceOf(ProxyProtocol.ProxyProtocolError)
      expect(error.reason).toBe(reason)
      if (seen !== undefined) expect(error.bytes).toBe(seen)
      expect(error.message).toContain(reason)
    })
  }

  it("a UNIQUE_ID of 129 bytes is Malformed (at most 128)", () => {
    const header = ProxyProtocol.encode({
      source: Address.tcp("1.2.3.4", 1),
      destination: Address.tcp("1.2.3.5", 2),
      tlvs: [{ type: 0x05, value: new Uint8Array(129) }]
    }, 2)
    expect(failed(header).reason).toBe("Malformed")
  })

  it("maxHeaderBytes: a header of exactly the limit passes, one byte more is TooLarge before its body arrives", () => {
    const tlvOf = (n: number) => [{ type: 0xe0, value: new Uint8Array(n) }]
    const at = (total: number) =>
      ProxyProtocol.encode({
        source: Address.tcp("1.2.3.4", 1),
        destination: Address.tcp("1.2.3.5", 2),
        tlvs: tlvOf(total - 28 - 3)
      }, 2)
    expect(done(at(4096)).header.length).toBe(4096)
    expect(failed(at(4097).subarray(0, 16))).toMatchObject({ reason: "TooLarge", bytes: 16 })
    expect(done(at(600), { maxHeaderBytes: 600 }).header.length).toBe(600)
    expect(failed(at(601), { maxHeaderBytes: 600 }).reason).toBe("TooLarge")
    expect(done(at(65551), { maxHeaderBytes: 65551 }).header.length).toBe(65551)
  })

  it("versions: a header of a version turned off is Unsupported", () => {
    expect(failed(ascii("PROXY UNKNOWN\r\n"), { versions: [2] }).reason).toBe("Unsupported")
    expect(failed(hex(`${SIG} 20 00 0000`), { versions: [1] }).reason).toBe("Unsupported")
    expect(done(hex(`${SIG} 20 00 0000`), { versions: [2] }).header.command).toBe("LOCAL")
  })

  it("after Done or Failed, feeding repeats the result; an empty chunk is NeedMore", () => {
    const parser = ProxyProtocol.makeParser()
    expect(parser.feed(new Uint8Array(0))._tag).toBe("NeedMore")
    const first = parser.feed(ascii("PROXY UNKNOWN\r\nrest"))
    expect(parser.feed(ascii("more"))).toBe(first)
    const bad = ProxyProtocol.makeParser()
    const f = bad.feed(ascii("x"))
    expect(bad.feed(ascii("PROXY UNKNOWN\r\n"))).toBe(f)
  })

  it("parser options are checked when it is made", () => {
    for (
      const options of [{ maxHeaderBytes: 231 }, { maxHeaderBytes: 65552 }, { maxHeaderBytes: 1000.5 }, {
        versions: []
      }, { versions: [3 as 1] }]
    ) {
      expect(() => ProxyProtocol.makeParser(options)).toThrow(ProxyProtocol.ProxyProtocolError)
    }
    expect(ProxyProtocol.makeParser({ maxHeaderBytes: 232 }).seen()).toBe(0)
  })
})

describe("the module docs' example", () => {
  it("the header ends where the request starts", () => {
    const result = ProxyProtocol.makeParser().feed(ascii("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\nGET /"))
    expect(result._tag).toBe("Done")
    if (result._tag !== "Done") return
    expect(result.header.source).toEqual({ host: "192.0.2.10", port: 56324 })
    expect(result.consumed).toBe(46)
  })
})

describe("ProxyProtocol.encode", () => {
  it("writes the specification's forms", () => {
    expect(
      new TextDecoder().decode(
        ProxyProtocol.encode({
          source: Address.tcp("192.168.0.1", 56324),
          destination: Address.tcp("192.168.0.11", 443)
        })
      )
    )
      .toBe("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")
    expect(
      ProxyProtocol.encode(
        { source: Address.tcp("192.168.0.1", 56324), destination: Address.tcp("192.168.0.11", 443) },
        2
      )
    )
      .toEqual(hex(`${SIG} 21 11 000c c0a80001 c0a8000b dc04 01bb`))
    expect(ProxyProtocol.encode({ command: "LOCAL" }, 2)).toEqual(hex(`${SIG} 20 00 0000`))
    expect(new TextDecoder().decode(ProxyProtocol.encode({}))).toBe("PROXY UNKNOWN\r\n")
    // mixed families: both as IPv6, the IPv4 one mapped
    expect(
      new TextDecoder().decode(
        ProxyProtocol.encode({ source: Address.tcp("10.0.0.1", 1), destination: Address.tcp("::1", 2) })
      )
    )
      .toBe("PROXY TCP6 ::ffff:10.0.0.1 ::1 1 2\r\n")
    expect(() => ProxyProtocol.encode({ source: Address.tcp("example.com", 1), destination: Address.tcp("::1", 2) }))
      .toThrow(RangeError)
    expect(() => ProxyProtocol.encode({ source: Address.tcp("1.2.3.4", 1) })).toThrow(RangeError)
    expect(() =>
      ProxyProtocol.encode({ source: Address.tcp("1.2.3.4", 70000), destination: Address.tcp("1.2.3.4", 1) })
    ).toThrow(RangeError)
  })

  it("round trip (random addresses, ports, versions, TLVs): the parser gives back what was encoded", () => {
    const host = fc.oneof(fc.ipV4(), fc.ipV6())
    const tlvs = fc.array(
      fc.record({ type: fc.constantFrom(0xe0, 0xe5, 0xf0), value: fc.uint8Array({ maxLength: 40 }) }),
      { maxLength: 4 }
    )
    fc.assert(
      fc.property(
        host,
        host,
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.constantFrom(1 as const, 2 as const),
        tlvs,
        fc.boolean(),
        (src, dst, sport, dport, version, tlvs, crc) => {
          const input = { source: Address.tcp(src, sport), destination: Address.tcp(dst, dport), tlvs, crc32c: crc }
          const bytes = ProxyProtocol.encode(input, version)
          const { header } = done(bytes)
          const v6 = src.includes(":") || dst.includes(":")
          const canonical = (h: string) => (v6 ? formatIPv6(parseIPv6(h.includes(":") ? h : `::ffff:${h}`)!) : h)
          expect(header.family).toBe(v6 ? "INET6" : "INET")
          expect(header.source).toEqual(Address.tcp(canonical(src), sport))
          expect(header.destination).toEqual(Address.tcp(canonical(dst), dport))
          if (version === 2) {
            expect(
              header.tlvs.filter((t) => t.type !== 0x03).map((t) => ({ type: t.type, value: t.value.slice() }))
            ).toEqual(tlvs)
          }
        }
      )
    )
  })
})

describe("IPv6 text and trusted lists", () => {
  it("canonical IPv6 text (RFC 5952)", () => {
    const canon = (s: string) => formatIPv6(parseIPv6(s)!)
    expect(canon("2001:0db8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1")
    expect(canon("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1")
    expect(canon("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1")
    expect(canon("::")).toBe("::")
    expect(canon("::1")).toBe("::1")
    expect(canon("1::")).toBe("1::")
    expect(canon("0:0:0:0:0:ffff:c000:0201")).toBe("::ffff:192.0.2.1")
    expect(canon("FE80::ABCD")).toBe("fe80::abcd")
    for (const bad of [":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::g", ":1", "1:", "1.2.3.4", "::1.2.3"]) {
      expect(parseIPv6(bad)).toBeUndefined()
    }
  })

  it("trusts: addresses, CIDR blocks of both families, IPv4-mapped peers, \"unix\"", () => {
    const trusts = ProxyProtocol.trusts(["10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "unix"])
    const t = (host: string) => trusts(Address.tcp(host, 1))
    expect(t("10.200.3.4")).toBe(true)
    expect(t("::ffff:10.200.3.4")).toBe(true)
    expect(t("11.0.0.1")).toBe(false)
    expect(t("192.168.1.7")).toBe(true)
    expect(t("192.168.1.8")).toBe(false)
    expect(t("fd12:3456::1")).toBe(true)
    expect(t("fe80::1")).toBe(false)
    expect(t("0:0:0:0:0:0:0:1")).toBe(true)
    expect(t("::2")).toBe(false)
    expect(t("localhost")).toBe(false)
    expect(trusts(Address.unix("/run/x.sock"))).toBe(true)
    expect(ProxyProtocol.trusts(["127.0.0.1"])(Address.unix("/run/x.sock"))).toBe(false)
    expect(ProxyProtocol.trusts(["0.0.0.0/0"])(Address.tcp("8.8.8.8", 1))).toBe(true)
    expect(ProxyProtocol.trusts(["::ffff:10.0.0.0/104"])(Address.tcp("10.9.9.9", 1))).toBe(true)
    for (const bad of [["10.0.0.0/33"], ["::/129"], ["host.example"], ["10.0.0.0/"], []]) {
      expect(() => ProxyProtocol.trusts(bad)).toThrow(ProxyProtocol.ProxyProtocolError)
    }
  })

  it("validate: listener options", () => {
    expect(ProxyProtocol.validate({ trusted: ["127.0.0.1"] })).toBeUndefined()
    expect(
      ProxyProtocol.validate({ trusted: ["127.0.0.1"], timeout: "1 hour", maxHeaderBytes: 232, untrusted: "direct" })
    ).toBeUndefined()
    expect(ProxyProtocol.validate({ trusted: ["127.0.0.1"], timeout: "0 seconds" })?.reason).toBe("InvalidOptions")
    expect(ProxyProtocol.validate({ trusted: ["127.0.0.1"], timeout: Infinity })?.reason).toBe("InvalidOptions")
    expect(ProxyProtocol.validate({ trusted: ["127.0.0.1"], untrusted: "serve" as "direct" })?.reason).toBe(
      "InvalidOptions"
    )
  })
})
