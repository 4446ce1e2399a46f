import zlib from 'node:zlib'
import { build } from 'esbuild'

const entry = process.argv[2] ?? 'src/index.ts'
const r = await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  write: false,
  metafile: true,
  outfile: 'out.js',
})
const out = r.outputFiles[0].contents
console.log('gzip', zlib.gzipSync(out, { level: 9 }).length)
const inputs = Object.entries(Object.values(r.metafile.outputs)[0].inputs).sort(
  (a, b) => b[1].bytesInOutput - a[1].bytesInOutput,
)
for (const [k, v] of inputs.slice(0, 45)) console.log(v.bytesInOutput, k)
