import { defineConfig } from 'tsup'

export default defineConfig({
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
    /^viem\//,
    '@solana/kit',
    /^@solana-program\//,
    /^@noble\/(curves|hashes)(\/|$)/,
    'nostr-tools',
    /^nostr-tools\//,
  ],
})
