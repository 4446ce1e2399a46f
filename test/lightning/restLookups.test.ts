import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { close, listen } from '../../examples/local-stack/http.js'
import { coreLightning, type LightningWallet, lnbits, lnd, type PaymentStatus } from '../../src/lightning/index.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

// How each REST wallet reads a lookup answer, shape by shape, from a loopback server that sends the
// given status and body: only an explicit final failure is `failed`, only a settled payment with its
// preimage is `paid`; anything not found, unknown or off-shape is `pending`, never `failed`.
const preimage = randomBytes(32).toString('hex')
const paymentHash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex')
const otherHash = randomBytes(32).toString('hex')

let server: Server
let url: string
let answer: { status: number; body: string } = { status: 200, body: '' }

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume()
    response.writeHead(answer.status, { 'content-type': 'application/json' })
    response.end(answer.body)
  })
  url = await listen(server)
})

afterAll(async () => {
  await close(server)
})

type Case = readonly [name: string, status: number, body: unknown, expected: PaymentStatus['status'] | 'throws']

const json = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))
const line = (value: unknown) => `${json(value)}\n`

const wallets: { name: string; wallet: () => LightningWallet; cases: Case[] }[] = [
  {
    name: 'lnd',
    wallet: () => lnd({ url, macaroon: '0a0b' }),
    cases: [
      [
        'SUCCEEDED with the preimage',
        200,
        line({
          result: { payment_hash: paymentHash, status: 'SUCCEEDED', payment_preimage: preimage, fee_msat: '12' },
        }),
        'paid',
      ],
      ['FAILED', 200, line({ result: { payment_hash: paymentHash, status: 'FAILED' } }), 'failed'],
      ['IN_FLIGHT', 200, line({ result: { payment_hash: paymentHash, status: 'IN_FLIGHT' } }), 'pending'],
      ['INITIATED', 200, line({ result: { status: 'INITIATED' } }), 'pending'],
      [
        'a status lnd does not document',
        200,
        line({ result: { status: 'SETTLED', payment_preimage: preimage } }),
        'pending',
      ],
      ['SUCCEEDED without a preimage', 200, line({ result: { status: 'SUCCEEDED' } }), 'pending'],
      [
        'FAILED for another payment hash',
        200,
        line({ result: { payment_hash: otherHash, status: 'FAILED' } }),
        'pending',
      ],
      ['a line that is not JSON', 200, 'SUCCEEDED\n', 'pending'],
      ['an empty stream', 200, '', 'pending'],
      ['a result that is not an object', 200, line({ result: 'FAILED' }), 'pending'],
      ['NOT_FOUND as the HTTP answer', 404, { code: 5, message: "payment isn't initiated" }, 'pending'],
      ['NOT_FOUND in the stream', 200, line({ error: { code: 5, message: "payment isn't initiated" } }), 'pending'],
      ['another error in the stream', 200, line({ error: { code: 2, message: 'internal' } }), 'throws'],
      ['a refused macaroon', 500, { code: 2, message: 'verification failed' }, 'throws'],
    ],
  },
  {
    name: 'coreLightning',
    wallet: () => coreLightning({ url, rune: 'rune-value' }),
    cases: [
      [
        'one complete pay with its preimage',
        201,
        {
          pays: [
            { payment_hash: paymentHash, status: 'complete', preimage, amount_msat: 1000, amount_sent_msat: 1001 },
          ],
        },
        'paid',
      ],
      [
        'a failed pay then a complete one',
        201,
        {
          pays: [
            { payment_hash: paymentHash, status: 'failed' },
            { payment_hash: paymentHash, status: 'complete', preimage },
          ],
        },
        'paid',
      ],
      ['every pay failed', 201, { pays: [{ payment_hash: paymentHash, status: 'failed' }] }, 'failed'],
      [
        'a failed pay and a pending one',
        201,
        {
          pays: [
            { payment_hash: paymentHash, status: 'failed' },
            { payment_hash: paymentHash, status: 'pending' },
          ],
        },
        'pending',
      ],
      ['no pay at all', 201, { pays: [] }, 'pending'],
      ['complete without a preimage', 201, { pays: [{ payment_hash: paymentHash, status: 'complete' }] }, 'pending'],
      ['failed for another payment hash', 201, { pays: [{ payment_hash: otherHash, status: 'failed' }] }, 'pending'],
      [
        'a status listpays does not document',
        201,
        { pays: [{ payment_hash: paymentHash, status: 'lost' }] },
        'pending',
      ],
      ['pays that is not a list', 201, { pays: { payment_hash: paymentHash, status: 'failed' } }, 'pending'],
      ['a body that is not JSON', 201, 'complete', 'pending'],
      ['a refused rune', 401, { code: 1501, message: 'Not authorized' }, 'throws'],
    ],
  },
  {
    name: 'lnbits',
    wallet: () => lnbits({ url, adminKey: 'admin-key' }),
    cases: [
      ['paid with its preimage', 200, { paid: true, preimage, details: { status: 'success', fee: -2000 } }, 'paid'],
      ['failed', 200, { paid: false, status: 'failed', details: { status: 'failed' } }, 'failed'],
      ['failed in details only', 200, { paid: false, details: { status: 'failed', amount: -21000 } }, 'failed'],
      ['pending', 200, { paid: false, status: 'pending', preimage: null }, 'pending'],
      ['paid with a preimage of zeros', 200, { paid: true, preimage: '0'.repeat(64) }, 'pending'],
      ['paid and failed at once', 200, { paid: true, status: 'failed', preimage }, 'pending'],
      ['paid as text', 200, { paid: 'true', preimage }, 'pending'],
      [
        'an incoming payment of the same hash',
        200,
        { paid: true, preimage, details: { status: 'success', amount: 21000 } },
        'pending',
      ],
      [
        'failed for another payment hash',
        200,
        { paid: false, status: 'failed', details: { payment_hash: otherHash } },
        'pending',
      ],
      ['a body that is not JSON', 200, 'paid', 'pending'],
      ['not found', 404, { detail: 'Payment does not exist.' }, 'pending'],
      ['a refused key', 401, { detail: 'Invalid key' }, 'throws'],
    ],
  },
]

describe.each(wallets)('$name lookupPayment', ({ name, wallet, cases }) => {
  const labelled = cases.map(([answerName, status, body, expected]) => ({
    label: `${expected === 'paid' ? 'behavior' : 'error'}: ${answerName} (HTTP ${status}) is ${expected}`,
    status,
    body,
    expected,
  }))
  test.each(labelled)('$label', async ({ status, body, expected }) => {
    answer = { status, body: json(body) }
    const lookup = wallet().lookupPayment?.(paymentHash, { signal: AbortSignal.timeout(5000), timeoutSeconds: 4 })
    if (expected === 'throws') {
      const error = await failure(Promise.resolve(lookup))
      expect(error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { wallet: name, paymentHash } })
      return
    }
    const found = await lookup
    expect(found?.status).toBe(expected)
    if (found?.status === 'paid') expect(found.preimage).toBe(preimage)
  })
})
