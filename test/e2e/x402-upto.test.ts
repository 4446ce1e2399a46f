import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { decodeBase64Json, encodeBase64Json } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, type PayfetchEvent } from '../../src/index.js'
import { startInterceptingProxy } from '../support/interceptingProxy.js'

// x402 `upto` against the x402 2.27 reference server and facilitator on anvil: the payer signs a
// Permit2 witness transfer of the ceiling (0.05 USDC) to the x402 upto proxy; the route's handler
// charges `?charge=` through the reference server's `Settlement-Overrides` header, and the
// facilitator settles that much (nothing at all for 0).
let stack: EvmStack
const ceiling = 50_000n

beforeAll(async () => {
  stack = await startEvmStack()
})

afterAll(async () => {
  await stack?.stop()
})

/** A funded payer that approved Permit2 once, the proofs its fetch sent and the events it reported. */
async function payer() {
  const account = stack.newAccount()
  await stack.mint(stack.usdc, account.address, 1_000_000n)
  await stack.approvePermit2(account)
  const proofs: string[] = []
  const events: PayfetchEvent[] = []
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const proof = request.headers.get('payment-signature')
    if (proof) proofs.push(proof)
    return fetch(request)
  }
  const signer = evm({ account, publicClient: stack.publicClient })
  return { account, signer, proofs, events, recording, onEvent: (event: PayfetchEvent) => events.push(event) }
}

type UptoProof = {
  accepted: { scheme: string; amount: string }
  payload: {
    permit2Authorization: { spender: string; permitted: { amount: string }; witness: { facilitator: string } }
  }
}

describe('x402 upto, settled on a local chain', () => {
  test('behavior: a charge below the ceiling moves exactly the charge; the receipt and the ledger show the charge, not the ceiling', async () => {
    const { account, signer, proofs, events, recording, onEvent } = await payer()
    const before = await stack.balanceOf(stack.usdc, stack.payTo)
    const fetchPaid = createPayingFetch({ signers: [signer], fetch: recording, onEvent })

    const started = performance.now()
    const response = await fetchPaid(`${stack.v2Url}/upto/tokens?charge=12345`)
    const elapsed = performance.now() - started

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ metered: true })
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 12_345n)
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(before + 12_345n)
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({ protocol: 'x402', amount: 12_345n, payer: account.address })
    expect(receipt?.ignored).toBeUndefined()
    expect((await stack.getTransactionReceipt(receipt?.reference as Hex)).status).toBe('success')
    // The permit is for the ceiling, to the upto proxy, bound to the facilitator that settles.
    const signed = decodeBase64Json(proofs[0] as string) as UptoProof
    expect(signed.accepted).toMatchObject({ scheme: 'upto', amount: ceiling.toString() })
    expect(signed.payload.permit2Authorization.spender).toBe('0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002')
    expect(signed.payload.permit2Authorization.permitted.amount).toBe(ceiling.toString())
    expect(signed.payload.permit2Authorization.witness.facilitator.toLowerCase()).toBe(
      stack.facilitatorAddress.toLowerCase(),
    )
    expect(proofs).toHaveLength(1)
    expect((await fetchPaid.spendReport()).totals).toMatchObject([{ spent: 12_345n, reserved: 0n, unknown: 0n }])
    const chosen = events.find((event) => event.type === 'offer.chosen')
    expect(chosen?.type === 'offer.chosen' && chosen.offer.amount).toBe(ceiling)
    console.info(`e2e: one paid x402 upto call (allowance read, permit, settle on anvil) took ${elapsed.toFixed(0)} ms`)
  })

  test('policy: caps reserve the ceiling: a per-request limit below it refuses before signing, whatever the charge would be', async () => {
    const { account, signer, proofs, recording } = await payer()
    const fetchPaid = createPayingFetch({ signers: [signer], fetch: recording, caps: { perRequest: { usd: '0.049' } } })

    const error = await fetchPaid(`${stack.v2Url}/upto/tokens?charge=1`).catch((caught: unknown) => caught)

    expect(error).toMatchObject({ code: 'CAP_EXCEEDED', details: { scheme: 'upto', amount: '50000' } })
    expect(proofs).toEqual([])
    expect((await fetchPaid.spendReport()).totals).toEqual([])
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n)
  })

  test('policy: a budget holds the ceiling while paying and keeps only the charge: what was not charged is free for the next call', async () => {
    const { account, signer, recording } = await payer()
    // $0.06 in total: two ceilings of $0.05 never fit together; a $0.01 charge and a ceiling do.
    const fetchPaid = createPayingFetch({ signers: [signer], fetch: recording, caps: { budgets: [{ usd: '0.06' }] } })

    const first = await fetchPaid(`${stack.v2Url}/upto/tokens?charge=10000`)
    expect(getReceipt(first)?.amount).toBe(10_000n)
    const second = await fetchPaid(`${stack.v2Url}/upto/tokens?charge=50000`)
    expect(getReceipt(second)?.amount).toBe(50_000n)
    // Now $0.06 is spent: the next ceiling does not fit, even if it would charge nothing.
    const third = await fetchPaid(`${stack.v2Url}/upto/tokens?charge=0`).catch((caught: unknown) => caught)
    expect(third).toMatchObject({ code: 'BUDGET_EXHAUSTED' })

    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 60_000n)
    const report = await fetchPaid.spendReport()
    expect(report.totals).toMatchObject([{ spent: 60_000n, reserved: 0n, unknown: 0n }])
    expect(report.budgets).toMatchObject([{ used: 60_000_000n }])
  })

  test('behavior: a charge of 0 is a paid response with nothing spent: no transaction, no balance moved', async () => {
    const { account, signer, recording } = await payer()
    const fetchPaid = createPayingFetch({ signers: [signer], fetch: recording })
    const blockBefore = await stack.blockNumber()

    const response = await fetchPaid(`${stack.v2Url}/upto/tokens?charge=0`)

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ metered: true })
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({ amount: 0n, payer: account.address })
    expect(receipt?.reference).toBeUndefined()
    expect(await stack.transactionsSince(blockBefore)).toBe(0)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n)
    const totals = (await fetchPaid.spendReport()).totals
    expect(totals.every((total) => total.spent === 0n && total.reserved === 0n && total.unknown === 0n)).toBe(true)
  })

  test('policy: a settlement report above the ceiling is flagged in the receipt and not trusted: the ceiling stays counted', async () => {
    const { account, signer, recording } = await payer()
    // The server charges 20000 on chain but reports 10 USDC, above the 0.05 ceiling it could take.
    const proxy = await startInterceptingProxy(stack.v2Url, {
      rewriteHeaders(_, headers) {
        const report = headers['payment-response']
        if (!report) return headers
        const settlement = decodeBase64Json(report) as Record<string, unknown>
        return { ...headers, 'payment-response': encodeBase64Json({ ...settlement, amount: '10000000' }) }
      },
    })
    try {
      const fetchPaid = createPayingFetch({ signers: [signer], fetch: recording })
      const response = await fetchPaid(`${proxy.url}/upto/tokens?charge=20000`)

      expect(response.status).toBe(200)
      const receipt = getReceipt(response)
      expect(receipt?.amount).toBe(ceiling)
      expect(receipt?.ignored).toEqual(['amount'])
      expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 20_000n)
      expect((await fetchPaid.spendReport()).totals).toMatchObject([{ spent: ceiling, reserved: 0n }])
    } finally {
      await proxy.close()
    }
  })

  test('policy: without an approved Permit2 allowance an upto offer is refused before signing, nothing reserved', async () => {
    const account = stack.newAccount()
    await stack.mint(stack.usdc, account.address, 1_000_000n)
    const fetchPaid = createPayingFetch({ signers: [evm({ account, publicClient: stack.publicClient })] })

    const error = await fetchPaid(`${stack.v2Url}/upto/tokens?charge=1`).catch((caught: unknown) => caught)

    expect(error).toMatchObject({ code: 'ALLOWANCE_REQUIRED' })
    expect((await fetchPaid.spendReport()).totals.every((total) => total.spent === 0n && total.reserved === 0n)).toBe(
      true,
    )
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n)
  })
})
