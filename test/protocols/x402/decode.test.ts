import { describe, expect, test } from 'vitest'
import { PayfetchError } from '../../../src/errors/PayfetchError.js'
import type { Eip3009Proof } from '../../../src/methods/Eip3009.js'
import type { Response402 } from '../../../src/protocols/Protocol.js'
import { decodeX402, readPaymentRequired } from '../../../src/protocols/x402/decode.js'
import { x402 } from '../../../src/protocols/x402/index.js'
import { solanaDevnet } from '../../../src/protocols/x402/networks.js'
import { readSettlement } from '../../../src/protocols/x402/settlement.js'
import { decodeBase64Json, encodeBase64Json } from '../../../src/utils/base64.js'

// Golden vectors: the examples of the x402 specifications (v1 §5.1, v2 §5.1, transports), rebuilt
// as literal JSON.
const baseSepoliaUsdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const merchant = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
const url = 'https://api.example.com/premium-data'

function v2Requirement(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    scheme: 'exact',
    network: 'eip155:84532',
    amount: '10000',
    asset: baseSepoliaUsdc,
    payTo: merchant,
    maxTimeoutSeconds: 60,
    extra: { name: 'USDC', version: '2' },
    ...overrides,
  }
}

function v2Message(
  accepts: unknown[] = [v2Requirement()],
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    x402Version: 2,
    error: 'PAYMENT-SIGNATURE header is required',
    resource: { url, description: 'Access to premium market data', mimeType: 'application/json' },
    accepts,
    extensions: {},
    ...overrides,
  }
}

function v1Requirement(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    scheme: 'exact',
    network: 'base-sepolia',
    maxAmountRequired: '10000',
    asset: baseSepoliaUsdc,
    payTo: merchant,
    resource: url,
    description: 'Access to premium market data',
    mimeType: 'application/json',
    outputSchema: null,
    maxTimeoutSeconds: 60,
    extra: { name: 'USDC', version: '2' },
    ...overrides,
  }
}

function v1Message(accepts: unknown[] = [v1Requirement()]): Record<string, unknown> {
  return { x402Version: 1, error: 'X-PAYMENT header is required', accepts }
}

/** A 402 as the adapters see it. `header` is the raw PAYMENT-REQUIRED value. */
function challenge(
  parts: { header?: string; body?: string | undefined; url?: string; headers?: Record<string, string> } = {},
): Response402 {
  const headers = new Headers(parts.headers)
  if (parts.header !== undefined) headers.set('PAYMENT-REQUIRED', parts.header)
  return { url: parts.url ?? 'https://api.example.com/fallback', headers, body: 'body' in parts ? parts.body : '{}' }
}

const headerChallenge = (message: unknown) => challenge({ header: encodeBase64Json(message) })
const bodyChallenge = (message: unknown) => challenge({ body: JSON.stringify(message) })

/** The PayfetchError `decodeX402` throws, as `{ code, message, details }`; fails when it returns or throws anything else. */
function rejection(input: Response402): Pick<PayfetchError, 'code' | 'message' | 'details'> {
  let offers: unknown
  try {
    offers = decodeX402(input)
  } catch (error) {
    if (!(error instanceof PayfetchError)) throw error
    expect(error.code).toBe('CHALLENGE_INVALID')
    return { code: error.code, message: error.message, details: error.details }
  }
  throw new Error(`expected CHALLENGE_INVALID, decoded ${Array.isArray(offers) ? offers.length : 0} offer(s)`)
}

/** The problem reported for the single entry of a challenge that has no usable entry. */
const problemsOf = (input: Response402) => rejection(input).details.problems

describe('decodeX402', () => {
  test('behavior: decodes the v2 PAYMENT-REQUIRED header into offers with bigint amounts', () => {
    const offers = decodeX402(challenge({ header: encodeBase64Json(v2Message()) }))
    expect(offers).toMatchInlineSnapshot(`
      [
        {
          "amount": 10000n,
          "asset": {
            "decimals": 6,
            "id": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "symbol": "USDC",
          },
          "description": undefined,
          "method": {
            "chainId": 84532,
            "domain": {
              "name": "USDC",
              "version": "2",
            },
            "kind": "eip3009",
            "nonce": "random",
            "to": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            "token": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "validAfterSeconds": undefined,
            "validBefore": {
              "afterSeconds": 60,
            },
            "value": 10000n,
          },
          "network": "eip155:84532",
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "raw": {
            "amount": "10000",
            "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "extra": {
              "name": "USDC",
              "version": "2",
            },
            "maxTimeoutSeconds": 60,
            "network": "eip155:84532",
            "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            "scheme": "exact",
          },
          "resource": "https://api.example.com/premium-data",
          "scheme": "exact",
          "version": 2,
        },
      ]
    `)
  })

  test('behavior: decodes every v2 entry in the server order', () => {
    const base = v2Requirement({
      network: 'eip155:8453',
      asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
      amount: '5000',
      extra: { name: 'USD Coin', version: '2' },
    })
    const offers = decodeX402(headerChallenge(v2Message([v2Requirement(), base])))
    expect(offers.map((offer) => [offer.network, offer.amount, offer.method])).toEqual([
      ['eip155:84532', 10000n, expect.objectContaining({ chainId: 84532, domain: { name: 'USDC', version: '2' } })],
      ['eip155:8453', 5000n, expect.objectContaining({ chainId: 8453, domain: { name: 'USD Coin', version: '2' } })],
    ])
  })

  test('behavior: reads a v2 message from the body when the header is absent', () => {
    const offers = decodeX402(bodyChallenge(v2Message()))
    expect(offers).toHaveLength(1)
    expect(offers[0]).toMatchObject({
      version: 2,
      network: 'eip155:84532',
      amount: 10000n,
      resource: url,
      raw: v2Requirement(),
    })
  })

  test('behavior: a header and a body with the same accepts agree', () => {
    const message = v2Message()
    const offers = decodeX402(challenge({ header: encodeBase64Json(message), body: JSON.stringify(message) }))
    expect(offers.map((offer) => offer.amount)).toEqual([10000n])
  })

  test('behavior: the v2 header is read even when the body is not JSON', () => {
    const offers = decodeX402(
      challenge({ header: encodeBase64Json(v2Message()), body: '<html>Payment Required</html>' }),
    )
    expect(offers.map((offer) => offer.network)).toEqual(['eip155:84532'])
  })

  test('behavior: decodes a v1 body, mapping the network name to CAIP-2 and reading maxAmountRequired', () => {
    const offers = decodeX402(bodyChallenge(v1Message()))
    expect(offers).toMatchInlineSnapshot(`
      [
        {
          "amount": 10000n,
          "asset": {
            "decimals": 6,
            "id": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "symbol": "USDC",
          },
          "description": "Access to premium market data",
          "method": {
            "chainId": 84532,
            "domain": {
              "name": "USDC",
              "version": "2",
            },
            "kind": "eip3009",
            "nonce": "random",
            "to": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            "token": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "validAfterSeconds": 600,
            "validBefore": {
              "afterSeconds": 60,
            },
            "value": 10000n,
          },
          "network": "eip155:84532",
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "raw": {
            "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "description": "Access to premium market data",
            "extra": {
              "name": "USDC",
              "version": "2",
            },
            "maxAmountRequired": "10000",
            "maxTimeoutSeconds": 60,
            "mimeType": "application/json",
            "network": "base-sepolia",
            "outputSchema": null,
            "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            "resource": "https://api.example.com/premium-data",
            "scheme": "exact",
          },
          "resource": "https://api.example.com/premium-data",
          "scheme": "exact",
          "version": 1,
        },
      ]
    `)
  })

  test('behavior: v1 network names of EVM chains and Solana clusters map to CAIP-2', () => {
    const networks = ['base', 'polygon', 'avalanche-fuji', 'ethereum', 'solana', 'solana-devnet', 'eip155:31337']
    const offers = decodeX402(bodyChallenge(v1Message(networks.map((network) => v1Requirement({ network })))))
    expect(offers.map((offer) => offer.network)).toEqual([
      'eip155:8453',
      'eip155:137',
      'eip155:43113',
      'eip155:1',
      'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
      'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1',
      'eip155:31337',
    ])
  })

  test('behavior: a v1 entry names its own resource; without one the URL that answered 402 is used', () => {
    const offers = decodeX402(
      challenge({
        url: 'https://api.example.com/asked',
        body: JSON.stringify(
          v1Message([
            v1Requirement({ resource: 'https://api.example.com/entry' }),
            v1Requirement({ resource: undefined }),
          ]),
        ),
      }),
    )
    expect(offers.map((offer) => offer.resource)).toEqual([
      'https://api.example.com/entry',
      'https://api.example.com/asked',
    ])
  })

  test('behavior: a v2 offer takes resource.url from the message, else the URL that answered 402', () => {
    const withResource = decodeX402(
      challenge({ url: 'https://api.example.com/asked', header: encodeBase64Json(v2Message()) }),
    )
    const without = decodeX402(
      challenge({
        url: 'https://api.example.com/asked',
        header: encodeBase64Json(v2Message(undefined, { resource: undefined })),
      }),
    )
    expect([withResource[0]?.resource, without[0]?.resource]).toEqual([url, 'https://api.example.com/asked'])
  })

  test('behavior: known USDC gets decimals and symbol, whatever the address case', () => {
    const offers = decodeX402(
      headerChallenge(v2Message([v2Requirement(), v2Requirement({ asset: baseSepoliaUsdc.toLowerCase() })])),
    )
    expect(offers.map((offer) => offer.asset)).toEqual([
      { id: baseSepoliaUsdc, decimals: 6, symbol: 'USDC' },
      { id: baseSepoliaUsdc.toLowerCase(), decimals: 6, symbol: 'USDC' },
    ])
  })

  test('behavior: an unknown asset, or USDC’s address on another chain, has no decimals or symbol', () => {
    const unknown = '0x1111111111111111111111111111111111111111'
    const offers = decodeX402(
      headerChallenge(v2Message([v2Requirement({ asset: unknown }), v2Requirement({ network: 'eip155:8453' })])),
    )
    expect(offers.map((offer) => offer.asset)).toEqual([
      { id: unknown, decimals: undefined, symbol: undefined },
      { id: baseSepoliaUsdc, decimals: undefined, symbol: undefined },
    ])
  })

  test('behavior: extra may be absent or null (then there is no EIP-712 domain and no method); maxTimeoutSeconds may be absent', () => {
    const offers = decodeX402(
      headerChallenge(
        v2Message([
          v2Requirement({ extra: null, maxTimeoutSeconds: undefined }),
          v2Requirement({ extra: undefined }),
          v2Requirement({ maxTimeoutSeconds: undefined }),
        ]),
      ),
    )
    expect(offers.map((offer) => offer.method && 'validBefore' in offer.method && offer.method.validBefore)).toEqual([
      undefined,
      undefined,
      { afterSeconds: 60 },
    ])
  })

  test('behavior: an exact EVM entry becomes an EIP-3009 request with a random nonce, the window from maxTimeoutSeconds, v1 starting ten minutes back', () => {
    const [v2] = decodeX402(headerChallenge(v2Message([v2Requirement({ maxTimeoutSeconds: 120 })])))
    expect(v2?.method).toStrictEqual({
      kind: 'eip3009',
      chainId: 84532,
      token: baseSepoliaUsdc,
      domain: { name: 'USDC', version: '2' },
      to: merchant,
      value: 10000n,
      validAfterSeconds: undefined,
      validBefore: { afterSeconds: 120 },
      nonce: 'random',
    })
    const [v1] = decodeX402(bodyChallenge(v1Message()))
    expect(v1?.method).toMatchObject({ kind: 'eip3009', validAfterSeconds: 600 })
  })

  test.each<[string, Record<string, unknown>]>([
    ['the upto scheme without a facilitatorAddress', { scheme: 'upto' }],
    ['an unknown assetTransferMethod', { extra: { name: 'USDC', version: '2', assetTransferMethod: 'erc7710' } }],
    ['an unknown paymentFlow', { extra: { name: 'USDC', version: '2', paymentFlow: 'later' } }],
    ['a malformed eip155 network', { network: 'eip155:0' }],
    ['an eip155 chain id with a leading zero', { network: 'eip155:08453' }],
    ['an unsafe chain id', { network: 'eip155:9999999999999999' }],
    ['a network payfetch has no method for', { network: 'cosmos:cosmoshub-4' }],
    ['missing extra.name', { extra: { version: '2' } }],
    ['missing extra.version', { extra: { name: 'USDC' } }],
    ['a numeric extra.version', { extra: { name: 'USDC', version: 2 } }],
    ['a Solana entry without a fee payer', { network: solanaDevnet, extra: {} }],
    [
      'a Solana entry with a memo that is not a string',
      { network: solanaDevnet, extra: { feePayer: merchant, memo: 42 } },
    ],
  ])('behavior: %s is an offer without a method (shown, never paid)', (_, overrides) => {
    const [offer] = decodeX402(headerChallenge(v2Message([v2Requirement(overrides)])))
    expect(offer).toBeDefined()
    expect(offer?.method).toBeUndefined()
  })

  test('behavior: a v2 entry may repeat its amount as maxAmountRequired', () => {
    const offers = decodeX402(headerChallenge(v2Message([v2Requirement({ maxAmountRequired: '10000' })])))
    expect(offers.map((offer) => offer.amount)).toEqual([10000n])
  })

  test('behavior: one bad entry next to a good one yields just the good offer', () => {
    const offers = decodeX402(
      headerChallenge(v2Message([v2Requirement({ amount: '-1' }), v2Requirement({ amount: '20000' })])),
    )
    expect(offers.map((offer) => [offer.amount, offer.raw])).toEqual([[20000n, v2Requirement({ amount: '20000' })]])
  })

  test('behavior: 32 accepts are allowed', () => {
    const accepts = Array.from({ length: 32 }, (_, index) => v2Requirement({ amount: String(index + 1) }))
    expect(decodeX402(headerChallenge(v2Message(accepts)))).toHaveLength(32)
  })

  test('behavior: a plain-text 402 is not x402', () => {
    expect(decodeX402(challenge({ body: 'Payment Required' }))).toEqual([])
  })

  test('behavior: JSON without x402Version is not x402', () => {
    expect(decodeX402(challenge({ body: JSON.stringify({ accepts: [v2Requirement()], error: 'pay' }) }))).toEqual([])
    expect(decodeX402(challenge({ body: JSON.stringify([v1Message()]) }))).toEqual([])
  })

  test('behavior: an empty or oversized (undefined) body without header is not x402', () => {
    expect(decodeX402(challenge({ body: '' }))).toEqual([])
    expect(decodeX402(challenge({ body: undefined }))).toEqual([])
  })

  test('error: the header is not base64', () => {
    expect(rejection(challenge({ header: 'not base64!' }))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "protocol": "x402",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header is not base64 JSON.",
      }
    `)
  })

  test('error: the header is base64url, not standard base64', () => {
    // `>>>???` makes the standard encoding use `+` and `/`, the two letters base64url replaces.
    const message = v2Message(undefined, { error: '>>>???' })
    const standard = encodeBase64Json(message)
    expect(standard).toMatch(/[+/]/)
    const url = standard.replaceAll('+', '-').replaceAll('/', '_')
    expect(decodeX402(challenge({ header: standard }))).toHaveLength(1)
    expect(rejection(challenge({ header: url }))).toMatchObject({
      code: 'CHALLENGE_INVALID',
      message: '[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header is not base64 JSON.',
    })
  })

  test('error: the header is unpadded base64', () => {
    const padded = encodeBase64Json({ ...v2Message(), pad: 'x' })
    const unpadded = padded.replace(/=+$/, '')
    expect(unpadded).not.toBe(padded)
    expect(rejection(challenge({ header: unpadded })).message).toContain('is not base64 JSON')
  })

  test('error: the header is base64 of something that is not JSON', () => {
    expect(rejection(challenge({ header: btoa('x402Version: 2') })).message).toMatchInlineSnapshot(
      `"[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header is not base64 JSON."`,
    )
  })

  test('error: the header is base64 JSON but not an object', () => {
    expect(rejection(challenge({ header: encodeBase64Json([v2Message()]) })).message).toMatchInlineSnapshot(
      `"[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header is not base64 JSON."`,
    )
  })

  test('error: the header carries x402Version 1', () => {
    expect(rejection(headerChallenge({ ...v1Message() }))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "protocol": "x402",
          "x402Version": 1,
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header must carry x402Version 2.",
      }
    `)
  })

  test('error: the header carries an unsupported x402Version', () => {
    expect(rejection(headerChallenge(v2Message(undefined, { x402Version: 3 })))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "protocol": "x402",
          "x402Version": "3",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header has an unsupported x402Version.",
      }
    `)
    expect(rejection(headerChallenge(v2Message(undefined, { x402Version: '2' }))).details).toEqual({
      protocol: 'x402',
      x402Version: '2',
    })
  })

  test('error: the body carries an unsupported x402Version', () => {
    expect(rejection(bodyChallenge({ ...v1Message(), x402Version: 0 })).message).toMatchInlineSnapshot(
      `"[CHALLENGE_INVALID] Invalid x402 challenge: the 402 body has an unsupported x402Version."`,
    )
  })

  test('error: empty accepts', () => {
    expect(rejection(headerChallenge(v2Message([]))).message).toMatchInlineSnapshot(
      `"[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header has no accepts."`,
    )
    expect(rejection(bodyChallenge(v1Message([]))).message).toMatchInlineSnapshot(
      `"[CHALLENGE_INVALID] Invalid x402 challenge: the 402 body has no accepts."`,
    )
  })

  test('error: accepts is not an array', () => {
    expect(rejection(headerChallenge(v2Message(undefined, { accepts: v2Requirement() }))).message).toContain(
      'has no accepts',
    )
  })

  test('error: more than 32 accepts', () => {
    const accepts = Array.from({ length: 33 }, () => v2Requirement())
    expect(rejection(headerChallenge(v2Message(accepts)))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "count": 33,
          "protocol": "x402",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header has too many accepts.",
      }
    `)
  })

  test('error: a header larger than 64 KiB', () => {
    // Pad the message until its base64 is exactly 64 KiB: that still decodes; one more quantum does not.
    const sized = (length: number) =>
      encodeBase64Json(v2Message(undefined, { extensions: { pad: 'x'.repeat(length) } }))
    let length = Math.floor(((64 * 1024 - sized(0).length) * 3) / 4) - 8
    while (sized(length).length < 64 * 1024) length++
    expect(sized(length)).toHaveLength(64 * 1024)
    expect(decodeX402(challenge({ header: sized(length) }))).toHaveLength(1)
    expect(sized(length + 3)).toHaveLength(64 * 1024 + 4)
    expect(rejection(challenge({ header: sized(length + 3) }))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "length": 65540,
          "protocol": "x402",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header is too large.",
      }
    `)
  })

  test('error: a negative amount', () => {
    expect(rejection(headerChallenge(v2Message([v2Requirement({ amount: '-10000' })])))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "problems": [
            "accepts[0]: amount is not a positive integer string",
          ],
          "protocol": "x402",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: no usable payment option in the x402 challenge.",
      }
    `)
  })

  test.each([
    ['a decimal', '0.01'],
    ['a hex', '0x2710'],
    ['a zero', '0'],
    ['an exponent', '1e4'],
    ['a signed', '+10000'],
    ['an empty', ''],
    ['a space-padded', ' 10000'],
    ['a 79-digit', '1'.repeat(79)],
  ])('error: %s amount', (_, amount) => {
    expect(problemsOf(headerChallenge(v2Message([v2Requirement({ amount })])))).toEqual([
      'accepts[0]: amount is not a positive integer string',
    ])
  })

  test('error: an amount given as a JSON number', () => {
    expect(problemsOf(headerChallenge(v2Message([v2Requirement({ amount: 10000 })])))).toEqual([
      'accepts[0]: amount is not a positive integer string',
    ])
  })

  test('error: a v1 entry with amount instead of maxAmountRequired', () => {
    expect(
      problemsOf(bodyChallenge(v1Message([v1Requirement({ maxAmountRequired: undefined, amount: '10000' })]))),
    ).toEqual(['accepts[0]: maxAmountRequired is not a positive integer string'])
  })

  test('error: a v1 zero maxAmountRequired', () => {
    expect(problemsOf(bodyChallenge(v1Message([v1Requirement({ maxAmountRequired: '0' })])))).toEqual([
      'accepts[0]: maxAmountRequired is not a positive integer string',
    ])
  })

  test('error: missing payTo', () => {
    expect(rejection(headerChallenge(v2Message([v2Requirement({ payTo: undefined })])))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "problems": [
            "accepts[0]: payTo is missing",
          ],
          "protocol": "x402",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: no usable payment option in the x402 challenge.",
      }
    `)
    expect(problemsOf(headerChallenge(v2Message([v2Requirement({ payTo: '' })])))).toEqual([
      'accepts[0]: payTo is missing',
    ])
  })

  test('error: missing scheme, network or asset', () => {
    const problems = problemsOf(
      headerChallenge(
        v2Message([
          v2Requirement({ scheme: undefined }),
          v2Requirement({ network: 8453 }),
          v2Requirement({ asset: null }),
          'exact',
        ]),
      ),
    )
    expect(problems).toEqual([
      'accepts[0]: scheme is missing',
      'accepts[1]: network is missing',
      'accepts[2]: asset is missing',
      'accepts[3]: not an object',
    ])
  })

  test('error: an unknown v1 network name', () => {
    expect(rejection(bodyChallenge(v1Message([v1Requirement({ network: 'base-mainnet' })])))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "problems": [
            "accepts[0]: unknown network "base-mainnet"",
          ],
          "protocol": "x402",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: no usable payment option in the x402 challenge.",
      }
    `)
  })

  test('error: v1 network names inherited from Object.prototype are unknown', () => {
    const problems = problemsOf(
      bodyChallenge(v1Message([v1Requirement({ network: 'constructor' }), v1Requirement({ network: '__proto__' })])),
    )
    expect(problems).toEqual(['accepts[0]: unknown network "constructor"', 'accepts[1]: unknown network "__proto__"'])
  })

  test('error: a v2 network that is not CAIP-2', () => {
    expect(problemsOf(headerChallenge(v2Message([v2Requirement({ network: 'base-sepolia' })])))).toEqual([
      'accepts[0]: unknown network "base-sepolia"',
    ])
  })

  test('error: maxTimeoutSeconds that is not a positive integer', () => {
    const problems = problemsOf(
      headerChallenge(
        v2Message(
          [0, -1, 1.5, '60', Number.MAX_SAFE_INTEGER + 1].map((maxTimeoutSeconds) =>
            v2Requirement({ maxTimeoutSeconds }),
          ),
        ),
      ),
    )
    expect(problems).toEqual(
      [0, 1, 2, 3, 4].map((index) => `accepts[${index}]: maxTimeoutSeconds is not a positive integer`),
    )
  })

  test('error: extra that is not an object', () => {
    expect(problemsOf(headerChallenge(v2Message([v2Requirement({ extra: ['USDC', '2'] })])))).toEqual([
      'accepts[0]: extra is not an object',
    ])
  })

  test('error: the header and the body offer different payments', () => {
    const header = encodeBase64Json(v2Message())
    const body = JSON.stringify(v2Message([v2Requirement({ amount: '1' })]))
    expect(rejection(challenge({ header, body }))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "protocol": "x402",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: the PAYMENT-REQUIRED header and the body offer different payments.",
      }
    `)
  })

  test('error: a v2 entry whose amount and maxAmountRequired disagree', () => {
    expect(rejection(headerChallenge(v2Message([v2Requirement({ maxAmountRequired: '1' })])))).toMatchInlineSnapshot(`
      {
        "code": "CHALLENGE_INVALID",
        "details": {
          "problems": [
            "accepts[0]: amount and maxAmountRequired disagree",
          ],
          "protocol": "x402",
        },
        "message": "[CHALLENGE_INVALID] Invalid x402 challenge: no usable payment option in the x402 challenge.",
      }
    `)
  })

  test('error: a body that speaks x402 but is malformed', () => {
    expect(rejection(bodyChallenge({ x402Version: 1 })).message).toMatchInlineSnapshot(
      `"[CHALLENGE_INVALID] Invalid x402 challenge: the 402 body has no accepts."`,
    )
  })

  test('error: every entry unusable lists every problem', () => {
    const problems = problemsOf(
      headerChallenge(v2Message([v2Requirement({ amount: '0' }), v2Requirement({ payTo: 1 })])),
    )
    expect(problems).toEqual(['accepts[0]: amount is not a positive integer string', 'accepts[1]: payTo is missing'])
  })
})

describe('readPaymentRequired', () => {
  test('behavior: returns the message with its error, resource and extensions', () => {
    const extensions = { bazaar: { info: { input: { type: 'http' } }, schema: {} } }
    const message = readPaymentRequired(headerChallenge(v2Message(undefined, { extensions })))
    expect(message).toEqual({
      x402Version: 2,
      error: 'PAYMENT-SIGNATURE header is required',
      resource: v2Message().resource,
      accepts: [v2Requirement()],
      extensions,
    })
  })

  test('behavior: undefined when the response does not speak x402', () => {
    expect(readPaymentRequired(challenge({ body: 'nope' }))).toBeUndefined()
  })
})

describe('readSettlement', () => {
  const transaction = '0x5f1b2f7d3b6f1b8c2a3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a'
  const payer = '0x857b06519E91e3A54538791bDbb0E22373e36b66'

  test('behavior: reads PAYMENT-RESPONSE', () => {
    const headers = new Headers({
      'PAYMENT-RESPONSE': encodeBase64Json({ success: true, transaction, network: 'eip155:84532', payer }),
    })
    expect(readSettlement(headers)).toMatchInlineSnapshot(`
      {
        "amount": undefined,
        "channel": undefined,
        "errorReason": undefined,
        "extensions": undefined,
        "network": "eip155:84532",
        "payer": "0x857b06519E91e3A54538791bDbb0E22373e36b66",
        "success": true,
        "transaction": "0x5f1b2f7d3b6f1b8c2a3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a",
      }
    `)
  })

  test('behavior: reads X-PAYMENT-RESPONSE and maps the v1 network name to CAIP-2', () => {
    const headers = new Headers({
      'X-PAYMENT-RESPONSE': encodeBase64Json({ success: true, transaction, network: 'base-sepolia', payer }),
    })
    expect(readSettlement(headers)).toEqual({
      success: true,
      transaction,
      network: 'eip155:84532',
      payer,
      amount: undefined,
      errorReason: undefined,
    })
  })

  test('behavior: a header read again is the same report, and a header changed since is read anew', () => {
    const headers = new Headers({
      'PAYMENT-RESPONSE': encodeBase64Json({ success: true, transaction: '0x01', network: 'eip155:8453' }),
    })
    const first = readSettlement(headers)
    expect(readSettlement(headers)).toBe(first)
    headers.set('PAYMENT-RESPONSE', encodeBase64Json({ success: false, errorReason: 'insufficient_funds' }))
    expect(readSettlement(headers)).toMatchObject({ success: false, errorReason: 'insufficient_funds' })
    headers.delete('PAYMENT-RESPONSE')
    expect(readSettlement(headers)).toBeUndefined()
  })

  test('behavior: PAYMENT-RESPONSE wins over X-PAYMENT-RESPONSE', () => {
    const headers = new Headers({
      'PAYMENT-RESPONSE': encodeBase64Json({ success: true, transaction: '0x01', network: 'eip155:8453' }),
      'X-PAYMENT-RESPONSE': encodeBase64Json({ success: true, transaction: '0x02', network: 'base' }),
    })
    expect(readSettlement(headers)?.transaction).toBe('0x01')
  })

  test('behavior: reads a settled amount, and errorReason or else errorMessage', () => {
    const read = (value: unknown) => readSettlement(new Headers({ 'PAYMENT-RESPONSE': encodeBase64Json(value) }))
    expect(read({ success: true, transaction: '0x01', network: 'eip155:8453', amount: '2500' })?.amount).toBe(2500n)
    expect(read({ success: false, errorReason: 'insufficient_funds', errorMessage: 'not enough' })?.errorReason).toBe(
      'insufficient_funds',
    )
    expect(read({ success: false, errorMessage: 'not enough' })?.errorReason).toBe('not enough')
  })

  test('behavior: an unknown network name or malformed fields are dropped, not trusted', () => {
    const settlement = readSettlement(
      new Headers({
        'PAYMENT-RESPONSE': encodeBase64Json({
          success: true,
          transaction: 7,
          network: 'base-mainnet',
          payer: 'x'.repeat(513),
          amount: '-5',
        }),
      }),
    )
    expect(settlement).toEqual({
      success: true,
      transaction: undefined,
      network: undefined,
      payer: undefined,
      amount: undefined,
      errorReason: undefined,
    })
  })

  test.each([
    ['absent', undefined],
    ['not base64', 'settled!'],
    ['base64url', encodeBase64Json({ success: true, note: '>>>???' }).replaceAll('+', '-').replaceAll('/', '_')],
    ['base64 of non-JSON', btoa('success=true')],
    ['JSON without success', encodeBase64Json({ transaction: '0x01' })],
    ['success as a string', encodeBase64Json({ success: 'true' })],
    ['a JSON array', encodeBase64Json([{ success: true }])],
    ['larger than 16 KiB', encodeBase64Json({ success: true, pad: 'x'.repeat(16 * 1024) })],
  ])('behavior: garbage (%s) reads as undefined', (_, value) => {
    const headers = new Headers(value === undefined ? {} : { 'PAYMENT-RESPONSE': value })
    expect(readSettlement(headers)).toBeUndefined()
  })
})

describe('x402.proofHeaders', () => {
  // Servers that do not declare payment-identifier never see the key in the proof.
  const context = { idempotencyKey: 'payfetch-call-0123456789abcdef' }
  const payload = {
    signature:
      '0x2d6a7588d6acca505cbf0d9a4a227e0c52c6c34008c8e8986a1283259764173608a2ce6496642e377d6da8dbbf5836e9bd15092f9ecab05ded3d6293af148b571c',
    authorization: {
      from: '0x857b06519E91e3A54538791bDbb0E22373e36b66',
      to: merchant,
      value: '10000',
      validAfter: '0',
      validBefore: '1740672154',
      nonce: '0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480',
    },
  }
  const proof = { kind: 'eip3009', ...payload, payer: payload.authorization.from } as Eip3009Proof

  test('behavior: v2 sends PAYMENT-SIGNATURE echoing resource, the accepted entry verbatim, the payload and the extensions', () => {
    const extensions = { bazaar: { info: { input: { type: 'http', method: 'GET' } }, schema: { type: 'object' } } }
    // Fields payfetch does not model (mimeType, a future field) must survive the echo untouched.
    const chosen = v2Requirement({
      network: 'eip155:8453',
      asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
      mimeType: 'application/json',
      future: { a: [1, 2] },
    })
    const [, offer] = decodeX402(headerChallenge(v2Message([v2Requirement(), chosen], { extensions })))
    const headers = x402.proofHeaders(offer!, proof, context)
    expect(Object.keys(headers)).toEqual(['payment-signature'])
    expect(headers['payment-signature']).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
    expect(decodeBase64Json(headers['payment-signature']!)).toStrictEqual({
      x402Version: 2,
      resource: { url, description: 'Access to premium market data', mimeType: 'application/json' },
      accepted: {
        scheme: 'exact',
        network: 'eip155:8453',
        amount: '10000',
        asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
        payTo: merchant,
        maxTimeoutSeconds: 60,
        extra: { name: 'USDC', version: '2' },
        mimeType: 'application/json',
        future: { a: [1, 2] },
      },
      payload,
      extensions,
    })
  })

  test('behavior: v2 echoes an empty extensions object and omits absent extensions', () => {
    const [withEmpty] = decodeX402(headerChallenge(v2Message()))
    const [without] = decodeX402(headerChallenge(v2Message(undefined, { extensions: undefined })))
    const decode = (headers: Record<string, string>) =>
      decodeBase64Json(headers['payment-signature']!) as Record<string, unknown>
    expect(decode(x402.proofHeaders(withEmpty!, proof, context)).extensions).toEqual({})
    expect(Object.keys(decode(x402.proofHeaders(without!, proof, context)))).toEqual([
      'x402Version',
      'resource',
      'accepted',
      'payload',
    ])
  })

  test('behavior: v1 sends X-PAYMENT with the scheme and the original v1 network name', () => {
    const [offer] = decodeX402(bodyChallenge(v1Message()))
    expect(offer?.network).toBe('eip155:84532')
    const headers = x402.proofHeaders(offer!, proof, context)
    expect(Object.keys(headers)).toEqual(['x-payment'])
    expect(decodeBase64Json(headers['x-payment']!)).toStrictEqual({
      x402Version: 1,
      scheme: 'exact',
      network: 'base-sepolia',
      payload,
    })
  })
})

describe('x402.refusalReason', () => {
  test('behavior: the settlement errorReason of a refused proof comes first', () => {
    const refused = challenge({
      header: encodeBase64Json(v2Message(undefined, { error: 'payment required' })),
      headers: {
        'PAYMENT-RESPONSE': encodeBase64Json({
          success: false,
          errorReason: 'invalid_exact_evm_payload_signature',
          transaction: '',
          network: 'eip155:84532',
        }),
      },
    })
    expect(x402.refusalReason(refused)).toBe('invalid_exact_evm_payload_signature')
  })

  test('behavior: otherwise the error of the new challenge (v2 header or v1 body)', () => {
    expect(x402.refusalReason(headerChallenge(v2Message(undefined, { error: 'insufficient_funds' })))).toBe(
      'insufficient_funds',
    )
    expect(x402.refusalReason(bodyChallenge(v1Message()))).toBe('X-PAYMENT header is required')
  })

  test('behavior: undefined when there is no reason, or the challenge is malformed', () => {
    expect(x402.refusalReason(headerChallenge(v2Message(undefined, { error: undefined })))).toBeUndefined()
    expect(x402.refusalReason(challenge({ header: 'garbage' }))).toBeUndefined()
    expect(x402.refusalReason(challenge({ body: 'Payment Required' }))).toBeUndefined()
  })
})
