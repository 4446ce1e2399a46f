import type { Address } from '@solana/kit'
import { Keypair, VersionedTransaction } from '@solana/web3.js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type CorsProxy, startCorsProxy } from '../../examples/local-stack/corsProxy.js'
import { type SolanaStack, startSolanaStack } from '../../examples/local-stack/solanaStack.js'
import { injectSolanaWallet, type TestSolanaWallet } from '../support/browserWallets.js'
import {
  bundleForPage,
  type Chromium,
  openPage,
  startChromium,
  startTestPage,
  type TestPage,
} from '../support/chromium.js'
import type { SolanaScriptBuild } from '../support/pageGlobals.js'

// The Solana wallet adapter in a page: the script build for Solana pages with web3.js's
// VersionedTransaction beside it (the class a wallet adapter signs), window.solana injected as a
// wallet whose key stays in the test process, the x402 reference server and the RPC on other
// origins, and the facilitator settling on LiteSVM.
type SolanaPage = Window & {
  payfetch: SolanaScriptBuild & { VersionedTransaction: typeof VersionedTransaction }
  solana: Parameters<SolanaScriptBuild['walletAdapter']>[0]
}

let stack: SolanaStack
let chromium: Chromium
let page: TestPage
let server: CorsProxy
let rpc: CorsProxy
let wallet: TestSolanaWallet
const keypair = Keypair.generate()

beforeAll(async () => {
  let script: string
  ;[stack, chromium, script] = await Promise.all([
    startSolanaStack(),
    startChromium(),
    bundleForPage('payfetch-solana', `export { VersionedTransaction } from '@solana/web3.js'`),
  ])
  await stack.fund(stack.tokens.usdc, keypair.publicKey.toBase58() as Address, 100_000n)
  ;[server, rpc, page] = await Promise.all([
    startCorsProxy(stack.v2Url, { expose: ['PAYMENT-REQUIRED', 'PAYMENT-RESPONSE'] }),
    startCorsProxy(stack.rpcUrl),
    startTestPage(script),
  ])
  wallet = await injectSolanaWallet(chromium.context, keypair, VersionedTransaction)
})

afterAll(async () => {
  await chromium?.close()
  await Promise.allSettled([page?.close(), server?.close(), rpc?.close(), stack?.stop()])
})

describe('the Solana wallet adapter in Chromium', () => {
  test('behavior: a page pays x402 on Solana with walletAdapter(window.solana, VersionedTransaction); the wallet signs once and the facilitator settles', async () => {
    const tab = await openPage(chromium.context, page.url)
    const outcome = await tab.evaluate(
      async ({ url, rpcUrl, network }) => {
        const page = window as unknown as SolanaPage
        const { createPayingFetch, getReceipt, solana, walletAdapter, VersionedTransaction } = page.payfetch
        const fetchPaid = createPayingFetch({
          signers: [
            solana({ signer: walletAdapter(page.solana, VersionedTransaction), rpc: rpcUrl, networks: [network] }),
          ],
        })
        const response = await fetchPaid(url)
        const receipt = getReceipt(response)
        return {
          status: response.status,
          body: await response.json(),
          receipt: receipt && { amount: String(receipt.amount), payer: receipt.payer, reference: receipt.reference },
        }
      },
      { url: `${server.url}/weather`, rpcUrl: rpc.url, network: stack.network },
    )
    await tab.close()
    expect(outcome).toMatchObject({
      status: 200,
      receipt: { amount: '10000', payer: keypair.publicKey.toBase58() },
    })
    expect(outcome.receipt?.reference).toBe(stack.settlements.at(-1)?.transaction)
    expect(wallet.signed).toHaveLength(1)
    expect(await stack.balanceOf(stack.tokens.usdc, keypair.publicKey.toBase58() as Address)).toBe(90_000n)
    // The mint and the blockhash came over the RPC, from the page, across origins.
    expect(rpc.forwarded.length).toBeGreaterThan(0)
  })
})
