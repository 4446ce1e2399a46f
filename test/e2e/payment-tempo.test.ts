// payfetch pays the `Payment` scheme's tempo charge of a real mppx 0.11 server on anvil in Tempo
// mode: the server co-signs (when it sponsors the fee) and broadcasts what payfetch signed. anvil
// mines one expiring-nonce transaction per sender, so every payment has a payer of its own.
import type { Hash } from 'viem'
import { Transaction } from 'viem/tempo'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { appBearerToken, type MppxStack, pathUsd, startMppxStack } from '../../examples/local-stack/mppxStack.js'
import { evm } from '../../src/evm/index.js'
import { type Caps, createPayingFetch, getReceipt, type PayingFetchOptions } from '../../src/index.js'
import { tempo } from '../../src/tempo/index.js'
import { countingSigner } from '../support/countingSigner.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

let stack: MppxStack

beforeAll(async () => {
  stack = await startMppxStack()
})

afterAll(async () => {
  await stack?.stop()
})

const local = 'eip155:1337'
// The local chain's pathUSD is not the mainnet asset payfetch values at par: tests list it.
const pathUsdCaps = (maxAmount = 100_000n): Caps => ({ assets: [{ network: local, asset: pathUsd, maxAmount }] })

const decode = (value: string) => JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))
const credentialIn = (value: string | string[] | undefined) =>
  typeof value === 'string' && value.startsWith('Payment ') ? decode(value.slice('Payment '.length)) : undefined
const credentialsTo = (path: string) =>
  stack.requests
    .to(path)
    .filter(
      (entry) => credentialIn(entry.headers.authorization) ?? credentialIn(entry.headers['payment-authorization']),
    )

/** A fresh funded payer and a paying fetch with one tempo signer for the local chain. */
async function payerWith(options: Omit<PayingFetchOptions, 'signers'> = {}, maxFee?: bigint) {
  const account = await stack.tempo.newPayer()
  const signer = countingSigner(
    tempo({ account, rpc: stack.tempo.getClient(), networks: [local], ...(maxFee === undefined ? {} : { maxFee }) }),
  )
  return { account, signer, fetchPaid: createPayingFetch({ caps: pathUsdCaps(), ...options, signers: [signer] }) }
}

const balances = async (payer: `0x${string}`) => ({
  payer: await stack.tempo.balanceOf(payer),
  payTo: await stack.tempo.balanceOf(stack.payTo),
  feePayer: await stack.tempo.balanceOf(stack.tempo.feePayer),
})

describe('Payment scheme, tempo charge, against mppx 0.11', () => {
  test('behavior: fee-sponsored /tempo/weather: exactly 10000 moves from payer to payee, the payer pays no fee, the receipt is the mined transaction', async () => {
    // 'always': the unpaid request names what a tempo signer pays.
    const { account, signer, fetchPaid } = await payerWith({ acceptPayment: 'always' })
    const before = await balances(account.address)
    const response = await fetchPaid(`${stack.url}/tempo/weather`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', chain: 'tempo' })
    const after = await balances(account.address)
    expect([after.payer - before.payer, after.payTo - before.payTo]).toEqual([-10_000n, 10_000n])
    // The sponsor paid the fee.
    expect(after.feePayer).toBeLessThan(before.feePayer)

    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({
      protocol: 'payment',
      network: local,
      asset: pathUsd,
      amount: 10_000n,
      payTo: stack.payTo,
      payer: account.address,
    })
    const mined = await stack.tempo.getTransactionReceipt(receipt?.reference as Hash)
    expect(mined.status).toBe('success')
    expect(mined.from.toLowerCase()).toBe(account.address.toLowerCase())
    expect(signer.calls).toHaveLength(1)

    // The credential: the challenge echoed, a transaction signed for a fee payer, the payer's DID.
    const [unpaid, paid] = stack.requests.to('/tempo/weather').slice(-2)
    expect(unpaid?.headers['accept-payment']).toBe('tempo/charge')
    const credential = credentialIn(paid?.headers.authorization)
    expect(credential.source).toBe(`did:pkh:eip155:1337:${account.address}`)
    expect(credential.challenge).toMatchObject({ realm: stack.realm, method: 'tempo', intent: 'charge' })
    expect(credential.payload.type).toBe('transaction')
    expect(credential.payload.signature).toMatch(/^0x78/)
    const signed = credential.payload.signature as Transaction.TransactionSerializedTempo
    expect(Transaction.deserialize(signed).feeToken).toBeUndefined()
  })

  test('behavior: /tempo/unsponsored: the payer pays 10000 plus a gas fee in pathUSD within maxFee, which caps and budgets counted beforehand and the ledger keeps as spent', async () => {
    const maxFee = 5_000n
    const worstCase = 10_000n + maxFee
    const budget = { network: local, asset: pathUsd, amount: worstCase }

    // One unit short of amount + maxFee, in the cap or in the budget: refused before signing.
    const capped = await payerWith({ caps: pathUsdCaps(worstCase - 1n) }, maxFee)
    const overCap = await failure(capped.fetchPaid(`${stack.url}/tempo/unsponsored`))
    expect(overCap).toMatchObject({ code: 'CAP_EXCEEDED', details: { amount: '10000', fee: '5000' } })
    const budgeted = await payerWith(
      { caps: { ...pathUsdCaps(), budgets: [{ ...budget, amount: worstCase - 1n }] } },
      maxFee,
    )
    expect((await failure(budgeted.fetchPaid(`${stack.url}/tempo/unsponsored`))).code).toBe('BUDGET_EXHAUSTED')
    expect([capped.signer.calls, budgeted.signer.calls]).toEqual([[], []])

    const { account, signer, fetchPaid } = await payerWith(
      { caps: { ...pathUsdCaps(worstCase), budgets: [budget] } },
      maxFee,
    )
    const before = await balances(account.address)
    const response = await fetchPaid(`${stack.url}/tempo/unsponsored`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ sponsored: false })
    const after = await balances(account.address)
    expect(after.payTo - before.payTo).toBe(10_000n)
    const fee = before.payer - after.payer - 10_000n
    expect(fee).toBeGreaterThan(0n)
    expect(fee).toBeLessThanOrEqual(maxFee)
    expect(after.feePayer).toBe(before.feePayer)
    expect(signer.calls).toHaveLength(1)

    const mined = await stack.tempo.getTransactionReceipt(getReceipt(response)?.reference as Hash)
    expect(mined.status).toBe('success')
    const paid = credentialIn(stack.requests.to('/tempo/unsponsored').at(-1)?.headers.authorization)
    expect(paid.payload.signature).toMatch(/^0x76/)
    // The ledger counts the worst case it reserved: the actual fee is known only on chain.
    const report = await fetchPaid.spendReport()
    expect(report.totals).toEqual([expect.objectContaining({ network: local, spent: worstCase, reserved: 0n })])
    expect(report.budgets).toEqual([expect.objectContaining({ used: worstCase, limit: worstCase })])
  })

  test("behavior: /tempo/auth: the caller's Authorization: Bearer reaches the server untouched and the credential travels in Payment-Authorization", async () => {
    const { account, fetchPaid } = await payerWith()
    const authorization = `Bearer ${appBearerToken}`
    const before = await balances(account.address)
    const response = await fetchPaid(`${stack.url}/tempo/auth`, { headers: { authorization } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ authorization })
    const [unpaid, paid] = stack.requests.to('/tempo/auth').slice(-2)
    expect(unpaid?.headers.authorization).toBe(authorization)
    expect(paid?.headers.authorization).toBe(authorization)
    expect(credentialIn(paid?.headers['payment-authorization']).challenge.method).toBe('tempo')
    expect((await balances(account.address)).payer - before.payer).toBe(-10_000n)
    expect(getReceipt(response)?.reference).toMatch(/^0x[0-9a-f]{64}$/)
  })

  test('policy: a charge above the cap is CAP_EXCEEDED; nothing signed, no credential sent, nothing moves', async () => {
    const { account, signer, fetchPaid } = await payerWith({ caps: pathUsdCaps(9_999n) })
    const sent = credentialsTo('/tempo/weather').length
    const before = await balances(account.address)
    const error = await failure(fetchPaid(`${stack.url}/tempo/weather`))
    expect(error).toMatchObject({ code: 'CAP_EXCEEDED', details: { protocol: 'payment', amount: '10000' } })
    expect(signer.calls).toHaveLength(0)
    expect(credentialsTo('/tempo/weather')).toHaveLength(sent)
    expect(await balances(account.address)).toEqual(before)
  })

  test('policy: an expired Tempo challenge is never paid: nothing signed, no credential sent', async () => {
    const { signer, fetchPaid } = await payerWith()
    const error = await failure(fetchPaid(`${stack.url}/tempo/expired`))
    expect(error.code).toBe('CHALLENGE_INVALID')
    expect(error.details.problems).toEqual(['tempo: the challenge has expired'])
    expect(signer.calls).toHaveLength(0)
    expect(credentialsTo('/tempo/expired')).toHaveLength(0)
  })

  test('behavior: with an evm and a tempo signer, the evm and tempo offers of one 402 are judged together: the cheaper one is paid, and the other when caps refuse it', async () => {
    const tempoPayer = await stack.tempo.newPayer()
    const evmPayer = await stack.evm.newPayer()
    const signers = () => [
      countingSigner(evm({ account: evmPayer, networks: ['eip155:84532'] })),
      countingSigner(tempo({ account: tempoPayer, rpc: stack.tempo.getClient(), networks: [local] })),
    ]
    const usdc = stack.evm.usdc.address
    // The local pathUSD is valued at $1 here, so both offers compare in USD: 0.02 USDC against 0.01 pathUSD.
    const caps: Caps = {
      assets: [
        { network: 'eip155:84532', asset: usdc },
        { network: local, asset: pathUsd, decimals: 6 },
      ],
      rates: ({ network }) => (network === local ? '1' : undefined),
    }
    const url = `${stack.url}/tempo/choice`

    const both = signers()
    const fetchPaid = createPayingFetch({ signers: both, caps })
    const quote = await fetchPaid.quote(url)
    expect(quote.offers.map(({ offer, refusal }) => [offer.method?.kind, offer.amount, refusal?.code])).toEqual([
      ['tempo-transfer', 10_000n, undefined],
      ['eip3009', 20_000n, undefined],
    ])
    const tempoBefore = await stack.tempo.balanceOf(tempoPayer.address)
    const usdcBefore = await stack.evm.balanceOf(usdc, evmPayer.address)
    const response = await fetchPaid(url)
    expect(response.status).toBe(200)
    expect(getReceipt(response)).toMatchObject({ network: local, asset: pathUsd, amount: 10_000n })
    expect(await stack.tempo.balanceOf(tempoPayer.address)).toBe(tempoBefore - 10_000n)
    expect(await stack.evm.balanceOf(usdc, evmPayer.address)).toBe(usdcBefore)
    expect(both.map((signer) => signer.calls.length)).toEqual([0, 1])

    // Caps that keep payments on Base Sepolia: the tempo offer is refused and the evm one is paid.
    const evmOnly = signers()
    const onBase = createPayingFetch({ signers: evmOnly, caps: { ...caps, networks: ['eip155:84532'] } })
    const judged = await onBase.quote(url)
    expect(judged.offers.map(({ offer, refusal }) => [offer.method?.kind, refusal?.code])).toEqual([
      ['eip3009', undefined],
      ['tempo-transfer', 'NETWORK_NOT_ALLOWED'],
    ])
    const paidOnBase = await onBase(url)
    expect(paidOnBase.status).toBe(200)
    expect(getReceipt(paidOnBase)).toMatchObject({ network: 'eip155:84532', asset: usdc, amount: 20_000n })
    expect(await stack.evm.balanceOf(usdc, evmPayer.address)).toBe(usdcBefore - 20_000n)
    expect(evmOnly.map((signer) => signer.calls.length)).toEqual([1, 0])
  })
})
