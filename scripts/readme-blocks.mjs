// Typechecks the code in the READMEs (`npm run docs` runs it after TypeDoc):
// every ```ts block of README.md and packages/*/README.md that starts with an
// `import` is a complete program, so it must compile against the real API.
// Other blocks are fragments (a line of a larger program) and are only read.
// Errors are reported at their README line.
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const out = path.join(root, "node_modules", ".cache", "readme-blocks")
const readmes = [
  "README.md",
  ...fs.readdirSync(path.join(root, "packages")).map((p) => `packages/${p}/README.md`)
].filter((file) => fs.existsSync(path.join(root, file)))

fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

// block file name → { readme, first line of the code in the README }
const origins = new Map()
for (const readme of readmes) {
  const lines = fs.readFileSync(path.join(root, readme), "utf8").split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)\s*$/.exec(lines[i])
    if (!open) continue
    // blocks indented inside a list item keep their indentation in the README
    const indent = open[1]
    const start = i + 1
    let end = start
    while (end < lines.length && !lines[end].trimStart().startsWith("```")) end++
    const code = lines.slice(start, end).map((line) => line.startsWith(indent) ? line.slice(indent.length) : line)
    i = end
    const first = code.find((line) => line.trim() !== "" && !line.trim().startsWith("//"))
    if (!first?.startsWith("import ")) continue
    const name = `${readme.replace(/[/.]/g, "_")}_${start + 1}.ts`
    // `export {}` keeps each block a module of its own.
    fs.writeFileSync(path.join(out, name), code.join("\n") + "\nexport {}\n")
    origins.set(name, { readme, line: start + 1 })
  }
}

fs.writeFileSync(
  path.join(out, "tsconfig.json"),
  JSON.stringify({
    extends: path.join(root, "tsconfig.base.json"),
    // Examples may declare what they do not use.
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
    include: ["*.ts", path.join(root, "packages/bun/src/bun-types.d.ts")]
  })
)

try {
  execFileSync(path.join(root, "node_modules/.bin/tsc"), ["-p", out, "--noEmit", "--pretty", "false"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })
  console.log(`README code: ${origins.size} blocks from ${readmes.length} READMEs compile`)
} catch (error) {
  const output = `${error.stdout ?? ""}${error.stderr ?? ""}`
  for (const line of output.split("\n")) {
    const m = /^(?:.*\/)?([^/(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
    const origin = m && origins.get(m[1])
    if (origin) console.error(`${origin.readme}:${origin.line + Number(m[2]) - 1}:${m[3]}: ${m[4]}`)
    else if (line.trim() !== "") console.error(line)
  }
  process.exit(1)
}
