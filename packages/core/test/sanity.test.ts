import { it } from "@effect/vitest"
import { Effect } from "effect"
import { expect } from "vitest"

it.effect("runtime", () => Effect.sync(() => expect(typeof (globalThis as any).Bun === "undefined" ? "node" : "bun").toBeTypeOf("string")))
