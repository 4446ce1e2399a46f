import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { decodeBase64Json, encodeBase64Json } from '../../examples/local-stack/http.js'
import { type OfferReceiptServer, startOfferReceiptServer } from '../../examples/local-stack/offerReceiptServer.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, PayfetchError, type PayfetchEvent, type SignedTerms } from '../../src/index.js'
import { offerReceipt } from '../../src/offerReceipt/index.js'
import { createPayfetchTools } from '../../src/tools/index.js'
import { type InterceptingProxy, startInterceptingProxy } from '../support/interceptingProxy.js'

// Signed offers and receipts against the x402 reference server (@x402/express) with the reference
// offer-receipt extension and its EIP-712 and JWS issuers, settling through the local facilitator on anvil.
let stack: EvmStack
let signing: OfferReceiptServer // EIP-712, signed by its payTo key
let web: OfferReceiptServer // JWS EdDSA, key published at its /.well-known/did.json
const proxies: InterceptingProxy[] = []

beforeAll(async () => {
  stack = await startEvmStack({ v1Routes: [] })
  const common = { facilitatorUrl: stack.facilitatorUrl, token: stack.usdc, payTo: stack.payTo }
  ;[signing, web] = await Promise.all([
    startOfferReceiptServer({ ...common, format: 'eip712' }),
    startOfferReceiptServer({ ...common, format: 'jws' }),
  ])
})

afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.close()))
  await Promise.all([signing?.close(), web?.close()])
  await stack?.stop()
})

/** The PayfetchError a call rejects with; fails the test when it resolves. */
async function thrown(call: Promise<unknown>): Promise<PayfetchError> {
  const error = await call.then(
    () => new Error('expected the call to fail'),
    (error: unknown) => error,
  )
  if (!(error instanceof PayfetchError)) throw error
  return error
}

type Message = { accepts: [{ payTo: string; amount: string }] }
type Report = { extensions: { 'offer-receipt': { info: { receipt: { payload: { issuedAt: number } } } } } }

/** A funded payer and a paying fetch for it that records what it sends and reports. */
async function payer(signedTerms: SignedTerms, { loseFirstProof = false } = {}) {
  const account = stack.newAccount()
  await stack.mint(stack.usdc, account.address, 1_000_000n)
  const events: PayfetchEvent[] = []
  const proofs: string[] = []
  let lose = loseFirstProof
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    if (request.headers.has('payment-signature')) {
      // A connection reset as the proof goes out: payfetch cannot know whether it arrived.
      if (lose) {
        lose = false
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        })
      }
      proofs.push(request.url)
    }
    return fetch(request)
  }
  const fetchPaid = createPayingFetch({
    signers: [evm({ account })],
    signedTerms,
    fetch: recording,
    onEvent: (event) => void events.push(event),
  })
  const balance = () => stack.balanceOf(stack.usdc, account.address)
  return { account, events, proofs, fetchPaid, balance }
}

/** A proxy in front of `target` that rewrites the x402 headers it passes back. */
async function proxyRewriting(
  target: string,
  rewrite: { required?: (message: Message) => void; response?: (report: Report) => void },
): Promise<InterceptingProxy> {
  const proxy = await startInterceptingProxy(target, {
    rewriteHeaders(_request, headers) {
      const edit = <T>(name: string, change: ((value: T) => void) | undefined) => {
        if (!change || headers[name] === undefined) return
        const value = decodeBase64Json(headers[name]) as T
        change(value)
        headers[name] = encodeBase64Json(value)
      }
      edit('payment-required', rewrite.required)
      edit('payment-response', rewrite.response)
      return headers
    },
  })
  proxies.push(proxy)
  return proxy
}

describe('x402 offer-receipt on a local chain', () => {
  test('behavior: a paid call to an EIP-712 signing server: offer and receipt verified, signed by its payTo key', async () => {
    const { account, events, fetchPaid, balance } = await payer(offerReceipt({ offers: 'require' }))
    const response = await fetchPaid(`${signing.url}/report`)
    expect([response.status, await response.json()]).toEqual([200, { report: 'quarterly' }])
    expect(await balance()).toBe(1_000_000n - 10_000n)
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({ amount: 10_000n, payer: account.address, payTo: signing.payTo })
    expect(receipt?.verified).toEqual({ offer: true, receipt: true, signer: signing.payTo })
    expect(events.find((event) => event.type === 'offer.chosen')).toMatchObject({
      signed: { verified: true, signer: signing.payTo },
    })
  })

  test('behavior: a paid call to a JWS (EdDSA) server whose key is at its own /.well-known/did.json: verified, the document fetched once', async () => {
    const { fetchPaid } = await payer(offerReceipt({ offers: 'require', didWeb: true }))
    const before = web.requests.filter((path) => path === '/.well-known/did.json').length
    const first = await fetchPaid(`${web.url}/report`)
    const second = await fetchPaid(`${web.url}/report`)
    expect([first.status, second.status]).toEqual([200, 200])
    expect(getReceipt(first)?.verified).toEqual({ offer: true, receipt: true, signer: web.kid })
    expect(getReceipt(second)?.verified).toEqual({ offer: true, receipt: true, signer: web.kid })
    expect(web.requests.filter((path) => path === '/.well-known/did.json').length - before).toBe(1)
  })

  test('policy: required, a did:web signer is not trusted without its DID document (didWeb off): refused before signing, nothing spent', async () => {
    const { fetchPaid, proofs, balance } = await payer(offerReceipt({ offers: 'require' }))
    const error = await thrown(fetchPaid(`${web.url}/report`))
    expect(error).toMatchObject({ code: 'OFFER_UNVERIFIED' })
    expect(proofs).toEqual([])
    expect(await balance()).toBe(1_000_000n)
    expect((await fetchPaid.spendReport()).totals).toEqual([])
  })

  test('policy: a 402 rewritten on the way (another payTo, another amount) is refused before signing when required: OFFER_UNVERIFIED, nothing reserved or spent', async () => {
    const attacker = stack.newAccount().address
    for (const rewrite of [
      (message: Message) => void (message.accepts[0].payTo = attacker),
      (message: Message) => void (message.accepts[0].amount = '20000'),
    ]) {
      const proxy = await proxyRewriting(signing.url, { required: rewrite })
      const { fetchPaid, proofs, balance, events } = await payer(offerReceipt({ offers: 'require' }))
      const error = await thrown(fetchPaid(`${proxy.url}/report`))
      expect(error).toMatchObject({ code: 'OFFER_UNVERIFIED' })
      expect(error.message).toMatch(/the signed (payTo|amount) .* is not the 402's/)
      expect(proofs).toEqual([])
      expect(proxy.seen.some((request) => request.headers['payment-signature'] !== undefined)).toBe(false)
      expect(await balance()).toBe(1_000_000n)
      expect((await fetchPaid.spendReport()).totals).toEqual([])
      expect(events.map((event) => event.type)).toEqual(['challenge', 'refusal'])
    }
  })

  test('policy: not required, the rewritten 402 is reported (offer.chosen says why the signed offer did not verify)', async () => {
    const attacker = stack.newAccount().address
    const proxy = await proxyRewriting(signing.url, {
      required: (message) => void (message.accepts[0].payTo = attacker),
    })
    const { fetchPaid, events, balance } = await payer(offerReceipt())
    const error = await thrown(fetchPaid(`${proxy.url}/report`))
    expect(events.find((event) => event.type === 'offer.chosen')).toMatchObject({
      signed: {
        verified: false,
        refuse: false,
        reason: expect.stringContaining(`the signed payTo "${signing.payTo}"`),
      },
    })
    // The reference server does not know the rewritten terms: it refuses the proof and nothing settles.
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED' })
    expect(await balance()).toBe(1_000_000n)
  })

  test("behavior: quote() shows each offer's signed-offer check before anything is paid, a rewritten one unverified", async () => {
    const { fetchPaid, proofs } = await payer(offerReceipt())
    const quoted = await fetchPaid.quote(`${signing.url}/report`)
    expect(quoted.offers[0]?.signed).toEqual({ verified: true, signer: signing.payTo })
    const proxy = await proxyRewriting(signing.url, {
      required: (message) => void (message.accepts[0].payTo = stack.newAccount().address),
    })
    const rewritten = await fetchPaid.quote(`${proxy.url}/report`)
    expect(rewritten.offers[0]?.signed).toMatchObject({
      verified: false,
      reason: expect.stringContaining('the signed payTo'),
    })
    expect(proofs).toEqual([])
    const tools = createPayfetchTools({
      payfetch: { signers: [evm({ account: stack.newAccount() })], signedTerms: offerReceipt() },
    })
    expect(await tools.get('quote_fetch')?.run({ url: `${signing.url}/report` })).toMatchObject({
      ok: true,
      output: { offers: [{ payable: true, signed_offer: { verified: true, signer: signing.payTo } }] },
    })
  })

  test('behavior: a payment resumed after its answer was lost has its signed receipt checked too', async () => {
    const { account, fetchPaid, proofs, balance } = await payer(offerReceipt(), { loseFirstProof: true })
    expect(await thrown(fetchPaid(`${signing.url}/report`))).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN' })
    expect(proofs).toEqual([])
    const [pending] = await fetchPaid.pendingPayments()
    const response = await fetchPaid.resume(pending as NonNullable<typeof pending>)
    expect([response.status, await response.json()]).toEqual([200, { report: 'quarterly' }])
    expect(await balance()).toBe(1_000_000n - 10_000n)
    expect(getReceipt(response)).toMatchObject({ amount: 10_000n, payer: account.address })
    // No offer check on a resume (its 402 is long gone): the signed receipt alone.
    expect(getReceipt(response)?.verified).toEqual({ receipt: true, signer: signing.payTo })
  })

  test('error: a tampered signed receipt is flagged, never trusted; the paid answer is still returned', async () => {
    const proxy = await proxyRewriting(signing.url, {
      response: (report) => void (report.extensions['offer-receipt'].info.receipt.payload.issuedAt -= 1),
    })
    const { fetchPaid, balance } = await payer(offerReceipt({ offers: 'require' }))
    const response = await fetchPaid(`${proxy.url}/report`)
    expect([response.status, await response.json()]).toEqual([200, { report: 'quarterly' }])
    expect(await balance()).toBe(1_000_000n - 10_000n)
    const verified = getReceipt(response)?.verified
    expect(verified).toMatchObject({ offer: true, receipt: false, signer: signing.payTo })
    expect(verified?.problems).toEqual([expect.stringContaining('is not authorized to sign for')])
  })

  test('behavior: an unsigned server is paid as before: no verified field; required, it is refused with nothing spent', async () => {
    const { fetchPaid } = await payer(offerReceipt())
    const response = await fetchPaid(`${signing.url}/unsigned`)
    expect([response.status, await response.json()]).toEqual([200, { report: 'unsigned' }])
    expect(getReceipt(response)).toMatchObject({ amount: 10_000n })
    expect(getReceipt(response)?.verified).toBeUndefined()
    const strict = await payer(offerReceipt({ offers: 'require' }))
    expect(await thrown(strict.fetchPaid(`${signing.url}/unsigned`))).toMatchObject({
      code: 'OFFER_UNVERIFIED',
      shortMessage: 'Signed offer not verified: the server signed no offer.',
    })
    expect(strict.proofs).toEqual([])
    expect(await strict.balance()).toBe(1_000_000n)
  })
})
