import { createServer } from 'node:http'
import {
  createOfferEIP712,
  createOfferJWS,
  createReceiptEIP712,
  createReceiptJWS,
  type OfferInput,
  type SignedOffer,
} from '@x402/extensions/offer-receipt'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { close, listen } from '../../examples/local-stack/http.js'
import type { Offer } from '../../src/offer/Offer.js'
import type { SignedTerms } from '../../src/offer/SignedTerms.js'
import { offerReceipt } from '../../src/offerReceipt/index.js'
import { decodeX402Message } from '../../src/protocols/x402/decode.js'
import type { Receipt } from '../../src/receipts/Receipt.js'
import { addressOfJwk } from '../support/jwkAddress.js'
import { didJwk, jwsKey, typedDataSigner } from '../support/offerReceiptIssuers.js'

// Signed offers and receipts made by the reference issuers (@x402/extensions/offer-receipt) with
// viem (EIP-712) and node:crypto (JWS) keys, checked by payfetch's own verifier.
const usdc = '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913'
const resource = 'https://api.example.com/report'
const now = Date.UTC(2026, 11, 1, 12, 0, 0)
const server = privateKeyToAccount(generatePrivateKey())
const stranger = privateKeyToAccount(generatePrivateKey())
const payer = '0x857b06519E91e3A54538791bDbb0E22373e36b66'

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now })
})
afterEach(() => {
  vi.useRealTimers()
})

function entry(overrides: Record<string, unknown> = {}) {
  return {
    scheme: 'exact',
    network: 'eip155:8453',
    amount: '10000',
    asset: usdc,
    payTo: server.address,
    maxTimeoutSeconds: 60,
    extra: { name: 'USD Coin', version: '2' },
    ...overrides,
  }
}

const input = (accept: ReturnType<typeof entry>, acceptIndex = 0): OfferInput => ({
  acceptIndex,
  scheme: accept.scheme,
  network: accept.network,
  asset: accept.asset,
  payTo: accept.payTo,
  amount: accept.amount,
  offerValiditySeconds: 300,
})

/** The 402 a server sends: its accepts and signed offers; the payfetch offer of `accepts[index]`. */
function challenge(accepts: ReturnType<typeof entry>[], offers: readonly unknown[] | undefined, index = 0) {
  const extensions = offers === undefined ? {} : { 'offer-receipt': { info: { offers }, schema: {} } }
  const decoded = decodeX402Message({ x402Version: 2, resource: { url: resource }, accepts, extensions }, resource)
  return { offer: decoded[index] as Offer, extensions, accepts, url: resource, fetch: globalThis.fetch }
}

const eip712Offer = (accept = entry(), signer = server) =>
  createOfferEIP712(resource, input(accept), typedDataSigner(signer))

describe('offerReceipt: signed offers', () => {
  test('behavior: an EIP-712 offer signed by the payTo key verifies', async () => {
    const check = await offerReceipt().checkOffer(challenge([entry()], [await eip712Offer()]))
    expect(check).toEqual({ verified: true, signer: server.address })
  })

  test('behavior: a server that signs nothing is left alone; required, its offers are refused', async () => {
    expect(await offerReceipt().checkOffer(challenge([entry()], undefined))).toBeUndefined()
    expect(await offerReceipt({ offers: 'require' }).checkOffer(challenge([entry()], undefined))).toEqual({
      verified: false,
      refuse: true,
      reason: 'the server signed no offer',
    })
    // 'ignore' does not look, even at a forged offer.
    const forged = { ...(await eip712Offer()), signature: `0x${'11'.repeat(65)}` }
    expect(await offerReceipt({ offers: 'ignore' }).checkOffer(challenge([entry()], [forged]))).toBeUndefined()
  })

  test('policy: a 402 whose terms differ from the signed ones (another payTo, another amount) is not verified; required, refused', async () => {
    const signed = await eip712Offer()
    const attacker = privateKeyToAccount(generatePrivateKey()).address
    for (const [rewritten, field] of [
      [entry({ payTo: attacker }), 'payTo'],
      [entry({ amount: '20000' }), 'amount'],
      [entry({ asset: stranger.address }), 'asset'],
      [entry({ network: 'eip155:1' }), 'network'],
    ] as const) {
      const verify = await offerReceipt().checkOffer(challenge([rewritten], [signed]))
      expect(verify).toMatchObject({ verified: false, refuse: false })
      expect(verify?.reason).toContain(`the signed ${field} `)
      expect(await offerReceipt({ offers: 'require' }).checkOffer(challenge([rewritten], [signed]))).toMatchObject({
        verified: false,
        refuse: true,
      })
    }
  })

  test('policy: an offer past its validUntil (by the injected clock) is not verified', async () => {
    const signed = await eip712Offer()
    vi.setSystemTime(now + 301_000)
    const check = await offerReceipt().checkOffer(challenge([entry()], [signed]))
    expect(check).toMatchObject({ verified: false, reason: expect.stringContaining('expired at 2026-12-01T12:05:00') })
    // The option's clock wins over Date.now.
    const early = await offerReceipt({ now: () => now }).checkOffer(challenge([entry()], [signed]))
    expect(early).toMatchObject({ verified: true })
  })

  test('policy: a signer other than payTo is not authorized unless trusted', async () => {
    const signed = await eip712Offer(entry(), stranger)
    expect(await offerReceipt().checkOffer(challenge([entry()], [signed]))).toEqual({
      verified: false,
      refuse: false,
      signer: stranger.address,
      reason: `${stranger.address} is not authorized to sign for api.example.com`,
    })
    expect(
      await offerReceipt({ trust: [stranger.address.toLowerCase()] }).checkOffer(challenge([entry()], [signed])),
    ).toEqual({
      verified: true,
      signer: stranger.address,
    })
  })

  test('error: a tampered EIP-712 payload recovers another key and is not verified', async () => {
    const signed = await eip712Offer()
    const tampered = { ...signed, payload: { ...signed.payload, amount: '1' } }
    const check = await offerReceipt().checkOffer(challenge([entry({ amount: '1' })], [tampered]))
    expect(check).toMatchObject({ verified: false, reason: expect.stringContaining('is not authorized') })
    expect(check?.signer).not.toBe(server.address)
  })

  test('behavior: offers match accepts by their terms, not by position: the second option finds its own offer', async () => {
    const cheap = entry({ amount: '5000' })
    const offers = [await eip712Offer(entry()), await eip712Offer(cheap)]
    // Listed in the other order, with wrong acceptIndex hints.
    const check = await offerReceipt().checkOffer(challenge([entry(), cheap], [offers[1], offers[0]], 1))
    expect(check).toEqual({ verified: true, signer: server.address })
  })

  test.each(['ES256K', 'ES256', 'EdDSA'] as const)(
    'behavior: a JWS offer (%s, reference signer) verifies by its did:jwk key when trusted, and is unauthorized otherwise',
    async (algorithm) => {
      const key = jwsKey(algorithm)
      const kid = `${didJwk(key.jwk)}#0`
      const signed = await createOfferJWS(resource, input(entry()), key.signer(kid))
      expect(await offerReceipt().checkOffer(challenge([entry()], [signed]))).toMatchObject({
        verified: false,
        signer: kid,
        reason: expect.stringContaining('is not authorized'),
      })
      expect(
        await offerReceipt({ trust: [kid.split('#')[0] as string] }).checkOffer(challenge([entry()], [signed])),
      ).toEqual({ verified: true, signer: kid })
    },
  )

  test('behavior: an ES256K JWS whose kid is did:pkh of the payTo address verifies (the key is recovered)', async () => {
    const key = jwsKey('ES256K')
    // The payTo of this offer is the address of the JWS key itself.
    const address = addressOfJwk(key.jwk)
    const accept = entry({ payTo: address })
    const signed = await createOfferJWS(resource, input(accept), key.signer(`did:pkh:eip155:1:${address}`))
    expect(await offerReceipt().checkOffer(challenge([accept], [signed]))).toEqual({
      verified: true,
      signer: `did:pkh:eip155:1:${address}`,
    })
    const other = entry({ payTo: stranger.address })
    const lying = await createOfferJWS(resource, input(other), key.signer(`did:pkh:eip155:1:${stranger.address}`))
    expect(await offerReceipt().checkOffer(challenge([other], [lying]))).toMatchObject({
      verified: false,
      reason: 'the JWS was not signed by the did:pkh address',
    })
  })

  test('error: a JWS with alg none or HS256, or a jwk that is not its kid key, is not verified', async () => {
    const key = jwsKey('EdDSA')
    const kid = `${didJwk(key.jwk)}#0`
    const signed = (await createOfferJWS(resource, input(entry()), key.signer(kid))) as { signature: string }
    const [, body, sig] = signed.signature.split('.')
    const header = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
    const trust = [kid.split('#')[0] as string]
    for (const [alg, reason] of [
      ['none', 'the JWS algorithm "none" is not accepted'],
      ['HS256', 'the JWS algorithm "HS256" is not accepted'],
    ]) {
      const forged = { format: 'jws', signature: `${header({ alg, kid })}.${body}.${sig}` }
      expect(await offerReceipt({ trust }).checkOffer(challenge([entry()], [forged]))).toMatchObject({
        verified: false,
        reason,
      })
    }
    const otherKey = jwsKey('EdDSA').jwk
    const swapped = { format: 'jws', signature: `${header({ alg: 'EdDSA', kid, jwk: otherKey })}.${body}.${sig}` }
    expect(await offerReceipt({ trust }).checkOffer(challenge([entry()], [swapped]))).toMatchObject({
      verified: false,
      reason: 'the JWS jwk is not the key its kid names',
    })
  })

  test('error: unknown options are INVALID_OPTIONS', () => {
    expect(() => offerReceipt({ offers: 'maybe' as 'verify' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    )
    expect(() => offerReceipt({ maxReceiptAgeSeconds: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    )
  })

  test('error: an EIP-712 offer for a non-EVM network or payTo is malformed (spec 3.1.1), whatever its signature', async () => {
    const signed = await eip712Offer()
    const solana = { ...signed, payload: { ...signed.payload, network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp' } }
    const check = await offerReceipt().checkOffer(challenge([entry()], [solana]))
    expect(check?.reason).toContain('offers[0]: an EIP-712 offer names an eip155 network and an EVM payTo')
  })

  test('error: malformed signed offers are ignored with a reason, never thrown', async () => {
    const check = await offerReceipt({ offers: 'require' }).checkOffer(
      challenge([entry()], [{ format: 'eip712', signature: '0x12' }, { format: 'jws', signature: 'a.b' }, 7]),
    )
    expect(check).toEqual({
      verified: false,
      refuse: true,
      reason:
        'offers[0]: the signature is not 65 bytes of hex; offers[1]: the signature is not a JWS compact string; offers[2]: not an object; no signed offer names these terms',
    })
  })
})

describe('offerReceipt: signed receipts', () => {
  const paid = (overrides: Partial<Receipt> = {}): Receipt => ({
    protocol: 'x402',
    network: 'eip155:8453',
    asset: usdc,
    amount: 10_000n,
    payTo: server.address,
    payer,
    reference: `0x${'ab'.repeat(32)}`,
    url: resource,
    time: now,
    ...overrides,
  })
  const check = (terms: SignedTerms, receipt: unknown, overrides: Partial<Receipt> = {}) =>
    terms.checkReceipt({
      resource: challenge([entry()], undefined).offer.resource,
      receipt: paid(overrides),
      extensions: { 'offer-receipt': { info: { receipt } } },
      fetch: globalThis.fetch,
    })

  test('behavior: an EIP-712 receipt from the payTo key for this payment verifies; none is undefined', async () => {
    const receipt = await createReceiptEIP712(
      { resourceUrl: resource, payer, network: 'eip155:8453' },
      typedDataSigner(server),
    )
    expect(await check(offerReceipt(), receipt)).toEqual({ receipt: true, signer: server.address })
    expect(
      await offerReceipt().checkReceipt({
        resource: challenge([entry()], undefined).offer.resource,
        receipt: paid(),
        extensions: {},
        fetch,
      }),
    ).toBeUndefined()
  })

  test('behavior: the offer check made before paying joins the receipt check: what verified, who signed, why not', async () => {
    const receipt = await createReceiptEIP712(
      { resourceUrl: resource, payer, network: 'eip155:8453' },
      typedDataSigner(server),
    )
    const verified = await offerReceipt().checkReceipt({
      resource: challenge([entry()], undefined).offer.resource,
      offerCheck: { verified: false, reason: 'the signed payTo differs' },
      receipt: paid(),
      extensions: { 'offer-receipt': { info: { receipt } } },
      fetch,
    })
    expect(verified).toEqual({
      offer: false,
      receipt: true,
      signer: server.address,
      problems: ['the signed payTo differs'],
    })
    const offerOnly = await offerReceipt().checkReceipt({
      resource: challenge([entry()], undefined).offer.resource,
      offerCheck: { verified: true, signer: server.address },
      receipt: paid(),
      extensions: undefined,
      fetch,
    })
    expect(offerOnly).toEqual({ offer: true, signer: server.address })
  })

  test('policy: the payer this call signed as wins over the payer the server reported', async () => {
    const receipt = await createReceiptEIP712(
      { resourceUrl: resource, payer: stranger.address, network: 'eip155:8453' },
      typedDataSigner(server),
    )
    // The server's report and its signed receipt agree on a payer that is not this call's.
    const verified = await offerReceipt().checkReceipt({
      resource: challenge([entry()], undefined).offer.resource,
      receipt: paid({ payer: stranger.address }),
      payer,
      extensions: { 'offer-receipt': { info: { receipt } } },
      fetch,
    })
    expect(verified).toEqual({ receipt: false, problems: ['the signed receipt names another payer'] })
  })

  test('policy: a receipt naming another payer, network, transaction or an old time is flagged', async () => {
    const sign = (fields: { payer?: string; network?: string; transaction?: string }) =>
      createReceiptEIP712({ resourceUrl: resource, payer, network: 'eip155:8453', ...fields }, typedDataSigner(server))
    expect(await check(offerReceipt(), await sign({ payer: stranger.address }))).toEqual({
      receipt: false,
      problems: ['the signed receipt names another payer'],
    })
    expect(await check(offerReceipt(), await sign({ network: 'eip155:1' }))).toMatchObject({ receipt: false })
    expect(await check(offerReceipt(), await sign({ transaction: `0x${'cd'.repeat(32)}` }))).toEqual({
      receipt: false,
      problems: ['the signed receipt names another transaction'],
    })
    const old = await sign({})
    vi.setSystemTime(now + 301_000)
    expect(await check(offerReceipt(), old)).toEqual({ receipt: false, problems: ['the signed receipt is not recent'] })
    expect(await check(offerReceipt({ maxReceiptAgeSeconds: 600 }), old)).toMatchObject({ receipt: true })
  })

  test('error: a tampered receipt or one signed by a stranger is flagged, never trusted', async () => {
    const receipt = await createReceiptEIP712(
      { resourceUrl: resource, payer, network: 'eip155:8453' },
      typedDataSigner(server),
    )
    const tampered = { ...receipt, payload: { ...receipt.payload, issuedAt: receipt.payload.issuedAt - 1 } }
    expect(await check(offerReceipt(), tampered)).toMatchObject({
      receipt: false,
      problems: [expect.stringContaining('not authorized')],
    })
    const strangers = await createReceiptEIP712(
      { resourceUrl: resource, payer, network: 'eip155:8453' },
      typedDataSigner(stranger),
    )
    expect(await check(offerReceipt(), strangers)).toMatchObject({ receipt: false })
    expect(await check(offerReceipt(), { format: 'jws', signature: 'x.y.z' })).toEqual({
      receipt: false,
      problems: ['the signed receipt is malformed: the JWS header is not JSON'],
    })
  })

  test('behavior: a JWS receipt (reference signer) verifies by its did:jwk key when that key id is trusted', async () => {
    const key = jwsKey('ES256')
    const kid = `${didJwk(key.jwk)}#0`
    const receipt = await createReceiptJWS({ resourceUrl: resource, payer, network: 'eip155:8453' }, key.signer(kid))
    expect(await check(offerReceipt({ trust: [kid] }), receipt)).toEqual({ receipt: true, signer: kid })
  })
})

describe('offerReceipt: did:web', () => {
  let origin: string
  let stop: () => Promise<void>
  const requests: string[] = []
  let document: unknown
  const key = jwsKey('EdDSA')

  beforeAll(async () => {
    const web = createServer((request, response) => {
      requests.push(request.url ?? '')
      if (request.url === '/slow/did.json') return // never answers
      if (request.url === '/big/did.json') return void response.end(JSON.stringify({ padding: 'x'.repeat(20_000) }))
      response.setHeader('content-type', 'application/json').end(JSON.stringify(document))
    })
    origin = await listen(web)
    stop = () => close(web)
  })
  afterAll(() => stop())

  const webChallenge = async (kid: string, url: string) => {
    const host = new URL(url).host
    const accept = entry()
    const signed = await createOfferJWS(`http://${host}/report`, input(accept), key.signer(kid))
    const extensions = { 'offer-receipt': { info: { offers: [signed as SignedOffer] } } }
    const resourceUrl = `http://${host}/report`
    const decoded = decodeX402Message(
      { x402Version: 2, resource: { url: resourceUrl }, accepts: [accept], extensions },
      url,
    )
    return { offer: decoded[0] as Offer, extensions, accepts: [accept], url, fetch: globalThis.fetch }
  }

  test('behavior: a did:web key published by the 402 origin at /.well-known/did.json verifies, fetched once from that origin', async () => {
    const did = `did:web:${encodeURIComponent(new URL(origin).host)}`
    document = {
      id: did,
      verificationMethod: [{ id: `${did}#key-1`, type: 'JsonWebKey2020', controller: did, publicKeyJwk: key.jwk }],
    }
    requests.length = 0
    const terms = offerReceipt({ didWeb: true })
    const first = await terms.checkOffer(await webChallenge(`${did}#key-1`, `${origin}/report`))
    const second = await terms.checkOffer(await webChallenge(`${did}#key-1`, `${origin}/report`))
    expect([first, second]).toEqual([
      { verified: true, signer: `${did}#key-1` },
      { verified: true, signer: `${did}#key-1` },
    ])
    expect(requests).toEqual(['/.well-known/did.json'])
    // Off by default: nothing is fetched and the key is not known.
    requests.length = 0
    expect(await offerReceipt().checkOffer(await webChallenge(`${did}#key-1`, `${origin}/report`))).toMatchObject({
      verified: false,
      reason: expect.stringContaining('cannot be resolved'),
    })
    expect(requests).toEqual([])
  })

  test('policy: a did:web of another host is never fetched; a key the document does not list is not verified', async () => {
    requests.length = 0
    const elsewhere = await offerReceipt({ didWeb: true }).checkOffer(
      await webChallenge('did:web:attacker.example#key-1', `${origin}/report`),
    )
    expect(elsewhere).toMatchObject({ verified: false })
    const did = `did:web:${encodeURIComponent(new URL(origin).host)}`
    document = { id: did, verificationMethod: [{ id: `${did}#key-1`, publicKeyJwk: jwsKey('EdDSA').jwk }] }
    const rotated = await offerReceipt({ didWeb: true }).checkOffer(
      await webChallenge(`${did}#key-1`, `${origin}/report`),
    )
    expect(rotated).toMatchObject({ verified: false, reason: 'the JWS signature does not verify' })
    expect(requests).toEqual(['/.well-known/did.json'])
  })

  test('error: an oversized DID document or one that never answers is bounded (size, time): not verified', async () => {
    const host = encodeURIComponent(new URL(origin).host)
    const big = await offerReceipt({ didWeb: true }).checkOffer(
      await webChallenge(`did:web:${host}:big#k`, `${origin}/r`),
    )
    expect(big).toMatchObject({ verified: false, reason: 'did:web: the DID document is too large or too slow' })
    const slow = await offerReceipt({ didWeb: { timeoutMs: 200 } }).checkOffer(
      await webChallenge(`did:web:${host}:slow#k`, `${origin}/r`),
    )
    expect(slow).toMatchObject({ verified: false, reason: expect.stringContaining('did:web:') })
  })
})
