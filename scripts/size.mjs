// Bundle-size check: each entry bundled for the browser (esbuild, minified ESM), gzip -9; an entry
// with `file` is a file of the build measured as it ships (the script build for pages).
// Budgets live beside it in size-budgets.json; the peer client is measured in the same run so the
// ratio holds whatever esbuild version is installed. Run after `npm run build`.

import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const budgets = JSON.parse(readFileSync(new URL('./size-budgets.json', import.meta.url), 'utf8'))

async function measure(contents, external = []) {
  const result = await build({
    stdin: { contents, resolveDir: process.cwd(), loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    external,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0].contents
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length, inputs: Object.keys(result.metafile.inputs) }
}

function measureFile(path) {
  const code = readFileSync(path)
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length, inputs: [] }
}

let failed = false
const rows = []
for (const entry of budgets.entries) {
  const size = entry.file ? measureFile(entry.file) : await measure(entry.code, entry.external)
  const forbidden = (entry.mustNotInclude ?? []).filter((name) =>
    size.inputs.some((input) => input.includes(`node_modules/${name}/`)),
  )
  const over = entry.gzipBudget !== undefined && size.gzip > entry.gzipBudget
  if (over || forbidden.length > 0) failed = true
  rows.push({
    entry: entry.name,
    'min (B)': size.min,
    'gzip (B)': size.gzip,
    'budget (B)': entry.gzipBudget ?? '-',
    result: over ? 'OVER BUDGET' : forbidden.length > 0 ? `includes ${forbidden.join(', ')}` : 'ok',
  })
}
console.table(rows)
if (failed) {
  console.error('size check failed')
  process.exit(1)
}
