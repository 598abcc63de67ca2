// Lint and format, in the style of Effect's own packages: typescript-eslint's recommended rules
// and dprint (through @effect/eslint-plugin) as the formatter. `npm run lint` checks, `npm run format` fixes.
import * as effectEslint from "@effect/eslint-plugin"
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/dist/**", "**/build/**", "docs/**", "bench/results/**", "**/*.d.mts"]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...effectEslint.configs.dprint,
  {
    languageOptions: {
      globals: {
        console: "readonly",
        process: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        setImmediate: "readonly",
        queueMicrotask: "readonly",
        TextEncoder: "readonly",
        TextDecoder: "readonly",
        performance: "readonly",
        AbortController: "readonly",
        fetch: "readonly",
        Bun: "readonly",
        Deno: "readonly",
        globalThis: "readonly"
      }
    },
    rules: {
      // tsc already reports unused locals and parameters (noUnusedLocals, noUnusedParameters)
      "@typescript-eslint/no-unused-vars": "off",
      "no-unused-vars": "off",
      // generators written as handlers may not yield; Effect's style leans on both
      "require-yield": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-unsafe-function-type": "off",
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "no-constant-condition": ["error", { checkLoops: false }],
      "no-empty": ["error", { allowEmptyCatch: true }],
      // protocol code matches control bytes on purpose (line endings, escapes, terminal codes)
      "no-control-regex": "off",
      // the Bun adapter declares the Bun globals it uses in a local .d.ts
      "@typescript-eslint/triple-slash-reference": "off",
      // a handle assigned once after the closures that read it are built
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      "@typescript-eslint/consistent-type-imports": ["error", { disallowTypeAnnotations: false }],
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }]
    }
  },
  {
    files: ["**/*.mjs", "**/*.js", "**/*.cjs"],
    rules: { "@typescript-eslint/no-require-imports": "off" }
  }
)
