// TypeDoc plugin for `npm run docs`: every exported declaration of a public
// module has a description, `@since` and `@category`, and every module (an
// entry point, or a namespace re-exported with `export * as`) a description
// and `@since`, as in Effect's packages. Members of interfaces and classes go
// with their owner. (TypeDoc's own `notDocumented` cannot tell an exported
// function from a function-typed property, whose docs are not required.)
import { Application, Converter, ReflectionKind } from "typedoc"
import ts from "typescript"

const declarationKinds = ReflectionKind.Variable | ReflectionKind.Function | ReflectionKind.Class |
  ReflectionKind.Interface | ReflectionKind.TypeAlias | ReflectionKind.Enum | ReflectionKind.Namespace

// The declaration a reflection stands for, among those of a merged symbol
// (a `const Connection` tag and an `interface Connection` are two reflections).
const matches = (reflection, d) => {
  if (reflection.kindOf(ReflectionKind.Variable | ReflectionKind.Function)) {
    return ts.isVariableDeclaration(d) || ts.isFunctionDeclaration(d)
  }
  if (reflection.kindOf(ReflectionKind.Class)) return ts.isClassDeclaration(d)
  if (reflection.kindOf(ReflectionKind.Interface)) return ts.isInterfaceDeclaration(d)
  if (reflection.kindOf(ReflectionKind.TypeAlias)) return ts.isTypeAliasDeclaration(d)
  if (reflection.kindOf(ReflectionKind.Enum)) return ts.isEnumDeclaration(d)
  return ts.isModuleDeclaration(d) || ts.isSourceFile(d)
}

// The file's header comment: its first doc comment, when an import or
// another doc comment follows it (else it documents the first declaration).
// Returns the node whose comment it is for TypeDoc (the first statement,
// when no other doc comment stands between), else the comment's text.
const fileHeader = (file) => {
  const docs = (ts.getLeadingCommentRanges(file.text, 0) ?? []).filter((r) => file.text.startsWith("/**", r.pos))
  if (docs.length === 0) return undefined
  const first = file.statements[0]
  if (docs.length === 1) return first !== undefined && ts.isImportDeclaration(first) ? first : undefined
  return file.text.slice(docs[0].pos, docs[0].end)
}

/** @param {import("typedoc").Application} app */
export function load(app) {
  // Namespaces made by `export * as X from "./X.ts"` are modules: their
  // comment is the module's, which needs `@since` but no `@category`.
  const moduleNamespaces = new WeakSet()
  // Where a reflection is declared, for the messages (sources are disabled:
  // the repository has no remote to link them to).
  const locations = new WeakMap()
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    const symbol = context.getSymbolFromReflection(reflection)
    if (!symbol) return
    const declarations = symbol.declarations ?? []
    const declaration = declarations.find((d) => matches(reflection, d)) ?? declarations[0]
    if (declaration) {
      const file = declaration.getSourceFile()
      const at = ts.isSourceFile(declaration) ? 0 : declaration.getStart()
      const line = file.getLineAndCharacterOfPosition(at).line + 1
      locations.set(reflection, `${file.fileName.replace(process.cwd() + "/", "")}:${line}`)
    }
    if (!reflection.kindOf(ReflectionKind.Namespace)) return
    const resolved = symbol.flags & ts.SymbolFlags.Alias ? context.checker.getAliasedSymbol(symbol) : symbol
    const file = resolved.declarations?.find((d) => ts.isSourceFile(d))
    if (file === undefined) return
    moduleNamespaces.add(reflection)
    // The page of `export * as X` shows the comment of that export line (a
    // one-liner in index.ts). The module's own header (its overview, diagrams
    // and examples) is the better page: use it when the file has one.
    const header = fileHeader(file)
    if (header !== undefined) {
      // a header with a doc comment after it is read from a copy of its own
      // (links in it then resolve by name, not through the file's imports)
      const node = typeof header === "string"
        ? ts.createSourceFile(file.fileName, `${header}\nexport {}\n`, ts.ScriptTarget.Latest, true).statements[0]
        : header
      const comment = context.getNodeComment(node, false)
      if (comment !== undefined) reflection.comment = comment
    }
  })

  app.on(Application.EVENT_VALIDATE_PROJECT, (project) => {
    const problems = new Set()
    const commentOf = (r) => r.comment ?? r.signatures?.find((s) => s.comment)?.comment
    const visit = (r, isModule) => {
      const comment = commentOf(r)
      const missing = []
      if (!comment?.summary.some((part) => part.text.trim() !== "")) missing.push("a description")
      if (!comment?.getTag("@since")) missing.push("@since")
      if (!isModule && !comment?.getTag("@category")) missing.push("@category")
      if (missing.length > 0) {
        const at = locations.get(r)
        problems.add(`${r.getFullName()}${at ? ` (${at})` : ""}: missing ${missing.join(" and ")}`)
      }
      for (const child of r.children ?? []) {
        if (child.kindOf(declarationKinds)) {
          visit(child, child.kindOf(ReflectionKind.Namespace) && moduleNamespaces.has(child))
        }
      }
    }
    // One entry point makes the project itself the module.
    for (const child of project.children ?? []) {
      if (child.kindOf(ReflectionKind.Module)) visit(child, true)
      else if (child.kindOf(declarationKinds)) visit(child, moduleNamespaces.has(child))
    }
    for (const problem of problems) app.logger.error(problem)
  })
}
