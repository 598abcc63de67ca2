/**
 * What every vitest config of the monorepo shares: the `@wirekit/source` export
 * condition, so that tests import the packages' TypeScript sources (no build
 * needed to test a change) while Node, Bun and Deno outside vitest load the
 * built JavaScript in `dist/`. Vite's default conditions are kept after it.
 */
import { defaultClientConditions, defaultServerConditions } from "vite"
import type { UserConfig } from "vite"

/** The export condition that maps each `@wirekit/*` package to its `src/`. */
export const sourceCondition = "@wirekit/source"

/** `resolve` and `ssr.resolve` conditions with the source condition first. */
export const sourceResolve: Pick<UserConfig, "resolve" | "ssr"> = {
  resolve: { conditions: [sourceCondition, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [sourceCondition, ...defaultServerConditions] } }
}
