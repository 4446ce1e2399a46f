import ky, { HTTPError } from 'ky'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, isPayfetchError } from '../../src/index.js'
import { payLimits, withPayments } from '../../src/ky/index.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// ky over a paying fetch against an x402 merchant that checks signatures: a paid answer of 503
// (with or without a settlement report) is what made ky pay three times for one GET.
let merchant: Merchant

beforeAll(async () => {
  merchant = await startMerchant({
    '/report': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"report":"all quiet"}'),
      ),
    '/settled-503': (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.writeHead(503).end('busy')),
    '/unreported-503': (request, response, self) =>
      self.charge(request, response, [requirement()], () => {
        response.removeHeader('payment-response')
        response.writeHead(503).end('busy')
      }),
    'POST /echo': (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end(request.body)),
  })
})

afterAll(async () => {
  await merchant?.close()
})

const payingFetch = () => createPayingFetch({ signers: [evm({ account: privateKeyToAccount(generatePrivateKey()) })] })
const instance = () => ky.create({ prefixUrl: merchant.url, retry: { limit: 2, backoffLimit: 0 } })
const proofsTo = (path: string) =>
  new Set(merchant.seen.filter((seen) => seen.path === path).map((seen) => seen.headers['payment-signature'])).size - 1

describe('payfetch/ky', () => {
  test('behavior: a GET pays once and the receipt is on the response; a POST body is replayed', async () => {
    const api = withPayments(instance(), payingFetch())
    const response = await api.get('report')
    expect(await response.json()).toEqual({ report: 'all quiet' })
    expect(getReceipt(response)).toMatchObject({ protocol: 'x402', amount: 10_000n })
    expect(await api.post('echo', { json: { a: 1 } }).text()).toBe('{"a":1}')
  })

  test('behavior: measured: without the guard, ky retrying a paid 503 pays three times', async () => {
    const before = merchant.settled.length
    const api = instance().extend({ fetch: payingFetch() })
    await expect(api.get('settled-503')).rejects.toBeInstanceOf(HTTPError)
    expect(merchant.settled.length - before).toBe(3)
  })

  test('policy: with the guard, a paid 503 is not retried: one payment', async () => {
    const before = merchant.settled.length
    const api = withPayments(instance(), payingFetch())
    const error = await api.get('settled-503').catch((reason: unknown) => reason)
    expect(error).toBeInstanceOf(HTTPError)
    expect(getReceipt((error as HTTPError).response)).toBeDefined()
    expect(merchant.settled.length - before).toBe(1)
  })

  test('policy: a paid 503 without a settlement report is retried with the same proof, never a new one', async () => {
    const before = merchant.settled.length
    const api = withPayments(instance(), payingFetch())
    const error = await api.get('unreported-503').catch((reason: unknown) => reason)
    // The retry resends the first proof under the same Idempotency-Key; the merchant refuses a reused one.
    expect(isPayfetchError(error) || error instanceof HTTPError).toBe(true)
    expect(merchant.settled.length - before).toBe(1)
    expect(proofsTo('/unreported-503')).toBe(1)
  })

  test('policy: payLimits lowers the limit of one request; nothing is paid over it and nothing is retried', async () => {
    const before = merchant.seen.length
    const api = withPayments(instance(), payingFetch())
    const error = await api.get('report', payLimits({ maxUsd: '0.001' })).catch((reason: unknown) => reason)
    expect(isPayfetchError(error, 'CAP_EXCEEDED')).toBe(true)
    expect(merchant.seen.length - before).toBe(1)
  })
})
