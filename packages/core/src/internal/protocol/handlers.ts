/**
 * `ProtocolServer.handlers`: one request handler from a handler per request
 * tag. The record is read once; each request costs a property lookup.
 */
import { Effect, Stream } from "effect"
import type { RequestContext } from "../../ProtocolServer.ts"
import { GenCall } from "../inline.ts"

const GeneratorFunction = Object.getPrototypeOf(function*() {}).constructor as Function

type Entry = (request: any, context: RequestContext<any>) => Effect.Effect<any, any, any>

export const handlers = (_protocol: unknown, record: Record<string, Function>): any => {
  const table = new Map<string, Entry>()
  for (const tag of Object.keys(record)) {
    const f = record[tag]!
    if (typeof f !== "function") {
      throw new TypeError(`ProtocolServer.handlers: the handler of "${tag}" is not a function`)
    }
    // a generator function is called per request (never re-created), its generator stepped as Effect.gen does
    table.set(
      tag,
      f instanceof GeneratorFunction
        ? (request, context) => new GenCall(f as any, record, request, context)
        : (request, context) => {
          const out = f.call(record, request, context)
          // a streaming method's Stream is the handler's value: the server sends its items, later,
          // so it keeps the services the handler had (those middleware provided included)
          return typeof out === "object" && out !== null && Stream.StreamTypeId in out
            ? Effect.map(
              Effect.context<never>(),
              (services) => Stream.provideContext(out as Stream.Stream<unknown>, services)
            )
            : out
        }
    )
  }
  return (request: { readonly _tag: string }, context: RequestContext<any>): Effect.Effect<any, any, any> => {
    const handler = table.get(request._tag)
    if (handler === undefined) return Effect.dieMessage(`ProtocolServer.handlers: no handler for "${request._tag}"`)
    return handler(request, context)
  }
}
