import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import { bitcoinRegtest, type Caps, createPayingFetch, isPayfetchError, type PayfetchError } from '../../src/index.js'
import { type LightningWallet, lightning } from '../../src/lightning/index.js'

// A hostile or broken L402 server must not make payfetch overpay or pay twice: each case is a
// typed error, and the wallet is called at most once (never when the check comes first).
let stack: LightningStack

beforeAll(async () => {
  stack = await startLightningStack()
})

afterAll(async () => {
  await stack?.stop()
})

function countingWallet(answer?: (invoice: string) => Promise<{ preimage: string }>) {
  const calls: string[] = []
  const wallet: LightningWallet = {
    name: 'counting',
    async payInvoice(invoice) {
      calls.push(invoice)
      return answer ? answer(invoice) : stack.node.pay(invoice)
    },
  }
  return { wallet, calls }
}

async function refusal(url: string, wallet: LightningWallet, caps?: Caps): Promise<PayfetchError> {
  const fetchPaid = createPayingFetch({ signers: [lightning({ wallet, networks: ['regtest'] })], caps })
  const error = await fetchPaid(url).then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (isPayfetchError(error)) return error
  throw new Error(`expected a PayfetchError, got ${String(error)}`)
}

describe('L402 bad input', () => {
  test('policy: an invoice above the per-request cap (100 sats by default) is CAP_EXCEEDED; the wallet is never called', async () => {
    const server = await stack.l402Server({ priceMsat: 150_000n })
    const { wallet, calls } = countingWallet()
    const byDefault = await refusal(`${server.url}/x`, wallet)
    expect(byDefault).toMatchObject({ code: 'CAP_EXCEEDED', details: { amount: '150000', network: bitcoinRegtest } })
    const lowered = await refusal(`${server.url}/x`, wallet, { perRequest: { sats: 20 } })
    expect(lowered.code).toBe('CAP_EXCEEDED')
    const perAsset = await refusal(`${server.url}/x`, wallet, {
      assets: [{ network: bitcoinRegtest, asset: 'BTC', maxAmount: 100_000n }],
    })
    expect(perAsset.code).toBe('CAP_EXCEEDED')
    expect(calls).toEqual([])
  })

  test('policy: an invoice whose payment hash is not the macaroon identifier’s is CHALLENGE_INVALID; nothing is paid', async () => {
    const server = await stack.l402Server({ mismatchHash: true })
    const { wallet, calls } = countingWallet()
    const error = await refusal(`${server.url}/x`, wallet)
    expect(error).toMatchObject({
      code: 'CHALLENGE_INVALID',
      details: { problems: ['l402: the invoice pays a different hash than the token commits to'] },
    })
    expect(calls).toEqual([])
  })

  test('policy: an amountless invoice is CHALLENGE_INVALID; nothing is paid', async () => {
    const server = await stack.l402Server({ invoice: { amountMsat: null } })
    const { wallet, calls } = countingWallet()
    expect(await refusal(`${server.url}/x`, wallet)).toMatchObject({
      code: 'CHALLENGE_INVALID',
      details: { problems: ['l402: amountless invoice'] },
    })
    expect(calls).toEqual([])
  })

  test('policy: an expired invoice is CHALLENGE_INVALID; nothing is paid', async () => {
    const server = await stack.l402Server({
      invoice: { timestamp: Math.floor(Date.now() / 1000) - 3600, expirySeconds: 600 },
    })
    const { wallet, calls } = countingWallet()
    expect(await refusal(`${server.url}/x`, wallet)).toMatchObject({
      code: 'CHALLENGE_INVALID',
      details: { problems: ['l402: invoice expired'] },
    })
    expect(calls).toEqual([])
  })

  test('policy: a mainnet invoice offered to a regtest-only signer is NO_SIGNER; nothing is paid', async () => {
    const server = await stack.l402Server({ invoice: { network: 'mainnet' } })
    const { wallet, calls } = countingWallet()
    expect(await refusal(`${server.url}/x`, wallet)).toMatchObject({
      code: 'NO_SIGNER',
      details: { network: 'bip122:000000000019d6689c085ae165831e93' },
    })
    expect(calls).toEqual([])
  })

  test('error: a wallet returning a garbage preimage is PAYMENT_OUTCOME_UNKNOWN with the payment hash; one wallet call, no proof sent', async () => {
    const server = await stack.l402Server()
    const { wallet, calls } = countingWallet(async (invoice) => {
      stack.node.pay(invoice)
      return { preimage: 'not-a-preimage' }
    })
    const error = await refusal(`${server.url}/x`, wallet)
    expect(error).toMatchObject({
      code: 'PAYMENT_OUTCOME_UNKNOWN',
      details: { wallet: 'counting', paymentHash: stack.node.settled.at(-1)?.paymentHash },
    })
    expect(calls).toHaveLength(1)
    expect(server.authorizations).toEqual([])
  })

  test('error: a server that answers 402 again after a valid payment is PAYMENT_REJECTED with its reason; exactly one payment', async () => {
    const server = await stack.l402Server({ rejectAll: true })
    const { wallet, calls } = countingWallet()
    const settled = stack.node.settled.length
    const error = await refusal(`${server.url}/x`, wallet)
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED', details: { reason: 'payment required' } })
    expect(calls).toHaveLength(1)
    expect(stack.node.settled.length).toBe(settled + 1)
    expect(server.authorizations).toHaveLength(1)
    expect(server.stats.challenges).toBe(2)
  })
})
