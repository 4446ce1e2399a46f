import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { PayfetchError } from '../../../src/errors/PayfetchError.js'
import type { Offer } from '../../../src/offer/Offer.js'
import type { Response402 } from '../../../src/protocols/Protocol.js'
import { decodeX402 } from '../../../src/protocols/x402/decode.js'
import { x402 } from '../../../src/protocols/x402/index.js'
import { readSettlement } from '../../../src/protocols/x402/settlement.js'
import { decodeBase64Json, encodeBase64Json } from '../../../src/utils/base64.js'

const numRuns = 2000
const caip2 = /^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}$/

// A header value the fetch `Headers` class accepts: Latin-1, without NUL, CR or LF.
const headerChar = fc
  .integer({ min: 0x01, max: 0xff })
  .filter((code) => code !== 0x0a && code !== 0x0d)
  .map((code) => String.fromCharCode(code))
const headerString = fc.string({ unit: headerChar, maxLength: 200 })
// Strings that pass the base64 alphabet check, so the decoder gets past it.
const base64ish = fc.stringMatching(/^[A-Za-z0-9+/]{0,64}={0,2}$/)
const anyString = fc.string({ unit: 'binary', maxLength: 200 })
const json = fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' })

/** `decodeX402` either returns sane offers or throws CHALLENGE_INVALID; anything else fails the property. */
const proof = {
  kind: 'eip3009',
  signature: '0x00',
  authorization: { from: '0x00', to: '0x00', value: '1', validAfter: '0', validBefore: '1', nonce: '0x00' },
  payer: '0x00',
} as const

function decodesOrRefuses(challenge: Response402): void {
  let offers: Offer[]
  try {
    offers = decodeX402(challenge)
  } catch (error) {
    if (!(error instanceof PayfetchError) || error.code !== 'CHALLENGE_INVALID') throw error
    return
  }
  for (const offer of offers) {
    expect(offer.protocol).toBe('x402')
    expect(typeof offer.amount).toBe('bigint')
    expect(offer.amount > 0n).toBe(true)
    expect(offer.network).toMatch(caip2)
    expect([1, 2]).toContain(offer.version)
  }
  // Whatever decoded must also yield a proof header without throwing.
  for (const offer of offers)
    expect(
      Object.keys(x402.proofHeaders(offer, proof, { idempotencyKey: 'payfetch-fuzz-0123456789abcdef' })),
    ).toHaveLength(1)
}

const withHeader = (header: string, body?: string): Response402 => ({
  url: 'https://api.example.com/r',
  headers: new Headers({ 'payment-required': header }),
  body,
})
const withBody = (body: string | undefined): Response402 => ({
  url: 'https://api.example.com/r',
  headers: new Headers(),
  body,
})

// Structurally plausible x402 entries whose every field may be valid, subtly wrong, or junk. Each
// field is valid most of the time, so that a good share of messages still decodes into offers.
const mutated = <T>(valid: fc.Arbitrary<T>, ...wrong: fc.Arbitrary<unknown>[]) =>
  fc.oneof(
    { weight: 12 * wrong.length, arbitrary: valid as fc.Arbitrary<unknown> },
    ...wrong.map((arbitrary) => ({ weight: 1, arbitrary })),
  )
const absent = fc.constant(undefined)
const amount = mutated(
  fc.bigInt({ min: 1n, max: 2n ** 260n }).map(String),
  fc.constantFrom('0', '-1', '1.5', '0x10', '1e6', ' 1', '', '00', '9'.repeat(79)),
  fc.integer(),
  anyString,
  absent,
)
const network = mutated(
  fc.constantFrom(
    'eip155:8453',
    'eip155:84532',
    'base',
    'base-sepolia',
    'solana',
    'solana-devnet',
    'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
  ),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'eip155:',
    ':8453',
    'EIP155:1',
    'eip155:1:2',
    'base-mainnet',
  ),
  fc.stringMatching(/^[-a-z0-9]{1,10}:[-_a-zA-Z0-9]{0,40}$/),
  anyString,
  fc.integer(),
  absent,
)
const address = mutated(
  fc.constantFrom(
    '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
    '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
    '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
  ),
  anyString,
  json,
  absent,
)
const entry = fc
  .record(
    {
      scheme: mutated(fc.constantFrom('exact', 'upto'), anyString, json),
      network,
      amount,
      maxAmountRequired: amount,
      asset: address,
      payTo: address,
      resource: mutated(fc.webUrl(), anyString, json),
      description: mutated(anyString, json),
      maxTimeoutSeconds: mutated(
        fc.integer({ min: 1, max: 100_000 }),
        fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1, '60', null),
      ),
      extra: mutated(fc.record({ name: fc.constantFrom('USDC', 'USD Coin'), version: fc.constant('2') }), json),
    },
    { requiredKeys: ['scheme', 'network', 'amount', 'asset', 'payTo'] },
  )
  .chain((fields) =>
    // v1 reads maxAmountRequired and v2 amount; often make both carry the same value.
    fc
      .constantFrom('as is', 'same amounts')
      .map((how) => (how === 'as is' ? fields : { ...fields, maxAmountRequired: fields.amount })),
  )
const message = fc.record(
  {
    x402Version: mutated(fc.constantFrom(1, 2), fc.constantFrom(0, 3, '2', 1.5, null)),
    accepts: mutated(
      fc.array(mutated(entry, json), { minLength: 1, maxLength: 4 }),
      fc.constant([]),
      fc.array(entry, { minLength: 33, maxLength: 34 }),
      json,
    ),
    error: mutated(anyString, json),
    resource: mutated(fc.record({ url: fc.webUrl() }), json),
    extensions: json,
  },
  { requiredKeys: ['x402Version', 'accepts'] },
)

describe('decodeX402 (fuzz)', () => {
  test('behavior: arbitrary header strings decode or refuse with CHALLENGE_INVALID', () => {
    fc.assert(
      fc.property(fc.oneof(headerString, base64ish), (header) => decodesOrRefuses(withHeader(header))),
      { numRuns },
    )
  })

  test('behavior: base64 of arbitrary JSON in the header decodes or refuses with CHALLENGE_INVALID', () => {
    fc.assert(
      fc.property(json, (value) => decodesOrRefuses(withHeader(encodeBase64Json(value)))),
      { numRuns },
    )
  })

  test('behavior: arbitrary bodies decode or refuse with CHALLENGE_INVALID', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          json.map((value) => JSON.stringify(value)),
          anyString,
          absent,
        ),
        (body) => decodesOrRefuses(withBody(body)),
      ),
      { numRuns },
    )
  })

  test('behavior: plausible x402 messages with mutated fields decode or refuse, in the header, the body or both', () => {
    fc.assert(
      fc.property(message, message, fc.constantFrom('header', 'body', 'both', 'same'), (first, second, where) => {
        const header = encodeBase64Json(first)
        if (where === 'header') return decodesOrRefuses(withHeader(header))
        if (where === 'body') return decodesOrRefuses(withBody(JSON.stringify(first)))
        return decodesOrRefuses(withHeader(header, JSON.stringify(where === 'same' ? first : second)))
      }),
      { numRuns },
    )
  })

  test('behavior: a well-formed v2 entry always yields its exact amount', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 78n - 1n }), (value) => {
        const accepted = {
          scheme: 'exact',
          network: 'eip155:8453',
          amount: value.toString(),
          asset: '0xA',
          payTo: '0xB',
        }
        const offers = decodeX402(withHeader(encodeBase64Json({ x402Version: 2, accepts: [accepted] })))
        expect(offers.map((offer) => offer.amount)).toEqual([value])
      }),
      { numRuns },
    )
  })
})

describe('readSettlement (fuzz)', () => {
  const settlement = fc.record(
    {
      success: mutated(fc.boolean(), fc.constantFrom('true', 1, null)),
      transaction: mutated(fc.stringMatching(/^0x[0-9a-f]{64}$/), anyString, json),
      network,
      payer: address,
      amount,
      errorReason: mutated(anyString, json),
      errorMessage: mutated(anyString, json),
    },
    { requiredKeys: [] },
  )

  test('behavior: never throws; what it reads is well-typed', () => {
    fc.assert(
      fc.property(
        fc.oneof(headerString, base64ish, json.map(encodeBase64Json), settlement.map(encodeBase64Json)),
        fc.constantFrom('payment-response', 'x-payment-response'),
        (header, name) => {
          const read = readSettlement(new Headers({ [name]: header }))
          if (read === undefined) return
          expect(typeof read.success).toBe('boolean')
          // `upto` may settle nothing: 0 is a real amount.
          if (read.amount !== undefined) expect(read.amount >= 0n).toBe(true)
          if (read.network !== undefined) expect(read.network).toMatch(caip2)
          for (const text of [read.transaction, read.payer, read.errorReason])
            if (text !== undefined) expect(typeof text).toBe('string')
        },
      ),
      { numRuns },
    )
  })
})

function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0
  if (Array.isArray(value)) return value.map(withoutNegativeZero)
  if (typeof value === 'object' && value !== null)
    for (const [key, field] of Object.entries(value))
      Object.defineProperty(value, key, {
        value: withoutNegativeZero(field),
        enumerable: true,
        writable: true,
        configurable: true,
      })
  return value
}

describe('decodeBase64Json (fuzz)', () => {
  test('behavior: never throws on any string', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, base64ish, fc.string({ unit: 'grapheme', maxLength: 100 })), (text) => {
        decodeBase64Json(text)
      }),
      { numRuns },
    )
  })

  test('behavior: encodeBase64Json → decodeBase64Json is the identity on JSON values, non-ASCII strings included', () => {
    // JSON itself turns -0 into 0; everything else must survive exactly.
    const value = fc.jsonValue({ stringUnit: 'binary' }).map(withoutNegativeZero)
    fc.assert(
      fc.property(fc.oneof(value, fc.string({ unit: 'grapheme' }), fc.constant('€ 日本 🎉 é')), (input) => {
        const encoded = encodeBase64Json(input)
        expect(encoded).toMatch(/^[A-Za-z0-9+/]*={0,2}$/)
        expect(decodeBase64Json(encoded)).toStrictEqual(input)
      }),
      { numRuns },
    )
  })
})
