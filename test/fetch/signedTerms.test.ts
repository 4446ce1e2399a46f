import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeBase64Json, encodeBase64Json } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import {
  createPayingFetch,
  getReceipt,
  PayfetchError,
  type PayfetchEvent,
  type SignedReceiptInput,
  type SignedTerms,
} from '../../src/index.js'
import { countingSigner } from '../support/countingSigner.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// The root's seam for signed terms (`createPayingFetch({ signedTerms })`), with hand-made checks:
// what it does with a refusal, a failing check and server text that quotes the proof.
let merchant: Merchant

beforeAll(async () => {
  merchant = await startMerchant({
    '/item': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('item')),
    // Paid without a facilitator; its settlement report quotes the proof's signature in its extensions.
    '/quoting': async (request, response, self) => {
      const header = request.headers['payment-signature']
      if (!header) return self.charge(request, response, [requirement()], () => {})
      const { signature } = (decodeBase64Json(String(header)) as { payload: { signature: string } }).payload
      response.writeHead(200, {
        'payment-response': encodeBase64Json({
          success: true,
          transaction: `0x${'ab'.repeat(32)}`,
          network: 'eip155:84532',
          extensions: { 'offer-receipt': { info: { receipt: { format: 'jws', signature } } } },
        }),
      })
      response.end('quoted')
    },
  })
})

afterAll(() => merchant?.close())

function payingFetch(signedTerms: SignedTerms) {
  const signer = countingSigner(evm({ account: privateKeyToAccount(generatePrivateKey()) }))
  const events: PayfetchEvent[] = []
  const fetchPaid = createPayingFetch({ signers: [signer], signedTerms, onEvent: (event) => void events.push(event) })
  return { signer, events, fetchPaid }
}

const rejection = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (error: unknown) => (error instanceof PayfetchError ? error : undefined),
  )

describe('createPayingFetch({ signedTerms })', () => {
  test('policy: an offer the check refuses is never paid: OFFER_UNVERIFIED, nothing signed or reserved', async () => {
    const { signer, events, fetchPaid } = payingFetch({
      checkOffer: async () => ({ verified: false, refuse: true, reason: 'the signed payTo differs' }),
      checkReceipt: async () => undefined,
    })
    const error = await rejection(fetchPaid(`${merchant.url}/item`))
    expect(error).toMatchObject({
      code: 'OFFER_UNVERIFIED',
      shortMessage: 'Signed offer not verified: the signed payTo differs.',
    })
    expect(signer.calls).toEqual([])
    expect((await fetchPaid.spendReport()).totals).toEqual([])
    expect(events.map((event) => event.type)).toEqual(['challenge', 'refusal'])
  })

  test('error: a check that throws denies the offer, as every hook does', async () => {
    const { signer, fetchPaid } = payingFetch({
      checkOffer: async () => {
        throw new Error('boom')
      },
      checkReceipt: async () => undefined,
    })
    expect(await rejection(fetchPaid(`${merchant.url}/item`))).toMatchObject({
      code: 'OFFER_UNVERIFIED',
      shortMessage: 'Signed offer not verified: the signature check failed.',
    })
    expect(signer.calls).toEqual([])
  })

  test('behavior: an offer check that does not refuse rides on offer.chosen and into the receipt', async () => {
    const seen: SignedReceiptInput[] = []
    const { events, fetchPaid } = payingFetch({
      checkOffer: async () => ({ verified: false, reason: 'expired' }),
      async checkReceipt(input) {
        seen.push(input)
        return { offer: input.offerCheck?.verified, problems: [input.offerCheck?.reason ?? ''] }
      },
    })
    const response = await fetchPaid(`${merchant.url}/item`)
    expect(await response.text()).toBe('item')
    expect(events.find((event) => event.type === 'offer.chosen')).toMatchObject({
      signed: { verified: false, reason: 'expired' },
    })
    expect(getReceipt(response)?.verified).toEqual({ offer: false, problems: ['expired'] })
    expect(seen[0]?.offerCheck).toEqual({ verified: false, reason: 'expired' })
  })

  test('error: a receipt check that throws flags the receipt; the paid answer is returned', async () => {
    const { fetchPaid } = payingFetch({
      checkOffer: async () => undefined,
      checkReceipt: async () => {
        throw new Error('boom')
      },
    })
    const response = await fetchPaid(`${merchant.url}/item`)
    expect([response.status, await response.text()]).toEqual([200, 'item'])
    expect(getReceipt(response)?.verified).toEqual({ receipt: false, problems: ['the signature check failed'] })
  })

  test("error: the receipt's verification never carries this call's proof pieces, even when the server quotes them", async () => {
    const { fetchPaid } = payingFetch({
      checkOffer: async () => undefined,
      // A check that repeats what the server sent, as a careless reason might.
      checkReceipt: async ({ extensions }) => ({ receipt: false, problems: [JSON.stringify(extensions)] }),
    })
    const response = await fetchPaid(`${merchant.url}/quoting`)
    expect(await response.text()).toBe('quoted')
    const problems = getReceipt(response)?.verified?.problems ?? []
    expect(problems[0]).toContain('[proof]')
    expect(problems[0]).not.toMatch(/0x[0-9a-f]{130}/i)
  })
})
