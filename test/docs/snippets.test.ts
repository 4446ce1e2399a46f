import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { beforeAll, describe, expect, test } from 'vitest'

// Every ```ts block of README.md and docs/*.md, type-checked as a module of its own against the
// package as it ships (dist/*.d.ts, reached by its name through package.json's exports), with the
// repository's strict options. Names a snippet takes as given are declared once, in
// snippetPreamble.ts.
const root = join(import.meta.dirname, '../..')
const preamble = join(import.meta.dirname, 'snippetPreamble.ts')
const documents = [
  'README.md',
  ...readdirSync(join(root, 'docs')).flatMap((name) => (name.endsWith('.md') ? [`docs/${name}`] : [])),
]

type Snippet = { document: string; line: number; code: string; file: string }

/** The ```ts blocks of a Markdown text, with the line each one's code starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = []
  const lines = markdown.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\b/.exec(lines[index] as string)
    if (!open) continue
    const [, indent = '', fence = '```'] = open
    const start = index + 1
    let end = start
    while (end < lines.length && !(lines[end] as string).trimStart().startsWith(fence)) end++
    blocks.push({
      line: start + 1,
      code: lines
        .slice(start, end)
        .map((line) => line.replace(indent, ''))
        .join('\n'),
    })
    index = end
  }
  return blocks
}

// Inside the repository, so `payfetch` resolves to this package and `viem` to node_modules.
const snippetFile = (document: string, line: number) =>
  join(root, '.snippets', `${document.replace(/[/.]/g, '_')}_${line}.ts`)

/** The `import … from 'payfetch…'` lines of the TSDoc examples in src/: each must name what that entry exports. */
function exampleImports(source: string): { line: number; code: string }[] {
  return source.split('\n').flatMap((text, index) => {
    const code = /^\s*\* (import .* from 'payfetch(\/[a-z-]+)?')$/.exec(text)?.[1]
    return code ? [{ line: index + 1, code }] : []
  })
}
const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
  .filter((name) => name.endsWith('.ts'))
  .map((name) => `src/${name.replaceAll('\\', '/')}`)

const snippets: Snippet[] = [
  ...documents.flatMap((document) =>
    tsBlocks(readFileSync(join(root, document), 'utf8')).map(({ line, code }) => ({
      document,
      line,
      code,
      file: snippetFile(document, line),
    })),
  ),
  ...sources.flatMap((document) =>
    exampleImports(readFileSync(join(root, document), 'utf8')).map(({ line, code }) => ({
      document,
      line,
      code,
      file: snippetFile(document, line),
    })),
  ),
]

let diagnostics: Map<string, string[]>

beforeAll(() => {
  if (!existsSync(join(root, 'dist/index.d.ts'))) execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' })
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    moduleDetection: ts.ModuleDetectionKind.Force,
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    types: ['node'],
    noEmit: true,
  }
  const byFile = new Map(snippets.map((snippet) => [snippet.file, snippet]))
  const host = ts.createCompilerHost(options)
  const { fileExists, readFile, getSourceFile } = host
  host.fileExists = (file) => byFile.has(file) || fileExists.call(host, file)
  host.readFile = (file) => byFile.get(file)?.code ?? readFile.call(host, file)
  host.getSourceFile = (file, language, ...rest) => {
    const snippet = byFile.get(file)
    return snippet
      ? ts.createSourceFile(file, snippet.code, language, true)
      : getSourceFile.call(host, file, language, ...rest)
  }
  const program = ts.createProgram([preamble, ...byFile.keys()], options, host)
  diagnostics = new Map()
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const snippet = diagnostic.file && byFile.get(diagnostic.file.fileName)
    const where = snippet
      ? `${snippet.document}:${snippet.line + diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line}`
      : diagnostic.file
        ? relative(root, diagnostic.file.fileName)
        : 'options'
    const key = snippet?.document ?? where
    const message = `${where}: TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`
    diagnostics.set(key, [...(diagnostics.get(key) ?? []), message])
  }
  // One type-check of every snippet: CPU-bound, a minute or more on a loaded 2-core machine.
}, 300_000)

describe('code blocks in the documentation', () => {
  test('behavior: every document has its ts blocks found (the README has at least seven)', () => {
    expect(snippets.filter((snippet) => snippet.document === 'README.md').length).toBeGreaterThanOrEqual(7)
    expect(tsBlocks('text\n```ts\nconst a = 1\n```\n\n  ```typescript\n  const b = 2\n  ```\n```sh\nls\n```')).toEqual([
      { line: 3, code: 'const a = 1' },
      { line: 7, code: 'const b = 2' },
    ])
  })

  test('behavior: the preamble itself type-checks', () => {
    expect(diagnostics.get(relative(root, preamble)) ?? []).toEqual([])
    expect(
      [...diagnostics.keys()].filter(
        (key) => !documents.includes(key) && !sources.includes(key) && key !== relative(root, preamble),
      ),
    ).toEqual([])
  })

  test('behavior: every import line of a TSDoc example in src/ names what that payfetch entry exports', () => {
    expect(snippets.filter((snippet) => snippet.document.startsWith('src/')).length).toBeGreaterThanOrEqual(50)
    expect(
      exampleImports("/**\n * import { payment } from 'payfetch/payment'\n * import { x } from 'viem'\n */"),
    ).toEqual([{ line: 2, code: "import { payment } from 'payfetch/payment'" }])
    expect(sources.flatMap((document) => diagnostics.get(document) ?? [])).toEqual([])
  })

  test.each(documents)('behavior: every ts block of %s type-checks against the package', (document) => {
    expect(diagnostics.get(document) ?? []).toEqual([])
  })
})
