import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { createLightningNode } from '../../../examples/local-stack/lightningNode.js'
import { PayfetchError } from '../../../src/errors/PayfetchError.js'
import { amountOf, networkOf } from '../../../src/methods/PaymentMethod.js'
import type { Offer } from '../../../src/offer/Offer.js'
import { decodePayment } from '../../../src/protocols/payment/decodePayment.js'
import { payment } from '../../../src/protocols/payment/index.js'

const node = createLightningNode()
const { invoice } = node.createInvoice({ amountMsat: 100_000n })
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const address = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'

// Real requests of every method, then mutated: cut, a character changed, or junk.
const requests = [
  {
    amount: '10000',
    currency: address,
    recipient: address,
    methodDetails: { chainId: 84532, credentialTypes: ['authorization'] },
  },
  {
    amount: '10000',
    currency: address,
    recipient: address,
    methodDetails: { chainId: 1337, feePayer: true, splits: [{ recipient: address, amount: '1' }] },
  },
  { amount: '100', currency: 'sat', methodDetails: { invoice, network: 'regtest' } },
  {
    amount: '10000',
    currency: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
    recipient: 'Gh9ZwEmdLJ8DscKNTkTqPbNwLNNBjuSzaG9Vp2KGtKJr',
    methodDetails: { network: 'devnet', feePayer: true, feePayerKey: 'Gh9ZwEmdLJ8DscKNTkTqPbNwLNNBjuSzaG9Vp2KGtKJr' },
  },
].map(b64url)
const junk = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 40,
})
const mutate = (value: string) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constant(value) },
    fc.nat({ max: value.length }).map((cut) => value.slice(0, cut)),
    fc
      .tuple(fc.nat({ max: Math.max(0, value.length - 1) }), fc.constantFrom('A', '_', '-', '"', ',', ' ', '='))
      .map(([index, char]) => `${value.slice(0, index)}${char}${value.slice(index + 1)}`),
    junk,
  )
const line = fc
  .record({
    method: fc.constantFrom('evm', 'tempo', 'lightning', 'solana', 'stripe', 'EVM').chain(mutate),
    intent: fc.constantFrom('charge', 'session').chain(mutate),
    request: fc.constantFrom(...requests).chain(mutate),
    expires: fc.option(
      fc.constantFrom('2099-01-01T00:00:00Z', '2000-01-01T00:00:00Z', '4102444800', 'soon').chain(mutate),
      { nil: undefined },
    ),
    header: fc.option(fc.constantFrom('Payment-Authorization', 'cookie', 'authorization').chain(mutate), {
      nil: undefined,
    }),
    id: fc.constantFrom('abc', '').chain(mutate),
  })
  .map(({ id, method, intent, request, expires, header }) =>
    [
      `Payment id="${id}", realm="r", method="${method}", intent="${intent}", request="${request}"`,
      expires === undefined ? '' : `, expires="${expires}"`,
      header === undefined ? '' : `, header="${header}"`,
    ].join(''),
  )

/** Offers whose method agrees with them, or CHALLENGE_INVALID; anything else fails the property. */
function decodesOrRefuses(lines: string[]): void {
  let offers: Offer[]
  try {
    offers = decodePayment({
      url: 'https://api.example.com/r',
      headers: new Headers(lines.map((value): [string, string] => ['www-authenticate', value])),
      body: undefined,
    })
  } catch (error) {
    if (!(error instanceof PayfetchError) || error.code !== 'CHALLENGE_INVALID') throw error
    return
  }
  for (const offer of offers) {
    expect(offer.protocol).toBe('payment')
    expect(offer.amount > 0n).toBe(true)
    if (offer.method) {
      expect(amountOf(offer.method)).toBe(offer.amount)
      expect(networkOf(offer.method)).toBe(offer.network)
    }
    const proof = { kind: 'bolt11', preimage: '00'.repeat(32) } as const
    const headers = payment.proofHeaders(offer, proof, { idempotencyKey: 'k' })
    expect(Object.values(headers).every((value) => /^Payment [A-Za-z0-9_-]+$/.test(value))).toBe(true)
  }
}

describe('decodePayment: fuzzed', () => {
  test('policy: mutated Payment challenges decode into coherent offers or CHALLENGE_INVALID, never anything else', () => {
    fc.assert(fc.property(fc.array(line, { minLength: 1, maxLength: 3 }), decodesOrRefuses), { numRuns: 400 })
  })

  test('policy: arbitrary header text never escapes as anything but CHALLENGE_INVALID', () => {
    fc.assert(
      fc.property(
        fc
          .array(fc.string({ maxLength: 200 }), { maxLength: 3 })
          .map((values) => values.map((value) => `Payment ${value.replace(/[\r\n]/g, ' ')}`)),
        decodesOrRefuses,
      ),
      { numRuns: 400 },
    )
  })
})
