import { build } from 'esbuild'
import { describe, expect, test } from 'vitest'

// Node's built-in modules a dependency could reach for, and the npm packages that stand in for
// them in a browser: neither may be in payfetch/lightning.
const builtins = ['buffer', 'stream', 'events', 'crypto', 'util', 'assert', 'process', 'os', 'path', 'fs']
const polyfills = ['buffer', 'safe-buffer', 'events', 'readable-stream', 'stream-browserify', 'create-hash', 'bn.js']

describe('payfetch/lightning in a browser', () => {
  test('behavior: bundles with esbuild for the browser, with no Node polyfill, and imports no Node built-in', async () => {
    const result = await build({
      stdin: { contents: `export * from './src/lightning/index.ts'`, resolveDir: process.cwd(), loader: 'ts' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    })
    expect(result.errors).toEqual([])
    const inputs = Object.keys(result.metafile.inputs)
    const packages = new Set(
      inputs.flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.slice(1) ?? []),
    )
    expect([...packages].filter((name) => polyfills.includes(name) || name === 'bolt11')).toEqual([])
    // The signature check is in there, from noble.
    expect(packages).toContain('@noble/curves')
    const [output] = Object.values(result.metafile.outputs)
    expect(output?.imports).toEqual([])
    const code = result.outputFiles[0]?.text ?? ''
    const imported = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']([^"']+)["']/g)].map(
      ([, specifier]) => specifier as string,
    )
    expect(imported.filter((specifier) => specifier.startsWith('node:') || builtins.includes(specifier))).toEqual([])
  })
})
