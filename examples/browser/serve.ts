// The example page on loopback, for a person with a browser wallet: the local chain, the x402
// reference server with the article, CORS in front of it, and the page on an origin of its own.
//
//   npm run build && npx tsx examples/browser/serve.ts
//
// In the wallet, add the network it prints (chain id 84532 at the anvil URL) and import the payer
// key it prints: that key holds test USDC on this chain only. Ctrl-C stops everything.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startCorsProxy } from '../local-stack/corsProxy.js'
import { defaultV2Routes, startEvmStack } from '../local-stack/evmStack.js'
import { articleRoute, startArticleSite } from './site.js'

const stack = await startEvmStack({ v2Routes: [...defaultV2Routes, articleRoute] })
const payerKey = generatePrivateKey()
const payer = privateKeyToAccount(payerKey)
await stack.mint(stack.usdc, payer.address, 1_000_000n)
// The server's CORS, as the README's "For server authors: CORS" section asks for.
const api = await startCorsProxy(stack.v2Url, { expose: ['PAYMENT-REQUIRED', 'PAYMENT-RESPONSE', 'WWW-Authenticate'] })
const script = await readFile(join(import.meta.dirname, '../../dist/browser/payfetch.js'), 'utf8')
const site = await startArticleSite({ api: `${api.url}/article`, chainId: stack.chainId, script })

console.log(`chain: ${stack.rpcUrl} (chain id ${stack.chainId})`)
console.log(`payer key (1 test USDC, ${payer.address}): ${payerKey}`)
console.log(`open: ${site.url}`)

process.on('SIGINT', async () => {
  await Promise.allSettled([site.close(), api.close()])
  await stack.stop()
  process.exit(0)
})
