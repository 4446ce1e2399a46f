import { defineConfig } from 'tsup'

// The script build (dist/browser/payfetch*.js) is written by the second config; the first one's
// clean must leave it alone, since both run at once.
const scriptBuild = ['!browser/payfetch.js', '!browser/payfetch.global.js', '!browser/payfetch-solana*.js']

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      'evm/index': 'src/evm/index.ts',
      'solana/index': 'src/solana/index.ts',
      'tempo/index': 'src/tempo/index.ts',
      'lightning/index': 'src/lightning/index.ts',
      'payment/index': 'src/payment/index.ts',
      'node/index': 'src/node/index.ts',
      'redis/index': 'src/redis/index.ts',
      'browser/index': 'src/browser/index.ts',
      'tools/index': 'src/tools/index.ts',
      'langchain/index': 'src/langchain/index.ts',
      'ai/index': 'src/ai/index.ts',
      'ky/index': 'src/ky/index.ts',
      'discovery/index': 'src/discovery/index.ts',
      'offer-receipt/index': 'src/offerReceipt/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    clean: scriptBuild,
    sourcemap: false,
    treeshake: true,
    target: 'es2022',
    platform: 'neutral',
    external: [
      'viem',
      /^viem\//,
      '@solana/kit',
      /^@solana-program\//,
      /^@noble\/(curves|hashes)(\/|$)/,
      'nostr-tools',
      /^nostr-tools\//,
      // The agent subpaths' frameworks are optional peers.
      'zod',
      /^zod\//,
      /^@langchain\/core/,
      'ai',
      'ky',
    ],
  },
  {
    // One file per format for a page: an ES module, and an IIFE that sets `window.payfetch`. Every
    // dependency is inside; nothing is left to a bundler.
    entry: { 'browser/payfetch': 'src/script/payfetch.ts', 'browser/payfetch-solana': 'src/script/payfetch-solana.ts' },
    format: ['esm', 'iife'],
    splitting: false,
    globalName: 'payfetch',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    dts: false,
    clean: false,
    sourcemap: false,
    noExternal: [/.*/],
  },
])
