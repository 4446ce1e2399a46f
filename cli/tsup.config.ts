import { defineConfig } from 'tsup'

// The CLI's dependencies stay external: npm installs them beside it.
export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  clean: true,
  sourcemap: false,
  target: 'node20',
  platform: 'node',
  banner: { js: '#!/usr/bin/env node' },
})
