import { build } from 'esbuild'
import { describe, expect, test } from 'vitest'

// Bundles an entry from source the way a browser app would; returns the files that kept bytes in
// the output after tree-shaking.
async function bundleInputs(contents: string): Promise<string[]> {
  const result = await build({
    stdin: { contents, resolveDir: process.cwd(), loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const [output] = Object.values(result.metafile.outputs)
  return Object.entries(output?.inputs ?? {}).flatMap(([input, { bytesInOutput }]) =>
    bytesInOutput > 0 ? [input] : [],
  )
}

describe('bundle', () => {
  test('behavior: the root entry bundles for the browser with no dependency at all (no viem, no node:*)', async () => {
    const inputs = await bundleInputs(`export * from './src/index.ts'`)
    expect(inputs.filter((input) => input.includes('node_modules'))).toEqual([])
    expect(inputs.length).toBeGreaterThan(5)
  })

  test('behavior: payfetch/evm pulls viem only for the parts it uses', async () => {
    const inputs = await bundleInputs(`export * from './src/evm/index.ts'`)
    const packages = new Set(
      inputs.flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.slice(1) ?? []),
    )
    expect([...packages].sort()).toEqual(expect.arrayContaining(['viem']))
    // Signing goes through the caller's account: no clients, actions or transports are bundled.
    expect(inputs.filter((input) => /viem\/_esm\/(actions|clients)\//.test(input))).toEqual([])
  })

  test('behavior: payfetch/solana keeps only @solana/kit parts: no @solana-program, no web3.js, no RPC stack', async () => {
    const inputs = await bundleInputs(`export * from './src/solana/index.ts'`)
    const packages = [
      ...new Set(inputs.flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.slice(1) ?? [])),
    ]
    expect(
      packages.every((name) => name.startsWith('@solana/')),
      packages.join(', '),
    ).toBe(true)
    // Instructions are encoded by hand and the two RPC reads go through a small fetch client.
    expect(
      packages.filter((name) =>
        /^@solana\/(web3\.js|spl-token|rpc|rpc-api|rpc-transport-http|rpc-transformers|rpc-subscriptions)$/.test(name),
      ),
    ).toEqual([])
    expect(inputs.filter((input) => input.includes('@solana-program/'))).toEqual([])
  })

  test('behavior: the root carries only the signed-terms seam; payfetch/offer-receipt pulls noble and nothing else', async () => {
    const root = await bundleInputs(`export * from './src/index.ts'`)
    expect(root.filter((input) => /src\/offerReceipt\/|@noble/.test(input))).toEqual([])
    const inputs = await bundleInputs(`export * from './src/offerReceipt/index.ts'`)
    const packages = new Set(
      inputs.flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.slice(1) ?? []),
    )
    expect([...packages].sort()).toEqual(['@noble/curves', '@noble/hashes'])
  })

  test('behavior: the root entry carries none of the agent subpaths (tools, LangChain, AI SDK, ky) nor zod', async () => {
    const inputs = await bundleInputs(`export * from './src/index.ts'`)
    expect(inputs.filter((input) => /src\/(tools|langchain|ai|ky)\/|zod/.test(input))).toEqual([])
  })

  test('behavior: payfetch/tools pulls zod/mini and no other package', async () => {
    const inputs = await bundleInputs(`export * from './src/tools/index.ts'`)
    const packages = new Set(
      inputs.flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.slice(1) ?? []),
    )
    expect([...packages]).toEqual(['zod'])
    expect(inputs.filter((input) => input.includes('zod/v4/classic'))).toEqual([])
  })

  test('behavior: payfetch/tempo bundles viem and its own dependencies only: no mppx, Solana or Lightning code', async () => {
    const inputs = await bundleInputs(`export * from './src/tempo/index.ts'`)
    const packages = new Set(
      inputs.flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.slice(1) ?? []),
    )
    expect(
      [...packages].filter((name) => !['viem', 'ox', 'abitype', '@noble/curves', '@noble/hashes'].includes(name)),
    ).toEqual([])
    expect(packages.has('viem')).toBe(true)
  })
})
