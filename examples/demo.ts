// The main job, end to end and offline: start a local chain (anvil, chain id 84532 with USDC at its
// Base Sepolia address), a real x402 facilitator and the x402 reference server, then let payfetch
// pay a few resources from a fresh key and print what happened.

import { evm } from '../src/evm/index.js'
import { createPayingFetch, getReceipt, isPayfetchError, type Receipt } from '../src/index.js'
import { startEvmStack } from './local-stack/evmStack.js'
import { runLightningDemo } from './local-stack/lightningDemo.js'
import { runPaymentDemo } from './local-stack/paymentDemo.js'
import { runSolanaDemo } from './local-stack/solanaDemo.js'

const usd = (atomic: bigint) => `$${atomic / 1_000_000n}.${(atomic % 1_000_000n).toString().padStart(6, '0')}`

const stack = await startEvmStack()
try {
  const account = stack.newAccount()
  await stack.mint(stack.usdc, account.address, 1_000_000n)
  console.log(
    `payer ${account.address} holds ${usd(await stack.balanceOf(stack.usdc, account.address))} USDC and no ETH`,
  )
  console.log(`merchant ${stack.payTo}; chain ${stack.rpcUrl} (eip155:${stack.chainId})\n`)

  const fetchPaid = createPayingFetch({
    signers: [evm({ account })],
    caps: { perRequest: { usd: '0.10' } },
    onEvent: (event) => {
      if (event.type === 'refusal') console.log(`  refused: ${event.error.code}: ${event.error.shortMessage}`)
    },
  })

  const calls: { label: string; url: string; init?: RequestInit }[] = [
    { label: 'x402 v2 GET /weather', url: `${stack.v2Url}/weather` },
    { label: 'x402 v2 GET /report', url: `${stack.v2Url}/report` },
    {
      label: 'x402 v2 POST /echo',
      url: `${stack.v2Url}/echo`,
      init: { method: 'POST', body: '{"hello":"world"}', headers: { 'content-type': 'application/json' } },
    },
    { label: 'x402 v1 GET /v1/weather', url: `${stack.v1Url}/v1/weather` },
    { label: 'x402 v2 GET /pricey (5 USDC, above the $0.10 cap)', url: `${stack.v2Url}/pricey` },
  ]

  for (const call of calls) {
    const before = await stack.balanceOf(stack.usdc, account.address)
    const started = performance.now()
    console.log(call.label)
    try {
      const response = await fetchPaid(call.url, call.init)
      const ms = (performance.now() - started).toFixed(0)
      const receipt = getReceipt(response) as Receipt
      const after = await stack.balanceOf(stack.usdc, account.address)
      console.log(`  ${response.status} ${(await response.text()).slice(0, 60)}`)
      console.log(`  paid ${usd(receipt.amount)} on ${receipt.network} in ${ms} ms; tx ${receipt.reference}`)
      console.log(`  payer balance ${usd(before)} -> ${usd(after)}`)
    } catch (error) {
      if (!isPayfetchError(error)) throw error
      console.log(`  nothing paid; balance still ${usd(await stack.balanceOf(stack.usdc, account.address))}`)
    }
  }
  console.log(
    `\nmerchant received ${usd(await stack.balanceOf(stack.usdc, stack.payTo))} in ${stack.settlements.length} settlements`,
  )
} finally {
  await stack.stop()
}

console.log('')
await runSolanaDemo()

console.log('')
await runLightningDemo()

console.log('')
await runPaymentDemo()
