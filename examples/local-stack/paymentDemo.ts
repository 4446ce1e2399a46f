// The `Payment`-scheme part of `npm run demo`: a real mppx 0.11 server whose evm charge settles on
// anvil; payfetch pays it from a fresh key, picks the payable one of two charges, and refuses one
// that costs more than the cap.
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, isPayfetchError, type Receipt } from '../../src/index.js'
import { startMppxStack } from './mppxStack.js'

const usd = (atomic: bigint) => `$${atomic / 1_000_000n}.${(atomic % 1_000_000n).toString().padStart(6, '0')}`

/** Starts the mppx stack, pays two resources over the `Payment` scheme and prints what moved. */
export async function runPaymentDemo(): Promise<void> {
  const started = performance.now()
  const stack = await startMppxStack()
  try {
    const account = await stack.evm.newPayer()
    const { usdc } = stack.evm
    console.log(
      `mppx 0.11 server up in ${(performance.now() - started).toFixed(0)} ms (${stack.url}, anvil eip155:84532)`,
    )
    console.log(
      `payer ${account.address} holds ${usd(await stack.evm.balanceOf(usdc, account.address))} USDC and no ETH\n`,
    )
    const fetchPaid = createPayingFetch({
      signers: [evm({ account })],
      caps: { perRequest: { usd: '0.10' } },
      prefer: ['payment'],
      onEvent: (event) => {
        if (event.type === 'refusal') console.log(`  refused: ${event.error.code}: ${event.error.shortMessage}`)
      },
    })
    const calls = [
      ['Payment evm charge GET /weather (EIP-3009 bound to the challenge)', '/weather'],
      ['GET /choice (EURC or USDC over Payment, or USDC over x402: payfetch pays the payable one)', '/choice'],
      ['GET /pricey (0.50 USDC, above the $0.10 cap)', '/pricey'],
    ] as const
    for (const [label, path] of calls) {
      const before = await stack.evm.balanceOf(usdc, account.address)
      const paidAt = performance.now()
      console.log(label)
      try {
        const response = await fetchPaid(`${stack.url}${path}`)
        const receipt = getReceipt(response) as Receipt
        console.log(`  ${response.status} ${(await response.text()).slice(0, 60)}`)
        console.log(
          `  paid ${usd(receipt.amount)} over ${receipt.protocol} in ${(performance.now() - paidAt).toFixed(0)} ms; tx ${receipt.reference}`,
        )
        console.log(`  payer balance ${usd(before)} -> ${usd(await stack.evm.balanceOf(usdc, account.address))}`)
      } catch (error) {
        if (!isPayfetchError(error)) throw error
        console.log(`  nothing paid; balance still ${usd(await stack.evm.balanceOf(usdc, account.address))}`)
      }
    }
  } finally {
    await stack.stop()
  }
}
