import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, type PayfetchEvent } from '../../src/index.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// What a page sees of another origin's answer: status, body, the CORS-safelisted response headers
// and those the server lists in Access-Control-Expose-Headers, with `type: 'cors'`. The Chromium
// tests (test/e2e/browser-cors.test.ts) show the same against real servers; this keeps the rules
// in the quick unit run.
const safelisted = [
  'cache-control',
  'content-language',
  'content-length',
  'content-type',
  'expires',
  'last-modified',
  'pragma',
]

function corsFetch(exposed: readonly string[]): typeof fetch {
  const visible = new Set([...safelisted, ...exposed.map((name) => name.toLowerCase())])
  return async (input, init) => {
    const response = await fetch(input, init)
    const headers = new Headers([...response.headers].filter(([name]) => visible.has(name)))
    const filtered = new Response(response.body, { status: response.status, statusText: response.statusText, headers })
    Object.defineProperties(filtered, { type: { value: 'cors' }, url: { value: response.url } })
    return filtered
  }
}

const signers = [evm({ account: privateKeyToAccount(generatePrivateKey()) })]
let merchant: Merchant

beforeAll(async () => {
  merchant = await startMerchant({
    '/article': (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('the article')),
  })
})
afterAll(() => merchant?.close())

describe('a page paying another origin', () => {
  test('error: a cross-origin 402 whose challenge header is not exposed is CHALLENGE_INVALID naming Access-Control-Expose-Headers; nothing is paid', async () => {
    const fetchPaid = createPayingFetch({ signers, fetch: corsFetch([]) })
    const before = merchant.settled.length
    const error = await fetchPaid(`${merchant.url}/article`).catch((caught: unknown) => caught)
    expect(error).toMatchInlineSnapshot(
      `[PayfetchError: [CHALLENGE_INVALID] The server answered 402 to a cross-origin request without a payment challenge this page can read: it must list PAYMENT-REQUIRED and WWW-Authenticate in Access-Control-Expose-Headers.]`,
    )
    expect(error).toMatchObject({ details: { exposeHeaders: 'PAYMENT-REQUIRED, WWW-Authenticate' } })
    await expect(
      createPayingFetch({ signers, fetch: corsFetch([]) }).quote(`${merchant.url}/article`),
    ).rejects.toMatchObject({
      code: 'CHALLENGE_INVALID',
      details: { exposeHeaders: 'PAYMENT-REQUIRED, WWW-Authenticate' },
    })
    expect(merchant.settled.length).toBe(before)
  })

  test('behavior: a paid answer whose PAYMENT-RESPONSE is not exposed gives a receipt saying settlement is not visible, with no reference', async () => {
    const events: PayfetchEvent[] = []
    const fetchPaid = createPayingFetch({
      signers,
      fetch: corsFetch(['PAYMENT-REQUIRED']),
      onEvent: (event) => void events.push(event),
    })
    const response = await fetchPaid(`${merchant.url}/article`)
    expect([response.status, await response.text()]).toEqual([200, 'the article'])
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({ protocol: 'x402', amount: 10_000n, settlement: 'not-visible' })
    expect(receipt?.reference).toBeUndefined()
    expect(events.find((event) => event.type === 'receipt')).toMatchObject({ receipt: { settlement: 'not-visible' } })
    // The budget counts it: the answer was a success.
    expect((await fetchPaid.spendReport()).totals).toMatchObject([{ spent: 10_000n, unknown: 0n }])
  })

  test('behavior: with PAYMENT-RESPONSE exposed, the receipt has the reported reference and no settlement field', async () => {
    const fetchPaid = createPayingFetch({ signers, fetch: corsFetch(['PAYMENT-REQUIRED', 'PAYMENT-RESPONSE']) })
    const receipt = getReceipt(await fetchPaid(`${merchant.url}/article`))
    expect(receipt?.reference).toMatch(/^0x[0-9a-f]{64}$/)
    expect(receipt && 'settlement' in receipt).toBe(false)
  })

  test('behavior: the same answers read same-origin (type basic) keep the old meaning: no report is no report', async () => {
    const sameOrigin: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      const headers = new Headers([...response.headers].filter(([name]) => name !== 'payment-response'))
      return new Response(response.body, { status: response.status, headers })
    }
    const receipt = getReceipt(await createPayingFetch({ signers, fetch: sameOrigin })(`${merchant.url}/article`))
    expect(receipt && 'settlement' in receipt).toBe(false)
  })
})
