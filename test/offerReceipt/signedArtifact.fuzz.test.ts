import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { Offer } from '../../src/offer/Offer.js'
import { offerReceipt, readSignedOffers, readSignedReceipt } from '../../src/offerReceipt/index.js'
import type { Receipt } from '../../src/receipts/Receipt.js'

const numRuns = 1000
const json = fc.jsonValue({ maxDepth: 5, stringUnit: 'binary' })
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url')
// JWS-shaped strings whose header and payload are arbitrary JSON, so the decoder gets past the pattern.
const jws = fc
  .tuple(json, json, fc.stringMatching(/^[A-Za-z0-9_-]{1,100}$/))
  .map(([header, payload, signature]) => `${b64url(header)}.${b64url(payload)}.${signature}`)
const artifact = fc.record(
  {
    format: fc.oneof(fc.constantFrom('jws', 'eip712'), json),
    signature: fc.oneof(jws, fc.stringMatching(/^0x[0-9a-f]{130}$/), json),
    payload: json,
    acceptIndex: json,
  },
  { requiredKeys: [] },
)
const extensions = fc.oneof(
  json,
  fc.record({ 'offer-receipt': fc.record({ info: fc.record({ offers: fc.array(artifact), receipt: artifact }) }) }),
)

const offer: Offer = {
  protocol: 'x402',
  scheme: 'exact',
  network: 'eip155:8453',
  asset: { id: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' },
  amount: 10_000n,
  payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
  resource: 'https://api.example.com/report',
  raw: {},
}
const receipt: Receipt = {
  protocol: 'x402',
  network: 'eip155:8453',
  asset: offer.asset.id,
  amount: 10_000n,
  payTo: offer.payTo,
  payer: '0x857b06519E91e3A54538791bDbb0E22373e36b66',
  url: offer.resource,
  time: 0,
}

describe('offer-receipt decoder (fuzz)', () => {
  test('error: readSignedOffers and readSignedReceipt never throw, on any JSON', () => {
    fc.assert(
      fc.property(extensions, (value) => {
        const offers = readSignedOffers(value)
        if (offers) expect(offers.offers.length + offers.problems.length).toBeLessThanOrEqual(32)
        const read = readSignedReceipt(value)
        expect(read === undefined || typeof read === 'string' || typeof read.signature === 'string').toBe(true)
      }),
      { numRuns },
    )
  })

  test('error: a format that cannot be made text (`{"toString": false}`, found by this fuzz) is a reason, not a throw', () => {
    const value = { 'offer-receipt': { info: { offers: [{ format: { toString: false } }], receipt: { format: [] } } } }
    expect(readSignedOffers(value)?.problems).toEqual(['offers[0]: no format'])
    expect(readSignedReceipt(value)).toBe('the signed receipt is malformed: no format')
  })

  test('error: checkOffer and checkReceipt resolve (never reject) and never verify a random artifact', async () => {
    const terms = offerReceipt({ offers: 'require', trust: ['did:jwk:x'] })
    await fc.assert(
      fc.asyncProperty(extensions, async (value) => {
        const checked = await terms.checkOffer({
          offer,
          url: offer.resource,
          extensions: value,
          accepts: [offer.raw],
          fetch: globalThis.fetch,
        })
        expect(checked).toMatchObject({ verified: false, refuse: true })
        const verified = await terms.checkReceipt({
          resource: offer.resource,
          receipt,
          extensions: value,
          fetch: globalThis.fetch,
        })
        expect(verified?.receipt).not.toBe(true)
      }),
      { numRuns },
    )
  })
})
