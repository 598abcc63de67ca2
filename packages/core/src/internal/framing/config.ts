/**
 * Option validation shared by the framing codecs: every problem becomes a `FramingConfigError`
 * thrown from the codec's `make`.
 *
 * @internal
 */
import { FramingConfigError } from "../../Framing.ts"

/** Throw a {@link FramingConfigError}. */
export const fail = (codec: string, option: string, detail: string): never => {
  throw new FramingConfigError({ codec, option, detail })
}

/** An integer in `[min, max]`, or `fallback` when `value` is `undefined`. */
export const integer = (
  codec: string,
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number
): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isInteger(value)) {
    return fail(codec, option, `expected an integer, got ${String(value)}`)
  }
  if (value < min || value > max) {
    return fail(codec, option, `${value} is outside [${min}, ${max}]`)
  }
  return value
}

/** One of `choices`, or `fallback` when `value` is `undefined`. */
export const oneOf = <A extends string | number | boolean>(
  codec: string,
  option: string,
  value: unknown,
  fallback: A,
  choices: ReadonlyArray<A>
): A => {
  if (value === undefined) return fallback
  if (!choices.includes(value as A)) {
    return fail(
      codec,
      option,
      `expected one of ${choices.map((c) => JSON.stringify(c)).join(", ")}, got ${String(value)}`
    )
  }
  return value as A
}

/** A function or `undefined`. */
export const callback = <F extends (...args: never) => unknown>(
  codec: string,
  option: string,
  value: F | undefined
): F | undefined => {
  if (value !== undefined && typeof value !== "function") {
    return fail(codec, option, "expected a function")
  }
  return value
}
