// The Solana part of `npm run demo`: a LiteSVM posing as devnet (USDC at its devnet mint), a real
// x402 facilitator and the x402 reference server; payfetch pays one resource from a fresh key.
import { createPayingFetch, getReceipt, type Receipt } from '../../src/index.js'
import { solana } from '../../src/solana/index.js'
import { startSolanaStack } from './solanaStack.js'

const usdc = (atomic: bigint) => `$${atomic / 1_000_000n}.${(atomic % 1_000_000n).toString().padStart(6, '0')}`

/** Starts the Solana stack, pays `GET /weather` in USDC and prints the settlement and balances. */
export async function runSolanaDemo(): Promise<void> {
  const started = performance.now()
  const stack = await startSolanaStack()
  try {
    const payer = await stack.newPayer()
    await stack.fund(stack.tokens.usdc, payer.address, 1_000_000n)
    const { usdc: token } = stack.tokens
    console.log(
      `Solana stack up in ${(performance.now() - started).toFixed(0)} ms (LiteSVM as ${stack.network}, RPC ${stack.rpcUrl})`,
    )
    console.log(
      `payer ${payer.address} holds ${usdc(await stack.balanceOf(token, payer.address))} USDC and ${stack.lamports(payer.address)} lamports`,
    )
    console.log(`merchant ${stack.payTo}; fee payer (facilitator) ${stack.feePayer}\n`)

    const fetchPaid = createPayingFetch({
      signers: [solana({ signer: payer, rpc: stack.rpcUrl, networks: [stack.network] })],
      caps: { perRequest: { usd: '0.10' } },
    })
    const before = {
      payer: await stack.balanceOf(token, payer.address),
      merchant: await stack.balanceOf(token, stack.payTo),
    }
    const paidAt = performance.now()
    console.log('x402 v2 GET /weather on Solana (SPL TransferChecked, co-signed by the facilitator)')
    const response = await fetchPaid(`${stack.v2Url}/weather`)
    const ms = (performance.now() - paidAt).toFixed(0)
    const receipt = getReceipt(response) as Receipt
    console.log(`  ${response.status} ${(await response.text()).slice(0, 60)}`)
    console.log(`  paid ${usdc(receipt.amount)} on ${receipt.network} in ${ms} ms; signature ${receipt.reference}`)
    console.log(
      `  payer balance ${usdc(before.payer)} -> ${usdc(await stack.balanceOf(token, payer.address))}; lamports still ${stack.lamports(payer.address)}`,
    )
    console.log(`  merchant balance ${usdc(before.merchant)} -> ${usdc(await stack.balanceOf(token, stack.payTo))}`)
  } finally {
    await stack.stop()
  }
}
