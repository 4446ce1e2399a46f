import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { createLightningNode } from '../../../examples/local-stack/lightningNode.js'
import { PayfetchError } from '../../../src/errors/PayfetchError.js'
import type { Offer } from '../../../src/offer/Offer.js'
import { decodeL402 } from '../../../src/protocols/l402/decode.js'
import { l402 } from '../../../src/protocols/l402/index.js'
import { lightningNetworks } from '../../../src/protocols/l402/networks.js'
import { challengeOf, mintToken } from './support.js'

const node = createLightningNode()
const invoices = [
  node.createInvoice(),
  node.createInvoice({ network: 'mainnet', amountMsat: 1n }),
  node.createInvoice({ amountMsat: null }),
  node.createInvoice({ timestamp: 1_600_000_000 }),
]
const tokens = invoices.map(({ paymentHash }) => mintToken(paymentHash))
const networks = Object.values(lightningNetworks) as string[]

const headerChar = fc
  .integer({ min: 0x01, max: 0xff })
  .filter((code) => code !== 0x0a && code !== 0x0d)
  .map((code) => String.fromCharCode(code))
const junk = fc.string({ unit: headerChar, maxLength: 60 })
// Values that are often real (a valid invoice or token), sometimes cut, mutated, or junk.
const mutate = (value: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(value) },
    fc.nat({ max: value.length }).map((cut) => value.slice(0, cut)),
    fc
      .tuple(fc.nat({ max: value.length - 1 }), fc.constantFrom('q', 'p', 'A', '=', '"', ',', ' '))
      .map(([index, char]) => `${value.slice(0, index)}${char}${value.slice(index + 1)}`),
    junk,
  )
const invoice = fc.constantFrom(...invoices.map((one) => one.invoice)).chain(mutate)
const token = fc.constantFrom(...tokens, 'eyJwYXltZW50SGFzaCI6IjEyIn0.ab').chain(mutate)
const line = fc
  .record({
    scheme: fc.constantFrom('L402', 'LSAT', 'l402', 'Payment', 'Basic', 'x'),
    tokenName: fc.constantFrom('token', 'macaroon', 'Token'),
    token,
    invoice,
    version: fc.option(fc.constantFrom('0', '1', 'x'), { nil: undefined }),
    comma: fc.boolean(),
    quoted: fc.boolean(),
  })
  .map(({ scheme, tokenName, token, invoice, version, comma, quoted }) => {
    const q = (value: string) => (quoted ? `"${value.replace(/["\\]/g, '\\$&')}"` : value)
    return `${scheme} ${version === undefined ? '' : `version=${q(version)}${comma ? ',' : ''} `}${tokenName}=${q(token)}, invoice=${q(invoice)}`
  })

/** Offers that make sense, or CHALLENGE_INVALID; anything else fails the property. */
function decodesOrRefuses(lines: string[]): void {
  let offers: Offer[]
  try {
    offers = decodeL402(challengeOf(...lines))
  } catch (error) {
    if (!(error instanceof PayfetchError) || error.code !== 'CHALLENGE_INVALID') throw error
    return
  }
  for (const offer of offers) {
    expect(offer.protocol).toBe('l402')
    expect(networks).toContain(offer.network)
    expect(offer.amount > 0n).toBe(true)
    expect(offer.method).toMatchObject({
      kind: 'bolt11',
      amountMsat: offer.amount,
      paymentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    })
    expect((offer.expiresAt ?? 0) > Date.now()).toBe(true)
    // The credential is one header value without CR, LF, quote, comma or space in the token.
    const { authorization } = l402.proofHeaders(
      offer,
      { kind: 'bolt11', preimage: '00'.repeat(32) },
      { idempotencyKey: 'k' },
    )
    expect(authorization).toMatch(/^L402 [-A-Za-z0-9._~+/]+=*:0{64}$/)
  }
}

describe('decodeL402 (fuzz)', () => {
  test('policy: mutated L402/LSAT challenges decode into sane offers or CHALLENGE_INVALID, never anything else', () => {
    fc.assert(fc.property(fc.array(fc.oneof(line, junk), { minLength: 1, maxLength: 4 }), decodesOrRefuses), {
      numRuns: 1500,
    })
  })

  test('policy: arbitrary header text decodes or refuses', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({
            unit: fc.oneof(headerChar, fc.constantFrom('L402 ', 'token=', 'invoice=', '"', ',')),
            maxLength: 200,
          }),
          { maxLength: 3 },
        ),
        decodesOrRefuses,
      ),
      { numRuns: 1500 },
    )
  })
})
