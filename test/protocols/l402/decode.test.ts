import { describe, expect, test } from 'vitest'
import { createLightningNode } from '../../../examples/local-stack/lightningNode.js'
import type { Bolt11Request } from '../../../src/methods/Bolt11.js'
import { type MethodProof, paysOnSigning } from '../../../src/methods/PaymentMethod.js'
import type { Offer } from '../../../src/offer/Offer.js'
import { decodeL402 } from '../../../src/protocols/l402/decode.js'
import { l402 } from '../../../src/protocols/l402/index.js'
import { lightningNetworks } from '../../../src/protocols/l402/networks.js'
import type { AuthChallenge } from '../../../src/protocols/wwwAuthenticate/parseWwwAuthenticate.js'
import { summarizeOffer } from '../../../src/tools/summarizeOffer.js'
import { reencoded } from '../../support/invoiceCorpus.js'
import { thrownPayfetchError } from '../../support/thrown.js'
import { challengeOf, mintToken } from './support.js'

const node = createLightningNode()
const preimage = 'ab'.repeat(32)
const context = { idempotencyKey: 'k' }

const refusal = thrownPayfetchError

describe('decodeL402', () => {
  test('behavior: an invoice whose expiry runs past the last date JavaScript holds expires then, and its offer can be shown', async () => {
    const timestamp = Math.floor(Date.now() / 1000)
    const { invoice, paymentHash } = node.createInvoice({ amountMsat: 21_000n, timestamp, expirySeconds: 600 })
    // The expiry field rewritten to 2^50 - 1 seconds (bolt11 cannot write it; the root reader checks no signature).
    const longLived = reencoded(invoice, (words) => {
      for (let start = 7; start < words.length - 104; ) {
        const length = (words[start + 1] as number) * 32 + (words[start + 2] as number)
        if (words[start] === 6)
          return [...words.slice(0, start), 6, 0, 10, ...Array(10).fill(31), ...words.slice(start + 3 + length)]
        start += 3 + length
      }
      throw new Error('no expiry field')
    })
    const [offer] = decodeL402(challengeOf(`L402 macaroon="${mintToken(paymentHash)}", invoice="${longLived}"`))
    expect(offer?.expiresAt).toBe(8.64e15)
    expect((await summarizeOffer(offer as Offer)).expires_at).toBe('+275760-09-13T00:00:00.000Z')
  })

  test('behavior: an L402 challenge becomes one offer priced in msat on the invoice network, with the token kept as sent', () => {
    const timestamp = Math.floor(Date.now() / 1000)
    const { invoice, paymentHash } = node.createInvoice({ amountMsat: 21_000n, timestamp, expirySeconds: 600 })
    const token = mintToken(paymentHash)
    const [offer, ...rest] = decodeL402(challengeOf(`L402 macaroon="${token}", invoice="${invoice}"`))
    expect(rest).toEqual([])
    expect(offer).toEqual({
      protocol: 'l402',
      version: undefined,
      scheme: 'l402',
      network: lightningNetworks.regtest,
      asset: { id: 'BTC', decimals: 11, symbol: 'BTC' },
      amount: 21_000n,
      payTo: paymentHash,
      resource: 'https://api.example.com/report',
      expiresAt: (timestamp + 600) * 1000,
      method: {
        kind: 'bolt11',
        invoice,
        paymentHash,
        amountMsat: 21_000n,
        network: lightningNetworks.regtest,
        payee: undefined,
      },
      raw: { scheme: 'l402', token68: undefined, params: { macaroon: token, invoice } },
    })
  })

  test("behavior: Aperture's LSAT-then-L402 lines are one offer, from the L402 line", () => {
    const { invoice, paymentHash } = node.createInvoice()
    const token = mintToken(paymentHash)
    const offers = decodeL402(
      challengeOf(`LSAT macaroon="${token}", invoice="${invoice}"`, `L402 macaroon="${token}", invoice="${invoice}"`),
    )
    expect(offers).toHaveLength(1)
    expect((offers[0]?.raw as AuthChallenge).scheme).toBe('l402')
  })

  test('behavior: an LSAT-only challenge is paid with an L402 credential all the same', () => {
    const { invoice, paymentHash } = node.createInvoice()
    const token = mintToken(paymentHash)
    const [offer] = decodeL402(challengeOf(`LSAT macaroon="${token}", invoice="${invoice}"`))
    expect((offer?.raw as AuthChallenge).scheme).toBe('lsat')
    expect(l402.proofHeaders(offer as never, { kind: 'bolt11', preimage }, context)).toEqual({
      authorization: `L402 ${token}:${preimage}`,
    })
  })

  test('behavior: the 2026 form (version="0", token=) and Alby\'s missing comma with an opaque token', () => {
    const { invoice, paymentHash } = node.createInvoice()
    const token = mintToken(paymentHash)
    const [offer] = decodeL402(challengeOf(`L402 version="0", token="${token}", invoice="${invoice}"`))
    expect(offer).toMatchObject({ version: 0 })
    expect(l402.proofHeaders(offer!, { kind: 'bolt11', preimage }, context).authorization).toBe(
      `L402 ${token}:${preimage}`,
    )
    const opaque = 'eyJwYXltZW50SGFzaCI6IjEyIn0.0123abcd'
    const [alby] = decodeL402(challengeOf(`L402 version="0" token="${opaque}", invoice="${invoice}"`))
    expect(alby).toMatchObject({ version: 0, method: { paymentHash } })
    expect(l402.proofHeaders(alby!, { kind: 'bolt11', preimage }, context).authorization).toBe(
      `L402 ${opaque}:${preimage}`,
    )
  })

  test('behavior: an MPP Payment challenge next to L402 is left to its own adapter; no L402 challenge means no offer', () => {
    const { invoice, paymentHash } = node.createInvoice()
    const token = mintToken(paymentHash)
    const payment =
      'Payment id="kM9x", realm="api.example.com", method="lightning", intent="charge", request="eyJhbW91bnQiOiIxMDAwIn0"'
    expect(decodeL402(challengeOf(payment, `L402 token="${token}", invoice="${invoice}"`))).toHaveLength(1)
    expect(decodeL402(challengeOf(payment))).toEqual([])
    expect(decodeL402(challengeOf('Basic realm="x"'))).toEqual([])
    expect(decodeL402({ url: 'https://api.example.com/', headers: new Headers(), body: undefined })).toEqual([])
  })

  test('behavior: payTo is the payee node key when the invoice names it; an unknown parameter changes nothing', () => {
    const { invoice, paymentHash } = node.createInvoice({ withPayee: true })
    const [offer] = decodeL402(
      challengeOf(`L402 macaroon="${mintToken(paymentHash)}", invoice="${invoice}", address="bcrt1qxyz", extra=1`),
    )
    expect(offer?.payTo).toBe(node.publicKey)
  })

  test('behavior: a usable challenge survives next to an unusable one', () => {
    const good = node.createInvoice()
    const expired = node.createInvoice({ timestamp: 1_600_000_000 })
    const offers = decodeL402(
      challengeOf(
        `L402 macaroon="${mintToken(expired.paymentHash)}", invoice="${expired.invoice}"`,
        `L402 macaroon="${mintToken(good.paymentHash)}", invoice="${good.invoice}"`,
      ),
    )
    expect(offers.map((offer) => (offer.method as Bolt11Request).paymentHash)).toEqual([good.paymentHash])
  })

  test('error: an invoice whose payment hash is not the one the macaroon commits to is not an offer', () => {
    const { invoice } = node.createInvoice()
    const other = node.createInvoice()
    const error = refusal(() =>
      decodeL402(challengeOf(`L402 macaroon="${mintToken(other.paymentHash)}", invoice="${invoice}"`)),
    )
    expect(error.code).toBe('CHALLENGE_INVALID')
    expect(error.message).toMatchInlineSnapshot(`"[CHALLENGE_INVALID] No usable L402 challenge."`)
    expect(error.details).toMatchInlineSnapshot(`
      {
        "problems": [
          "l402: the invoice pays a different hash than the token commits to",
        ],
        "protocol": "l402",
      }
    `)
  })

  test('error: amountless, expired, wrong-network-prefix, missing and malformed invoices and unusable tokens are refused with their reason', () => {
    const cases: [string, string][] = []
    const amountless = node.createInvoice({ amountMsat: null })
    cases.push([
      `L402 macaroon="${mintToken(amountless.paymentHash)}", invoice="${amountless.invoice}"`,
      'l402: amountless invoice',
    ])
    const expired = node.createInvoice({ timestamp: Math.floor(Date.now() / 1000) - 700, expirySeconds: 600 })
    cases.push([
      `L402 macaroon="${mintToken(expired.paymentHash)}", invoice="${expired.invoice}"`,
      'l402: invoice expired',
    ])
    const good = node.createInvoice()
    const token = mintToken(good.paymentHash)
    cases.push([`L402 macaroon="${token}", invoice="lnsb210n1${good.invoice.slice(11)}"`, 'l402: malformed invoice'])
    cases.push([`L402 macaroon="${token}"`, 'l402: invoice is missing'])
    cases.push([`LSAT invoice="${good.invoice}"`, 'lsat: token is missing or not base64'])
    cases.push([
      `L402 macaroon="${token}:${'00'.repeat(32)}", invoice="${good.invoice}"`,
      'l402: token is missing or not base64',
    ])
    cases.push([`L402 token="a b", invoice="${good.invoice}"`, 'l402: token is missing or not base64'])
    for (const [header, problem] of cases)
      expect(refusal(() => decodeL402(challengeOf(header))).details.problems).toEqual([problem])
  })
})

describe('l402 protocol', () => {
  const { invoice, paymentHash } = node.createInvoice()
  const token = mintToken(paymentHash, ['services=demo:0', 'demo_valid_until=1900000000'])
  const [offer] = decodeL402(challengeOf(`LSAT macaroon="${token}", invoice="${invoice}"`)) as [
    import('../../../src/offer/Offer.js').Offer,
  ]

  test('behavior: the proof is `Authorization: L402 <token as received>:<preimage>`, and the credential is the same header until the token expires', () => {
    expect(l402.proofHeaders(offer, { kind: 'bolt11', preimage }, context)).toEqual({
      authorization: `L402 ${token}:${preimage}`,
    })
    expect(l402.sessionToken?.(offer, { kind: 'bolt11', preimage })).toEqual({
      protocol: 'l402',
      headers: { authorization: `L402 ${token}:${preimage}` },
      expiresAt: 1_900_000_000_000,
    })
    // An invoice: the money moves when the wallet pays, before the server sees the proof.
    expect(offer.method && paysOnSigning(offer.method)).toBe(true)
  })

  test('behavior: the refusal reason is the 402 body', () => {
    expect(l402.refusalReason(challengeOf(`L402 macaroon="${token}", invoice="${invoice}"`))).toBe('payment required')
    expect(l402.refusalReason({ url: 'https://api.example.com/', headers: new Headers(), body: '  ' })).toBeUndefined()
  })

  test('error: a payload without a 64-lowercase-hex preimage cannot become a proof: the outcome is unknown, with the payment hash', () => {
    const proofs = [
      { kind: 'bolt11', preimage: preimage.toUpperCase() },
      { kind: 'bolt11', preimage: 'ab' },
      { kind: 'bolt11' },
      { kind: 'eip3009' },
      { kind: 'bolt11', preimage: `${preimage}\r\nx: y` },
    ]
    for (const proof of proofs) {
      const error = refusal(() => l402.proofHeaders(offer, proof as MethodProof, context))
      expect(error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { paymentHash } })
    }
  })
})
