import type { ServerResponse } from 'node:http'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeBase64Json, encodeBase64Json } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, type PayfetchError, type PayfetchEvent, type PayingFetch } from '../../src/index.js'
import { type L402Merchant, startL402Merchant, tableWallet } from '../support/l402Merchant.js'
import { type Merchant, requirement, type Seen, startMerchant } from '../support/merchant.js'

// What payfetch reports (events, errors) and what it never lets out (proofs, signatures, keys).
const privateKey = generatePrivateKey()
const account = privateKeyToAccount(privateKey)

let merchant: Merchant
let lightning: L402Merchant

beforeAll(async () => {
  let lost = 0
  merchant = await startMerchant(
    {
      '/item': async (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.end('item')),
      '/pricey': async (request, response, self) =>
        self.charge(request, response, [requirement({ amount: '5000000' })], () => response.end('never')),
      '/lost-once': async (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.end('paid report'), {
          loseResponse: () => lost++ % 2 === 0,
        }),
      '/refuses': async (request, response, self) => {
        if (!request.headers['payment-signature']) return self.charge(request, response, [requirement()], () => {})
        // The refusal quotes the proof back, as a careless server might: payfetch must not pass it on.
        const proof = String(request.headers['payment-signature'])
        response.writeHead(402, {
          'payment-required': encodeBase64Json({
            x402Version: 2,
            error: `rejected ${proof.slice(0, 64)}`,
            accepts: [requirement()],
          }),
          'payment-response': encodeBase64Json({
            success: false,
            errorReason: 'insufficient_funds',
            transaction: '',
            network: 'eip155:84532',
          }),
        })
        response.end(JSON.stringify({ proof }))
      },
      // No settlement header: the reason comes from the challenge's error, which quotes the signature.
      '/refuses-quoting': async (request, response, self) => {
        const header = request.headers['payment-signature']
        if (!header) return self.charge(request, response, [requirement()], () => {})
        const { signature } = (decodeBase64Json(String(header)) as { payload: { signature: string } }).payload
        response.writeHead(402, {
          'payment-required': encodeBase64Json({
            x402Version: 2,
            error: `invalid signature ${signature}`,
            accepts: [requirement()],
          }),
        })
        response.end('{}')
      },
      // Loses the first proof; refuses the resumed one quoting its signature.
      '/lost-then-quoting': (() => {
        let proofs = 0
        return async (request: Seen, response: ServerResponse, self: Merchant) => {
          const header = request.headers['payment-signature']
          if (!header) return self.charge(request, response, [requirement()], () => {})
          if (proofs++ % 2 === 0) return void response.socket?.destroy()
          const { signature } = (decodeBase64Json(String(header)) as { payload: { signature: string } }).payload
          response.writeHead(402, {
            'payment-required': encodeBase64Json({
              x402Version: 2,
              error: `bad ${signature.slice(2).toUpperCase()}`,
              accepts: [requirement()],
            }),
          })
          response.end('{}')
        }
      })(),
      // Fails the first proof with a 500 and no settlement report; settles the same proof sent again.
      '/fails-once': (() => {
        let proofs = 0
        return async (request: Seen, response: ServerResponse, self: Merchant) => {
          if (request.headers['payment-signature'] && proofs++ === 0)
            return void response.writeHead(500, { 'content-type': 'text/plain' }).end('database down')
          return self.charge(request, response, [requirement()], () => response.end('paid at last'))
        }
      })(),
      '/redirects': async (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.writeHead(302, { location: '/item' }).end()),
      '/garbage': (_request, response) => void response.writeHead(402, { 'payment-required': 'not base64!' }).end(),
    },
    { paymentIdentifier: { required: false } },
  )
  lightning = await startL402Merchant(10)
})

afterAll(async () => {
  await Promise.all([merchant.close(), lightning.close()])
})

const failure = (call: Promise<unknown>) =>
  call.then(
    () => expect.unreachable('the call should have failed'),
    (error: unknown) => error as PayfetchError,
  )

function recorded(options: Partial<Parameters<typeof createPayingFetch>[0]> = {}): {
  fetchPaid: PayingFetch
  events: PayfetchEvent[]
} {
  const events: PayfetchEvent[] = []
  const fetchPaid = createPayingFetch({
    signers: [evm({ account })],
    ...options,
    onEvent: (event) => events.push(event),
  })
  return { fetchPaid, events }
}

describe('events', () => {
  test('behavior: a paid call reports challenge → offer.chosen → payment.sent → receipt, with what each step knew', async () => {
    const { fetchPaid, events } = recorded()
    await fetchPaid(`${merchant.url}/item`)
    const replay = merchant.seen.filter((entry) => entry.path === '/item').at(-1)
    expect(events).toMatchObject([
      { type: 'challenge', url: `${merchant.url}/item`, offers: [{ protocol: 'x402', amount: 10_000n }] },
      { type: 'offer.chosen', url: `${merchant.url}/item`, signer: 'evm', offer: { amount: 10_000n } },
      { type: 'payment.sent', url: `${merchant.url}/item`, idempotencyKey: replay?.headers['idempotency-key'] },
      {
        type: 'receipt',
        receipt: {
          protocol: 'x402',
          amount: 10_000n,
          url: `${merchant.url}/item`,
          reference: expect.stringMatching(/^0x/),
        },
      },
    ])
  })

  test('behavior: refusals by caps, budgets, hosts and approval report refusal, and no payment event', async () => {
    const cases: [PayingFetch, PayfetchEvent[], string, string[]][] = []
    const add = (options: Partial<Parameters<typeof createPayingFetch>[0]>, path: string, expected: string[]) => {
      const { fetchPaid, events } = recorded(options)
      cases.push([fetchPaid, events, path, expected])
    }
    add({}, '/pricey', ['challenge', 'refusal'])
    add({ caps: { budgets: [{ usd: '0.001' }] } }, '/item', ['challenge', 'refusal'])
    add({ approve: () => false }, '/item', ['challenge', 'refusal'])
    // A host refusal happens before the offers are judged: no challenge event.
    add({ caps: { hosts: { deny: ['127.0.0.1'] } } }, '/item', ['refusal'])
    for (const [fetchPaid, events, path, expected] of cases) {
      const error = await failure(fetchPaid(`${merchant.url}${path}`))
      expect(events.map((event) => event.type)).toEqual(expected)
      expect(events.at(-1)).toMatchObject({ type: 'refusal', error: { code: error.code } })
    }
  })

  test('behavior: an unknown outcome and a rejected proof report payment.failed; a resumed payment reports its receipt', async () => {
    const unknown = recorded()
    const error = await failure(unknown.fetchPaid(`${merchant.url}/lost-once`))
    expect(unknown.events.map((event) => event.type)).toEqual([
      'challenge',
      'offer.chosen',
      'payment.sent',
      'payment.failed',
    ])
    expect(unknown.events.at(-1)).toMatchObject({ error: { code: 'PAYMENT_OUTCOME_UNKNOWN' } })
    await (error.resume as () => Promise<Response>)()
    expect(unknown.events.at(-1)).toMatchObject({ type: 'receipt', receipt: { url: `${merchant.url}/lost-once` } })

    const rejected = recorded()
    await failure(rejected.fetchPaid(`${merchant.url}/refuses`))
    expect(rejected.events.map((event) => event.type)).toEqual([
      'challenge',
      'offer.chosen',
      'payment.sent',
      'payment.failed',
    ])
    expect(rejected.events.at(-1)).toMatchObject({ error: { code: 'PAYMENT_REJECTED' } })
  })
})

describe('an answer that neither settles nor refuses', () => {
  test('behavior: a 500 after the proof is returned, reported as payment.failed PAYMENT_OUTCOME_UNKNOWN with the pending id, and resumed without paying again', async () => {
    const { fetchPaid, events } = recorded()
    const response = await fetchPaid(`${merchant.url}/fails-once`)
    expect(response.status).toBe(500)
    expect(await response.text()).toBe('database down')
    expect(events.map((event) => event.type)).toEqual(['challenge', 'offer.chosen', 'payment.sent', 'payment.failed'])
    const [pending] = await fetchPaid.pendingPayments()
    const failed = events.at(-1) as Extract<PayfetchEvent, { type: 'payment.failed' }>
    expect(failed.error).toMatchObject({
      code: 'PAYMENT_OUTCOME_UNKNOWN',
      details: { status: 500, pendingId: pending?.id, url: `${merchant.url}/fails-once` },
    })
    expect((await fetchPaid.spendReport()).totals[0]).toMatchObject({ spent: 0n, unknown: 10_000n })

    const resumed = await (failed.error.resume as () => Promise<Response>)()
    expect(await resumed.text()).toBe('paid at last')
    const proofs = merchant.seen.filter((entry) => entry.path === '/fails-once' && entry.headers['payment-signature'])
    expect(proofs).toHaveLength(2)
    expect(proofs[1]?.headers['payment-signature']).toBe(proofs[0]?.headers['payment-signature'])
    expect(await fetchPaid.pendingPayments()).toEqual([])
    expect((await fetchPaid.spendReport()).totals[0]).toMatchObject({ spent: 10_000n, unknown: 0n })
  })
})

/** Everything reachable from a value, as JSON: bigints as strings, errors with message, stack, cause and every own property. */
function dump(value: unknown, seen = new WeakSet<object>(), depth = 0): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'function') return `[function ${value.name}]`
  if (value === null || typeof value !== 'object') return value
  if (seen.has(value) || depth > 12) return '[seen]'
  seen.add(value)
  if (value instanceof Headers) return [...value]
  if (Array.isArray(value)) return value.map((item) => dump(item, seen, depth + 1))
  const out: Record<string, unknown> = {}
  if (value instanceof Error) Object.assign(out, { string: String(value), message: value.message, stack: value.stack })
  for (const key of Object.getOwnPropertyNames(value))
    out[key] = dump((value as Record<string, unknown>)[key], seen, depth + 1)
  return out
}

describe('secrets', () => {
  test('policy: no proof header, signature, preimage or private key appears in any event or error of a run', async () => {
    const events: PayfetchEvent[] = []
    const errors: unknown[] = []
    const onEvent = (event: PayfetchEvent) => events.push(event)
    const wallet = tableWallet(lightning)
    const fetchPaid = createPayingFetch({
      signers: [evm({ account }), wallet],
      onEvent,
      caps: { rates: () => '100000' },
    })
    const attempt = async (call: Promise<Response>) => {
      try {
        await (await call).text()
      } catch (error) {
        errors.push(error)
        if (typeof (error as PayfetchError).resume === 'function')
          await attempt((error as PayfetchError).resume?.() as Promise<Response>)
      }
    }
    await attempt(fetchPaid(`${merchant.url}/item`))
    await attempt(fetchPaid(`${merchant.url}/item`, { headers: { 'idempotency-key': 'caller_key_0123456789' } }))
    await attempt(fetchPaid(`${merchant.url}/pricey`))
    await attempt(fetchPaid(`${merchant.url}/refuses`))
    await attempt(fetchPaid(`${merchant.url}/refuses-quoting`))
    await attempt(fetchPaid(`${merchant.url}/lost-once`))
    await attempt(fetchPaid(`${merchant.url}/lost-then-quoting`))
    await attempt(fetchPaid(`${merchant.url}/redirects`, { redirect: 'error' }))
    await attempt(fetchPaid(`${merchant.url}/garbage`))
    await attempt(fetchPaid(`${lightning.url}/report`))
    await attempt(
      createPayingFetch({ signers: [evm({ account })], onEvent, caps: { budgets: [{ usd: '0.001' }] } })(
        `${merchant.url}/item`,
      ),
    )
    await attempt(
      createPayingFetch({ signers: [evm({ account })], onEvent, approve: () => Promise.reject(new Error('no')) })(
        `${merchant.url}/item`,
      ),
    )
    const broken = evm({
      account: { address: account.address, signTypedData: () => Promise.reject(new Error('device locked')) },
    })
    await attempt(createPayingFetch({ signers: [broken], onEvent })(`${merchant.url}/item`))
    expect(new Set(errors.map((error) => (error as PayfetchError).code))).toEqual(
      new Set([
        'CAP_EXCEEDED',
        'PAYMENT_REJECTED',
        'PAYMENT_OUTCOME_UNKNOWN',
        'REDIRECT_REFUSED',
        'CHALLENGE_INVALID',
        'BUDGET_EXHAUSTED',
        'APPROVAL_DENIED',
        'PAYMENT_FAILED',
      ]),
    )

    const proofs = merchant.seen.flatMap((entry) =>
      typeof entry.headers['payment-signature'] === 'string' ? [entry.headers['payment-signature']] : [],
    )
    const signatures = proofs.map(
      (proof) => (decodeBase64Json(proof) as { payload: { signature: string } }).payload.signature,
    )
    const preimages = [...lightning.preimages.values()]
    expect(proofs.length).toBeGreaterThanOrEqual(6)
    expect(lightning.paid).toBe(1)
    const secrets = [
      privateKey,
      privateKey.slice(2),
      ...proofs,
      ...signatures,
      ...signatures.map((signature) => signature.slice(2)),
      ...preimages,
    ]

    const text = JSON.stringify(dump({ events, errors })).toLowerCase()
    expect(text.length).toBeGreaterThan(5_000)
    for (const secret of secrets)
      expect(text.includes(secret.toLowerCase()), `a secret of ${secret.length} characters leaked`).toBe(false)
    // The servers that quoted a signature in their refusal still had their reason reported, without it.
    expect(
      errors
        .map((error) => (error as PayfetchError).details.reason)
        .filter((reason) => String(reason).includes('[proof]')),
    ).toEqual(['invalid signature [proof]', 'bad [proof]'])
    // The detector works: the durable pending record (which must hold the proof) is caught by it.
    const control = createPayingFetch({ signers: [evm({ account })] })
    expect((await failure(control(`${merchant.url}/lost-once`))).code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    const pending = JSON.stringify(dump(await control.pendingPayments()))
    expect(
      merchant.seen.some(
        (entry) =>
          typeof entry.headers['payment-signature'] === 'string' &&
          pending.includes(entry.headers['payment-signature']),
      ),
    ).toBe(true)
  })
})
