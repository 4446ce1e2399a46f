// payfetch pays the `Payment` scheme's solana charge (draft-solana-charge-00) on LiteSVM: an SPL
// TransferChecked the server co-signs as fee payer and sends; the payer holds no SOL.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type SolanaChargeStack, startSolanaChargeStack } from '../../examples/local-stack/solanaChargeStack.js'
import { createPayingFetch, getReceipt } from '../../src/index.js'
import { solanaDevnet } from '../../src/protocols/x402/networks.js'
import { solana } from '../../src/solana/index.js'
import { countingSigner } from '../support/countingSigner.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

let stack: SolanaChargeStack

beforeAll(async () => {
  stack = await startSolanaChargeStack()
})

afterAll(async () => {
  await stack?.stop()
})

async function payer(funds = 1_000_000n) {
  const key = await stack.newPayer()
  await stack.fund(stack.tokens.usdc, key.address, funds)
  const signer = countingSigner(solana({ signer: key, rpc: stack.rpcUrl, networks: [solanaDevnet] }))
  return { key, signer, fetchPaid: createPayingFetch({ signers: [signer] }) }
}

const credentialsTo = (path: string) =>
  stack.requests.to(path).filter((entry) => String(entry.headers.authorization ?? '').startsWith('Payment '))

describe('Payment scheme, solana charge, on LiteSVM', () => {
  test('behavior: GET /weather is paid with one sponsored transfer; balances move by exactly 10000; the receipt is the transaction signature', async () => {
    const { key, signer, fetchPaid } = await payer()
    const before = [
      await stack.balanceOf(stack.tokens.usdc, key.address),
      await stack.balanceOf(stack.tokens.usdc, stack.payTo),
    ]
    const response = await fetchPaid(`${stack.url}/weather`)
    expect(response.status).toBe(200)
    const after = [
      await stack.balanceOf(stack.tokens.usdc, key.address),
      await stack.balanceOf(stack.tokens.usdc, stack.payTo),
    ]
    expect([after[0]! - before[0]!, after[1]! - before[1]!]).toEqual([-10_000n, 10_000n])
    expect(stack.lamports(key.address)).toBe(0n)
    const outcome = stack.outcomes.at(-1)
    expect(getReceipt(response)).toMatchObject({
      protocol: 'payment',
      network: solanaDevnet,
      asset: stack.tokens.usdc.mint,
      amount: 10_000n,
      payer: key.address,
      reference: outcome?.detail,
    })
    expect(signer.calls).toHaveLength(1)
    expect(credentialsTo('/weather').length).toBeGreaterThan(0)
  })

  test('behavior: without a server blockhash, payfetch reads one from the RPC', async () => {
    const { fetchPaid } = await payer()
    const calls = stack.rpcCalls.length
    expect((await fetchPaid(`${stack.url}/no-blockhash`)).status).toBe(200)
    expect(stack.rpcCalls.slice(calls)).toContain('getLatestBlockhash')
  })

  test('policy: native SOL and unsponsored charges are offers payfetch shows but does not pay (NO_SIGNER); nothing signed', async () => {
    const { signer, fetchPaid } = await payer()
    for (const path of ['/sol', '/unsponsored']) {
      const error = await failure(fetchPaid(`${stack.url}${path}`))
      expect(error.code, path).toBe('NO_SIGNER')
      expect(credentialsTo(path), path).toHaveLength(0)
    }
    expect(signer.calls).toHaveLength(0)
  })

  test('policy: an expired challenge and a charge over the cap are refused before signing', async () => {
    const { signer, fetchPaid } = await payer()
    expect((await failure(fetchPaid(`${stack.url}/expired`))).code).toBe('CHALLENGE_INVALID')
    expect((await failure(fetchPaid(`${stack.url}/pricey`))).code).toBe('CAP_EXCEEDED')
    expect(signer.calls).toHaveLength(0)
  })
})
