/**
 * Type-level tests: checked by `npx tsc -p tsconfig.json --noEmit` (each
 * `@ts-expect-error` line typechecks only if the error it expects exists),
 * and run by vitest for the values they build.
 */
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import type { Client, Transport } from "@wirekit/core"
import { Lines, MessageCodec, Middleware, Protocol, ProtocolServer } from "@wirekit/core"
import { Context, Effect, pipe, Schema, Stream } from "effect"
import type { Scope } from "effect"

class Principal extends Context.Tag("types/Principal")<Principal, { readonly name: string }>() {}

const Greeter = Protocol.schema({
  request: Schema.Struct({ token: Schema.String, text: Schema.String }),
  response: Schema.String
})
type GreeterRequest = Protocol.RequestOf<typeof Greeter>

/** A handler that needs a Principal. */
const greet = (req: GreeterRequest) => Effect.map(Principal, (p) => `${p.name}: ${req.text}`)
/** The auth middleware that provides it. */
const auth = Middleware.provideService(
  Principal,
  (req: GreeterRequest) =>
    req.token === "secret"
      ? Effect.succeed({ name: "alice" })
      : Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized" }))
)

type ListenError = Transport.ListenError
type Runnable<A> = Effect.Effect<A, ListenError, Transport.Transport | Scope.Scope>

describe("type-level: middleware requirements", () => {
  it("a handler that needs Principal does not make a runnable server without the auth middleware", () => {
    const without = ProtocolServer.serve(Greeter, greet)
    // @ts-expect-error Principal is still required: the server cannot run with only Transport and Scope
    const _notRunnable: Runnable<unknown> = without
    const withAuth = ProtocolServer.serve(Greeter, pipe(greet, auth))
    const runnable: Runnable<ProtocolServer.ProtocolServer<never>> = withAuth
    // the Layer form too
    // @ts-expect-error Principal is required by the layer
    const _layerNotRunnable: import("effect").Layer.Layer<never, ListenError, Transport.Transport> = ProtocolServer
      .layer(Greeter, greet)
    const layer: import("effect").Layer.Layer<never, ListenError, Transport.Transport> = ProtocolServer.layer(
      Greeter,
      pipe(greet, auth)
    )
    // (read them, so that the only error on the expect-error lines is the one expected)
    expect([_notRunnable, _layerNotRunnable, runnable, layer].every((x) => x !== undefined)).toBe(true)
  })

  it("a middleware that requires a service adds it to the server's requirements", () => {
    class Audit extends Context.Tag("types/Audit")<Audit, { readonly record: (s: string) => Effect.Effect<void> }>() {}
    const audited = Middleware.make<never, Audit>((effect, message, context) =>
      Effect.zipRight(Effect.flatMap(Audit, (a) => a.record(context.describe(message))), effect)
    )
    const server = ProtocolServer.serve(Greeter, pipe(greet, auth, audited))
    // @ts-expect-error Audit is required
    const _missing: Runnable<unknown> = server
    const provided: Runnable<unknown> = Effect.provideService(server, Audit, { record: () => Effect.void })
    expect(Effect.isEffect(provided) && Effect.isEffect(_missing)).toBe(true)
  })

  it("handlers must return the protocol's response type and fail only with its error type or ProtocolError", () => {
    // @ts-expect-error a number is not a string response
    ProtocolServer.serve(Greeter, () => Effect.succeed(42))
    // @ts-expect-error the protocol has no error type: only ProtocolError may be a failure
    ProtocolServer.serve(Greeter, () => Effect.fail("nope"))
    const ok = ProtocolServer.serve(Greeter, () => Effect.fail(new Protocol.ProtocolError({ reason: "Overloaded" })))
    expect(Effect.isEffect(ok)).toBe(true)
  })

  it("clients are typed by the protocol; a low-level protocol narrows with its type guards", () => {
    const Chat = Protocol.make({
      framing: Lines.make(),
      inbound: MessageCodec.text(),
      outbound: MessageCodec.text(),
      isOneWay: (l): l is `SAY ${string}` => l.startsWith("SAY "),
      isError: (l): l is `ERR ${string}` => l.startsWith("ERR ")
    })
    type ChatClient = Client.ClientFor<typeof Chat>
    const use = (c: ChatClient) => {
      const ok: Effect.Effect<string, `ERR ${string}` | Client.ClientError> = c.request("JOIN lobby")
      const said: Effect.Effect<void, Client.ClientError> = c.send("SAY hi")
      // @ts-expect-error a request line is not a one-way message
      c.send("JOIN lobby")
      return [ok, said]
    }
    expect(typeof use).toBe("function")
  })
})

class TooLong extends Schema.TaggedError<TooLong>()("TooLong", { max: Schema.Number }) {}
class Store extends Context.Tag("types/Store")<Store, Map<string, string>>() {}
const Get = Protocol.method("Get", { payload: { key: Schema.String }, success: Schema.NullOr(Schema.String) })
const Put = Protocol.method("Put", { payload: { key: Schema.String, value: Schema.String }, error: TooLong })
const Size = Protocol.method("Size", { success: Schema.Number })
const Kv = Protocol.rpc({ name: "kv", methods: [Get, Put, Size] })

describe("type-level: rpc protocols", () => {
  it("a request has exactly its own method's success and error types", () => {
    const use = (client: Client.ClientFor<typeof Kv>) => {
      const get = client.request(Get({ key: "a" }))
      expectTypeOf(get).toEqualTypeOf<Effect.Effect<string | null, Client.ClientError>>()
      const put = client.request(Put({ key: "a", value: "1" }))
      expectTypeOf(put).toEqualTypeOf<Effect.Effect<void, TooLong | Client.ClientError>>()
      expectTypeOf(client.request(Size())).toEqualTypeOf<Effect.Effect<number, Client.ClientError>>()
      // a plain object literal of a method is typed by its tag too
      expectTypeOf(client.request({ _tag: "Get", key: "a" })).toEqualTypeOf<
        Effect.Effect<string | null, Client.ClientError>
      >()
      // @ts-expect-error a Get's value is not a number
      const _wrong: Effect.Effect<number, Client.ClientError> = client.request(Get({ key: "a" }))
      // @ts-expect-error Put needs a value
      Put({ key: "a" })
      // @ts-expect-error no such method
      client.request({ _tag: "Delete", key: "a" })
      return _wrong
    }
    expect(typeof use).toBe("function")
  })

  it("handlers per method: exhaustive, each checked against its own method, requirements collected", () => {
    const handler = ProtocolServer.handlers(Kv, {
      *Get({ key }) {
        const store = yield* Store
        return store.get(key) ?? null
      },
      Put: ({ key, value }) =>
        value.length > 3 ? Effect.fail(new TooLong({ max: 3 })) : Effect.map(Store, (s) => void s.set(key, value)),
      Size: () => Effect.succeed(0)
    })
    expectTypeOf(handler).returns.toEqualTypeOf<
      Effect.Effect<string | number | void | null, TooLong | Protocol.ProtocolError, Store>
    >()
    const server = ProtocolServer.serve(Kv, handler)
    // @ts-expect-error Store is required
    const _notRunnable: Runnable<unknown> = server
    const runnable: Runnable<unknown> = Effect.provideService(server, Store, new Map())

    ProtocolServer.handlers(Kv, {
      Get: () => Effect.succeed(null),
      Put: () => Effect.void,
      // @ts-expect-error Size's success is a number, not a string
      Size: () => Effect.succeed("0")
    })
    ProtocolServer.handlers(Kv, {
      // @ts-expect-error a Get cannot fail with TooLong (only Put can)
      *Get() {
        return yield* new TooLong({ max: 1 })
      },
      Put: () => Effect.void,
      Size: () => Effect.succeed(0)
    })
    // @ts-expect-error Size has no handler
    ProtocolServer.handlers(Kv, { Get: () => Effect.succeed(null), Put: () => Effect.void })
    ProtocolServer.handlers(Kv, {
      Get: () => Effect.succeed(null),
      Put: () => Effect.void,
      Size: () => Effect.succeed(0),
      // @ts-expect-error no method is called Delete
      Delete: () => Effect.void
    })
    expect([_notRunnable, runnable].every(Effect.isEffect)).toBe(true)
  })
})

describe("type-level: streaming methods", () => {
  const Scan = Protocol.method("Scan", {
    payload: { prefix: Schema.String },
    success: Schema.String,
    error: TooLong,
    stream: true
  })
  const Files = Protocol.rpc({ methods: [Scan, Size] })

  it("a streaming method is read with Client.stream, its items and error typed; Client.request refuses it (and the reverse)", () => {
    const use = (client: Client.ClientFor<typeof Files>) => {
      expectTypeOf(client.stream(Scan({ prefix: "a" }))).toEqualTypeOf<
        Stream.Stream<string, TooLong | Client.ClientError>
      >()
      // @ts-expect-error a streaming method is not answered once
      client.request(Scan({ prefix: "a" }))
      // @ts-expect-error Size answers once
      client.stream(Size())
      return client.request(Size())
    }
    expect(typeof use).toBe("function")
  })

  it("its handler returns a Stream of its items", () => {
    const handler = ProtocolServer.handlers(Files, {
      Scan: ({ prefix }) => Stream.make(`${prefix}1`, `${prefix}2`),
      Size: () => Effect.succeed(2)
    })
    expect(typeof handler).toBe("function")
    ProtocolServer.handlers(Files, {
      // @ts-expect-error items are strings
      Scan: () => Stream.make(1, 2),
      Size: () => Effect.succeed(2)
    })
  })
})
