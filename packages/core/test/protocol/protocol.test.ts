/**
 * Protocol definitions without a transport: the JSON envelope of
 * `Protocol.schema`, the user wire formats of `Protocol.make`, correlation ids.
 */
import { describe, expect, it } from "@effect/vitest"
import { ByteBuffer, Framing, LengthField, Lines, MessageCodec, Protocol } from "@wirekit/core"
import type { Session } from "@wirekit/core"
import * as Msgpack from "@wirekit/core/msgpack"
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import { unpack } from "msgpackr"

/** These codecs never read the session. */
const session = {} as Session.Session<any>

/**
 * A protocol's stream codecs seen one message at a time (each message framed
 * with `framing` on the way in, unframed on the way out), so that the tests
 * below read as message in, message out.
 */
const perFrame = <Req, Res, Err, OneWay, Push>(
  p: Protocol.Protocol<Req, Res, Err, OneWay, Push>,
  framing: Framing.Framing
) => {
  const wrap = (payload: Uint8Array): Uint8Array => Either.getOrThrow(Framing.encodeAll(framing, [payload]))
  const unwrap = (wire: Uint8Array): Uint8Array => {
    const frames = Either.getOrThrow(Framing.decodeAll(framing, [wire]))
    expect(frames.length).toBe(1)
    return frames[0]!
  }
  const encoded = (
    encode: (out: ByteBuffer.ByteBuffer) => Protocol.EncodeError | undefined
  ): Uint8Array | Protocol.EncodeError => {
    const buf = ByteBuffer.make()
    return encode(buf) ?? unwrap(buf.take())
  }
  const one = <A>(decoder: { decode(chunk: Uint8Array, out: Array<A>): unknown }, payload: Uint8Array): A => {
    const out: Array<A> = []
    const error = decoder.decode(wrap(payload), out)
    if (error !== undefined) throw error
    expect(out.length).toBe(1)
    return out[0]!
  }
  return {
    server: () => {
      const s = p.server(session)
      return {
        decode: (payload: Uint8Array) => one(s.decoder, payload),
        encodeResponse: (id: number | undefined, outcome: Protocol.Outcome<Res, Err>, request?: Req) =>
          encoded((out) => s.encodeResponse(id, outcome, out, request)),
        encodePush: (message: Push) => encoded((out) => s.encodePush(message, out)),
        encodeDraining: s.encodeDraining === undefined ? undefined : () => encoded((out) => s.encodeDraining!(out))
      }
    },
    client: () => {
      const c = p.client()
      return {
        decode: (payload: Uint8Array) => one(c.decoder, payload),
        encodeRequest: (request: Req, id: number | undefined) => encoded((out) => c.encodeRequest(request, id, out)),
        encodeOneWay: (message: OneWay) => encoded((out) => c.encodeOneWay(message, out)),
        decodeOutcome: c.decodeOutcome
      }
    }
  }
}
const schemaFraming = LengthField.make({ fieldLength: 4 })

const utf8 = new TextEncoder()
const range = (n: number) => Array.from({ length: n }, (_, i) => i)
const text = new TextDecoder()
const json = (bytes: Uint8Array | unknown) => JSON.parse(text.decode(bytes as Uint8Array))
const bytes = (r: Uint8Array | unknown): Uint8Array => {
  if (!(r instanceof Uint8Array)) throw new Error(`expected bytes, got ${String(r)}`)
  return r
}

const Item = Schema.Struct({ _tag: Schema.Literal("Put"), key: Schema.String, n: Schema.Int })
const Kv = (correlation: "inOrder" | "byId") =>
  perFrame(
    Protocol.schema({
      name: "kv",
      request: Item,
      response: Schema.Number,
      error: Schema.TaggedStruct("Full", { limit: Schema.Number }),
      oneWay: Schema.TaggedStruct("Ping", {}),
      push: Schema.TaggedStruct("Evicted", { key: Schema.String }),
      correlation
    }),
    schemaFraming
  )

describe("Protocol.schema: the JSON envelope", () => {
  it("byId: request, success, failure, fault, push and draining round trip with their ids", () => {
    const p = Kv("byId")
    const client = p.client()
    const server = p.server()
    const wire = bytes(client.encodeRequest({ _tag: "Put", key: "a", n: 1 }, 7))
    expect(json(wire)).toEqual({ id: 7, request: { _tag: "Put", key: "a", n: 1 } })
    const incoming = server.decode(wire)
    expect(incoming).toMatchObject({ _tag: "Request", id: 7, request: { _tag: "Put", key: "a", n: 1 } })
    const ok = bytes(server.encodeResponse(7, { _tag: "Success", value: 42 }))
    expect(json(ok)).toEqual({ id: 7, success: 42 })
    expect(client.decode(ok)).toEqual({ _tag: "Response", id: 7, outcome: { _tag: "Success", value: 42 } })
    const failed = bytes(server.encodeResponse(8, { _tag: "Failure", error: { _tag: "Full", limit: 3 } }))
    expect(client.decode(failed)).toEqual({
      _tag: "Response",
      id: 8,
      outcome: { _tag: "Failure", error: { _tag: "Full", limit: 3 } }
    })
    const fault = client.decode(bytes(server.encodeResponse(9, {
      _tag: "Fault",
      fault: new Protocol.ProtocolError({ reason: "Overloaded", detail: "busy" })
    })))
    expect(fault._tag === "Response" && fault.outcome._tag === "Fault" && fault.outcome.fault).toEqual(
      new Protocol.ProtocolError({ reason: "Overloaded", detail: "busy" })
    )
    expect(client.decode(bytes(server.encodePush({ _tag: "Evicted", key: "a" })))).toEqual({
      _tag: "Push",
      message: { _tag: "Evicted", key: "a" }
    })
    expect(client.decode(bytes(server.encodeDraining!()))).toEqual({ _tag: "Draining" })
    expect(server.decode(bytes(client.encodeOneWay({ _tag: "Ping" })))).toEqual({
      _tag: "OneWay",
      message: { _tag: "Ping" }
    })
  })

  it("inOrder: no ids on the wire", () => {
    const p = Kv("inOrder")
    const wire = bytes(p.client().encodeRequest({ _tag: "Put", key: "a", n: 1 }, undefined))
    expect(json(wire)).toEqual({ request: { _tag: "Put", key: "a", n: 1 } })
    expect(json(bytes(p.server().encodeResponse(undefined, { _tag: "Success", value: 1 })))).toEqual({ success: 1 })
    expect(Protocol.schema({ request: Item, response: Schema.Number, correlation: "inOrder" }).correlation).toBe(
      "inOrder"
    )
  })

  it("bad input is Invalid with the facts and keeps the id when it can be read", () => {
    const server = Kv("byId").server()
    const notJson = server.decode(utf8.encode("{nope"))
    expect(notJson).toMatchObject({ _tag: "Invalid", id: undefined, oneWay: false, error: { reason: "BadRequest" } })
    const badBody = server.decode(utf8.encode(`{"id":3,"request":{"_tag":"Put","key":"a","n":1.5}}`))
    expect(badBody).toMatchObject({ _tag: "Invalid", id: 3, error: { reason: "BadRequest" } })
    expect(badBody._tag === "Invalid" && badBody.error.detail).toContain("Expected an integer")
    const badOneWay = server.decode(utf8.encode(`{"message":{"_tag":"Pong"}}`))
    expect(badOneWay).toMatchObject({ _tag: "Invalid", oneWay: true })
    expect(server.decode(utf8.encode("[1,2]"))).toMatchObject({
      _tag: "Invalid",
      error: { detail: "not a JSON object" }
    })
    expect(server.decode(new Uint8Array([0xff, 0xfe]))).toMatchObject({ _tag: "Invalid" })
    // the codec has no state a bad message could poison
    expect(server.decode(utf8.encode(`{"id":4,"request":{"_tag":"Put","key":"a","n":2}}`))).toMatchObject({
      _tag: "Request",
      id: 4
    })
  })

  it("a response the schema rejects is an encode error, not bytes", () => {
    const server = Kv("byId").server()
    const r = server.encodeResponse(1, { _tag: "Success", value: "not a number" as unknown as number })
    expect(r).toBeInstanceOf(MessageCodec.MessageError)
  })

  it("property: every valid request round trips through client encode and server decode", () => {
    const p = Kv("byId")
    const client = p.client()
    const server = p.server()
    fc.assert(
      fc.property(fc.string(), fc.integer(), fc.nat(), (key, n, id) => {
        const got = server.decode(bytes(client.encodeRequest({ _tag: "Put", key, n }, id)))
        expect(got).toEqual({ _tag: "Request", id, request: { _tag: "Put", key, n } })
      })
    )
  })
})

class TooLong extends Schema.TaggedError<TooLong>()("TooLong", { max: Schema.Number }) {}
const RGet = Protocol.method("Get", { payload: { key: Schema.String }, success: Schema.NullOr(Schema.String) })
const RPut = Protocol.method("Put", { payload: { key: Schema.String, value: Schema.String }, error: TooLong })
const RSize = Protocol.method("Size", { success: Schema.Number })
const KvRpc = Protocol.rpc({ name: "kv", methods: [RGet, RPut, RSize] })

describe("Protocol.rpc: a schema per method in the JSON envelope", () => {
  it("a method makes its request as the wire has it; the request schema is its tagged struct", () => {
    expect(RGet({ key: "a" })).toEqual({ _tag: "Get", key: "a" })
    expect(Object.keys(RPut({ key: "a", value: "1" }))).toEqual(["_tag", "key", "value"])
    expect(RSize()).toEqual({ _tag: "Size" })
    expect(RGet.tag).toBe("Get")
    expect(Schema.decodeUnknownSync(RPut.request)({ _tag: "Put", key: "k", value: "v" })).toEqual({
      _tag: "Put",
      key: "k",
      value: "v"
    })
    expect(() => Protocol.rpc({ methods: [RGet, Protocol.method("Get")] })).toThrow(/two methods are tagged "Get"/)
    expect(() => Protocol.rpc({ methods: [] })).toThrow(/no methods/)
  })

  it("each response is encoded with the schemas of the method it answers, and decoded by the client once it knows the request", () => {
    const p = perFrame(KvRpc, schemaFraming)
    const server = p.server()
    const client = p.client()
    const get = RGet({ key: "a" })
    const wire = bytes(client.encodeRequest(get, 1))
    expect(text.decode(wire)).toBe(`{"id":1,"request":{"_tag":"Get","key":"a"}}`)
    expect(server.decode(wire)).toEqual({ _tag: "Request", id: 1, request: { _tag: "Get", key: "a" } })
    // Get: the value or null
    const value = bytes(server.encodeResponse(1, { _tag: "Success", value: "1" }, get))
    expect(text.decode(value)).toBe(`{"id":1,"success":"1"}`)
    const raw = client.decode(value)
    expect(raw).toEqual({ _tag: "Response", id: 1, outcome: { _tag: "Success", value: "1" } })
    expect(client.decodeOutcome!(get, { _tag: "Success", value: "1" })).toEqual({ _tag: "Success", value: "1" })
    // Put: void travels as null and comes back as undefined; its typed error is a TooLong
    const put = RPut({ key: "a", value: "v" })
    expect(text.decode(bytes(server.encodeResponse(2, { _tag: "Success", value: undefined }, put)))).toBe(
      `{"id":2,"success":null}`
    )
    expect(client.decodeOutcome!(put, { _tag: "Success", value: null })).toEqual({ _tag: "Success", value: undefined })
    const failure = bytes(server.encodeResponse(3, { _tag: "Failure", error: new TooLong({ max: 3 }) }, put))
    expect(json(failure)).toEqual({ id: 3, failure: { _tag: "TooLong", max: 3 } })
    const decoded = client.decodeOutcome!(put, { _tag: "Failure", error: { _tag: "TooLong", max: 3 } })
    expect(decoded._tag === "Failure" && decoded.error).toBeInstanceOf(TooLong)
    // a Get has no typed error: a failure for one is not encoded, and not accepted by the client
    expect(server.encodeResponse(4, { _tag: "Failure", error: new TooLong({ max: 3 }) }, get)).toMatchObject({
      reason: "Encode"
    })
    expect(client.decodeOutcome!(get, { _tag: "Failure", error: { _tag: "TooLong", max: 3 } })).toMatchObject({
      _tag: "MessageError",
      reason: "Decode"
    })
    // a value of the wrong method's type is a decode error for that request
    expect(client.decodeOutcome!(RSize(), { _tag: "Success", value: "1" })).toMatchObject({ _tag: "MessageError" })
    // Size: a number, encoded by its own schema (a string is rejected)
    expect(server.encodeResponse(5, { _tag: "Success", value: "x" as any }, RSize())).toMatchObject({
      reason: "Encode"
    })
  })

  it("a request may carry its caller's span (W3C ids) and a byId client may cancel; malformed trace fields are ignored", () => {
    const p = perFrame(KvRpc, schemaFraming)
    const server = p.server()
    const c = KvRpc.client()
    const trace = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", sampled: true }
    const out = ByteBuffer.make()
    expect(c.encodeRequest(RGet({ key: "a" }), 3, out, { trace, headers: { authorization: "Bearer t" } })).toBe(
      undefined
    )
    const wire = out.take().subarray(4)
    expect(JSON.parse(text.decode(wire))).toEqual({
      id: 3,
      request: { _tag: "Get", key: "a" },
      trace,
      headers: { authorization: "Bearer t" }
    })
    expect(server.decode(wire)).toEqual({
      _tag: "Request",
      id: 3,
      request: { _tag: "Get", key: "a" },
      meta: { trace, headers: { authorization: "Bearer t" } }
    })
    // headers are a few short strings: anything else is a bad request, and the client does not send it
    const tooMany = Object.fromEntries(range(33).map((i) => [`h${i}`, "v"]))
    for (const headers of [tooMany, { a: 1 }, { a: "x".repeat(5000) }, "x"]) {
      const decoded = server.decode(utf8.encode(JSON.stringify({ id: 5, request: { _tag: "Get", key: "a" }, headers })))
      expect(decoded).toMatchObject({ _tag: "Invalid", id: 5, error: { reason: "BadRequest" } })
    }
    expect(c.encodeRequest(RGet({ key: "a" }), 6, out, { headers: tooMany })).toMatchObject({ reason: "Encode" })
    for (const bad of [{ ...trace, traceId: "zz" }, { ...trace, spanId: 7 }, { ...trace, sampled: "yes" }, "x"]) {
      const decoded = server.decode(
        utf8.encode(JSON.stringify({ id: 4, request: { _tag: "Get", key: "a" }, trace: bad }))
      )
      expect(decoded).toEqual({
        _tag: "Request",
        id: 4,
        request: { _tag: "Get", key: "a" },
        meta: { trace: undefined, headers: undefined }
      })
    }
    expect(c.encodeCancel!(9, out)).toBe(undefined)
    const cancel = out.take().subarray(4)
    expect(text.decode(cancel)).toBe(`{"id":9,"cancel":true}`)
    expect(server.decode(cancel)).toEqual({ _tag: "Cancel", id: 9 })
    // an inOrder protocol has nothing to name a request by
    expect(Protocol.rpc({ methods: [RGet], correlation: "inOrder" }).client().encodeCancel).toBe(undefined)
  })

  it("with MessagePack serialization the same envelope travels as MessagePack maps", () => {
    const p = perFrame(Protocol.rpc({ methods: [RGet, RPut], serialization: Msgpack.msgpack }), schemaFraming)
    const client = p.client()
    const server = p.server()
    const get = RGet({ key: "a" })
    const wire = bytes(client.encodeRequest(get, 1))
    expect(wire[0]).toBe(0x82) // a fixmap of 2: id, request
    expect(unpack(wire)).toEqual({ id: 1, request: { _tag: "Get", key: "a" } })
    expect(server.decode(wire)).toEqual({ _tag: "Request", id: 1, request: { _tag: "Get", key: "a" } })
    const answer = bytes(server.encodeResponse(1, { _tag: "Success", value: "v" }, get))
    expect(unpack(answer)).toEqual({ id: 1, success: "v" })
    const outcome = client.decode(answer)
    expect(outcome._tag === "Response" && client.decodeOutcome!(get, outcome.outcome)).toEqual({
      _tag: "Success",
      value: "v"
    })
    expect(server.decode(utf8.encode(`{"id":1}`))).toMatchObject({ _tag: "Invalid", error: { reason: "BadRequest" } })
  })

  it("a request that does not match is a short BadRequest naming the path, never the schema's text", () => {
    const server = perFrame(KvRpc, schemaFraming).server()
    const unknown = server.decode(utf8.encode(`{"id":5,"request":{"_tag":"Delete","key":"a"}}`))
    expect(unknown).toMatchObject({ _tag: "Invalid", id: 5, error: { reason: "BadRequest" } })
    const detail = (unknown as { error: Protocol.ProtocolError }).error.detail!
    expect(detail).toMatch(/^request does not match the schema at _tag: /)
    expect(detail).not.toContain("readonly")
    const badField = server.decode(utf8.encode(`{"id":6,"request":{"_tag":"Put","key":"a","value":7}}`))
    expect((badField as { error: Protocol.ProtocolError }).error.detail).toMatch(
      /^request does not match the schema at value: /
    )
    // a huge bad value does not make a huge answer
    const huge = server.decode(
      utf8.encode(`{"id":7,"request":{"_tag":"Put","key":"a","value":${JSON.stringify(["x".repeat(100_000)])}}}`)
    )
    expect((huge as { error: Protocol.ProtocolError }).error.detail!.length).toBeLessThan(400)
    // configured: nothing, or Schema's whole message (for development)
    const detailOf = (level: "none" | "full") => {
      const p = perFrame(Protocol.rpc({ methods: [RGet, RPut], badRequestDetail: level }), schemaFraming)
      const invalid = p.server().decode(utf8.encode(`{"id":8,"request":{"_tag":"Put","key":"a","value":7}}`))
      return (invalid as { error: Protocol.ProtocolError }).error.detail!
    }
    expect(detailOf("none")).toBe("request does not match the schema")
    expect(detailOf("full")).toContain("readonly value: string")
  })
})

describe("Protocol.make: user wire formats", () => {
  const ChatProtocol = Protocol.make({
    name: "chat",
    framing: Lines.make(),
    inbound: MessageCodec.text(),
    outbound: MessageCodec.text(),
    isOneWay: (l): l is `SAY ${string}` => l.startsWith("SAY "),
    isPush: (l): l is `* ${string}` => l.startsWith("* "),
    isError: (l): l is `ERR ${string}` => l.startsWith("ERR "),
    fault: {
      encode: (f) => `ERR ${f.reason}` as const,
      decode: (e) => (e === "ERR Overloaded" ? new Protocol.ProtocolError({ reason: "Overloaded" }) : undefined)
    },
    draining: { message: "* server draining", is: (l) => l === "* server draining" }
  })
  const Chat = {
    ...perFrame(ChatProtocol, Lines.make()),
    onBadInput: ChatProtocol.onBadInput,
    describe: ChatProtocol.describe
  }

  it("classifies one-way, push, error, fault and draining messages", () => {
    const server = Chat.server()
    const client = Chat.client()
    expect(server.decode(utf8.encode("SAY hi"))).toEqual({ _tag: "OneWay", message: "SAY hi" })
    expect(server.decode(utf8.encode("JOIN x"))).toMatchObject({ _tag: "Request", request: "JOIN x", id: undefined })
    expect(client.decode(utf8.encode("* bob: hi"))).toEqual({ _tag: "Push", message: "* bob: hi" })
    expect(client.decode(utf8.encode("OK"))).toEqual({
      _tag: "Response",
      id: undefined,
      outcome: { _tag: "Success", value: "OK" }
    })
    expect(client.decode(utf8.encode("ERR nope"))).toEqual({
      _tag: "Response",
      id: undefined,
      outcome: { _tag: "Failure", error: "ERR nope" }
    })
    const fault = client.decode(bytes(server.encodeResponse(undefined, {
      _tag: "Fault",
      fault: new Protocol.ProtocolError({ reason: "Overloaded" })
    })))
    expect(fault).toMatchObject({ _tag: "Response", outcome: { _tag: "Fault", fault: { reason: "Overloaded" } } })
    expect(client.decode(bytes(server.encodeDraining!()))).toEqual({ _tag: "Draining" })
    expect(Chat.onBadInput).toBe("respond")
    expect(Chat.describe("SAY x")).toBe("oneway")
  })

  it("without a fault encoding, bad input and defects close the connection", () => {
    const Bare = Protocol.make({ framing: Lines.make(), inbound: MessageCodec.text(), outbound: MessageCodec.text() })
    expect(Bare.onBadInput).toBe("close")
    expect(Bare.onDefect).toBe("close")
    expect(
      perFrame(Bare, Lines.make()).server().encodeResponse(undefined, {
        _tag: "Fault",
        fault: new Protocol.ProtocolError({ reason: "Internal" })
      })
    )
      .toBeInstanceOf(MessageCodec.MessageError)
  })

  it("byId with a field name or a function pair writes and reads the id", () => {
    const Json = perFrame(
      Protocol.make({
        framing: Lines.make(),
        inbound: MessageCodec.json as MessageCodec.MessageCodec<{ readonly op: string; readonly id?: number }>,
        outbound: MessageCodec.json as MessageCodec.MessageCodec<{ readonly result: string; readonly id?: number }>,
        correlation: Protocol.byId("id")
      }),
      Lines.make()
    )
    const wire = bytes(Json.client().encodeRequest({ op: "get" }, 12))
    expect(json(wire)).toEqual({ op: "get", id: 12 })
    expect(Json.server().decode(wire)).toMatchObject({ _tag: "Request", id: 12 })
    expect(json(bytes(Json.server().encodeResponse(12, { _tag: "Success", value: { result: "x" } })))).toEqual({
      result: "x",
      id: 12
    })

    const Tuple = perFrame(
      Protocol.make({
        framing: Lines.make(),
        inbound: MessageCodec.text(),
        outbound: MessageCodec.text(),
        correlation: Protocol.byId({
          request: { get: (l: string) => Number(l.split(" ")[0]), set: (l: string, id) => `${id} ${l}` },
          response: { get: (l: string) => Number(l.split(" ")[0]), set: (l: string, id) => `${id} ${l}` }
        })
      }),
      Lines.make()
    )
    const line = bytes(Tuple.client().encodeRequest("PING", 5))
    expect(text.decode(line)).toBe("5 PING")
    expect(Tuple.client().decode(utf8.encode("5 PONG"))).toMatchObject({ _tag: "Response", id: 5 })
  })

  it("bytes: frames are messages", () => {
    const Echo = perFrame(
      Protocol.make({ framing: Lines.make(), inbound: Protocol.bytes, outbound: Protocol.bytes }),
      Lines.make()
    )
    const frame = new Uint8Array([1, 2, 3])
    expect(Echo.server().decode(frame)).toMatchObject({ _tag: "Request", request: frame })
    expect(Echo.server().encodeResponse(undefined, { _tag: "Success", value: frame })).toEqual(frame)
  })
})

describe("Protocol.schema on its default framing: encoders write into the output", () => {
  const Text = Protocol.schema({ request: Schema.String, response: Schema.String })

  it("a response is a 4-byte big-endian length and the JSON envelope; one over the max frame is FrameTooLarge and writes nothing", () => {
    const server = Text.server(session)
    const out = ByteBuffer.make()
    out.writeUint8(7) // bytes already there stay as they are
    expect(server.encodeResponse(3, { _tag: "Success", value: "hé" }, out)).toBeUndefined()
    const wire = out.take()
    const body = utf8.encode(JSON.stringify({ id: 3, success: "hé" }))
    expect([...wire.subarray(0, 5)]).toEqual([7, 0, 0, 0, body.length])
    expect(text.decode(wire.subarray(5))).toBe(JSON.stringify({ id: 3, success: "hé" }))
    out.writeUint8(7)
    const error = server.encodeResponse(4, { _tag: "Success", value: "x".repeat(9 * 1024 * 1024) }, out)
    expect(error).toMatchObject({ _tag: "FramingError", reason: "FrameTooLarge", codec: "LengthField" })
    expect([...out.take()]).toEqual([7])
  })

  it("what the client encodes, the server decodes", () => {
    const out = ByteBuffer.make()
    expect(Text.client().encodeRequest("ping", 9, out)).toBeUndefined()
    const messages: Array<Protocol.Incoming<string, never>> = []
    expect(Text.server(session).decoder.decode(out.take(), messages)).toBeUndefined()
    expect(messages).toEqual([{ _tag: "Request", request: "ping", id: 9 }])
  })
})
