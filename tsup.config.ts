import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'evm/index': 'src/evm/index.ts',
    'solana/index': 'src/solana/index.ts',
    'lightning/index': 'src/lightning/index.ts',
    'payment/index': 'src/payment/index.ts',
    'node/index': 'src/node/index.ts',
    'redis/index': 'src/redis/index.ts',
    'browser/index': 'src/browser/index.ts',
    'tools/index': 'src/tools/index.ts',
    'langchain/index': 'src/langchain/index.ts',
    'ai/index': 'src/ai/index.ts',
    'ky/index': 'src/ky/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: false,
  treeshake: true,
  target: 'es2022',
  platform: 'neutral',
  external: [
    'viem',
    '@solana/kit',
    /^@solana-program\//,
    'bolt11',
    'nostr-tools',
    /^nostr-tools\//,
    // The agent subpaths' frameworks are optional peers.
    'zod',
    /^zod\//,
    /^@langchain\/core/,
    'ai',
    'ky',
  ],
})
