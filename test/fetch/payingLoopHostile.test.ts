// Servers that lie, stall and redirect, stores that fail, callers that give up: every path keeps
// the money rules (nothing signed or counted that did not have to be, no secret echoed, no answer
// lost, no wait unbounded). Real servers on loopback; no timing races: waits are bounded by
// options set small here, and aborts are fired by the code under test's own hooks.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { close, decodeBase64Json, encodeBase64Json, listen } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import {
  createPayingFetch,
  getReceipt,
  type Ledger,
  memoryLedger,
  memorySessions,
  type PayfetchError,
  type PayfetchEvent,
  type SessionStore,
} from '../../src/index.js'
import { toToolFailure } from '../../src/tools/index.js'
import { countingSigner, wrapPayers } from '../support/countingSigner.js'
import { startL402Merchant, tableWallet } from '../support/l402Merchant.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

const account = privateKeyToAccount(generatePrivateKey())
let merchant: Merchant
let other: { url: string; seen: IncomingMessage['headers'][]; close(): Promise<void> }

type Route = Parameters<typeof startMerchant>[0][string]
const paidRoute =
  (body = 'paid'): Route =>
  async (request, response, self) =>
    self.charge(request, response, [requirement()], () => response.end(body))

beforeAll(async () => {
  merchant = await startMerchant({
    '/item': paidRoute('item'),
    // Asks again after the first payment, with a description quoting the proof it was just sent.
    '/twice': (() => {
      let offered = [requirement({ description: 'first payment' })]
      let round = 0
      const route: Route = async (request, response, self) => {
        const signature = request.headers['payment-signature']
        if (typeof signature !== 'string') {
          offered = [requirement({ description: 'first payment' })]
          round = 0
        }
        await self.charge(request, response, offered, () => {
          if (++round === 1) {
            offered = [requirement({ description: `you sent ${signature}` })]
            response.writeHead(402, { 'payment-required': encodeBase64Json({ x402Version: 2, accepts: offered }) })
            return void response.end()
          }
          response.end('both paid')
        })
      }
      return route
    })(),
    // Settles, then reports the settlement as the payer's own signature and an amount of 1.
    '/lying-receipt': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => {
        const proof = decodeBase64Json(String(request.headers['payment-signature'])) as {
          payload: { signature: string }
        }
        const report = { success: true, transaction: proof.payload.signature, network: 'eip155:84532', amount: '1' }
        response.setHeader('payment-response', encodeBase64Json(report))
        response.end('lied')
      }),
    // A v1 challenge in a body that starts, then never ends.
    '/trickle-v1': (_request, response) => {
      response.writeHead(402, { 'content-type': 'application/json' })
      response.write('{"x402Version":1,')
    },
    // A v2 challenge in the header, with a body that never ends.
    '/trickle-v2': async (request, response, self) => {
      if (request.headers['payment-signature']) return paidRoute()(request, response, self)
      response.writeHead(402, {
        'payment-required': encodeBase64Json({ x402Version: 2, accepts: [requirement()] }),
      })
      response.write('waiting')
    },
    // Refuses the proof with a 402 whose body never ends.
    '/refuse-trickle': async (request, response) => {
      response.writeHead(402, { 'payment-required': encodeBase64Json({ x402Version: 2, accepts: [requirement()] }) })
      if (request.headers['payment-signature']) response.write('{"error":')
      else response.end()
    },
    // Refuses the proof quoting it whole: the decoder keeps the first 512 characters of the reason,
    // so what reaches payfetch is a cut piece of the proof, then its signature cut again.
    '/echo-cut': async (request, response) => {
      const sent = request.headers['payment-signature']
      const signature =
        typeof sent === 'string' ? (decodeBase64Json(sent) as { payload: { signature: string } }).payload.signature : ''
      const error = sent ? `bad proof ${sent} sig ${signature.slice(0, 40)}` : 'pay first'
      response.writeHead(402, {
        'payment-required': encodeBase64Json({ x402Version: 2, error, accepts: [requirement()] }),
      })
      response.end()
    },
    // Quotes the Authorization it was sent: in its offer's description, or in a body that is no challenge.
    '/quote-token': (request, response) => {
      const sent = String(request.headers.authorization)
      const accepts = [requirement({ description: `token ${sent} refused` })]
      response.writeHead(402, { 'payment-required': encodeBase64Json({ x402Version: 2, accepts }) })
      response.end(`token ${sent} refused`)
    },
    '/quote-token-only': (request, response) => {
      response.writeHead(402, { 'content-type': 'text/plain' }).end(`token ${request.headers.authorization} refused`)
    },
    '/deep': (_request, response) => {
      const depth = 10_000
      response.writeHead(402, { 'content-type': 'application/json' })
      response.end(`{"x402Version":1,"accepts":[${'['.repeat(depth)}${']'.repeat(depth)}]}`)
    },
    // Offers whose money would go to the payer itself, or be burnt at the zero address.
    '/to-self': async (request, response, self) =>
      self.charge(request, response, [requirement({ payTo: account.address })], () => response.end('self')),
    '/to-zero': async (request, response, self) =>
      self.charge(request, response, [requirement({ payTo: `0x${'0'.repeat(40)}` })], () => response.end('zero')),
    '/away': (_request, response) => {
      response.writeHead(307, { location: `${other.url}/paid` }).end()
    },
  })
  const seen: IncomingMessage['headers'][] = []
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    seen.push(request.headers)
    // The other origin charges too, and echoes what it saw of the caller's credentials.
    if (!request.headers['payment-signature']) {
      response.writeHead(402, { 'payment-required': encodeBase64Json({ x402Version: 2, accepts: [requirement()] }) })
      return void response.end()
    }
    response.writeHead(200).end('paid elsewhere')
  })
  other = { url: await listen(server), seen, close: () => close(server) }
})

afterAll(async () => {
  await merchant?.close()
  await other?.close()
})

async function failure(promise: Promise<unknown>): Promise<PayfetchError | Error> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (error instanceof Error) return error
  throw new Error(`expected a rejection, got ${String(error)}`)
}
const proofsTo = (path: string) =>
  merchant.seen.filter((entry) => entry.path === path && entry.headers['payment-signature'])

describe('the caller’s own credentials stay home', () => {
  test('policy: a 402 reached through a cross-origin redirect is paid without the caller’s Authorization, Cookie or Proxy-Authorization', async () => {
    const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
    const before = other.seen.length
    const response = await fetchPaid(`${merchant.url}/away`, {
      headers: { authorization: 'Bearer caller-secret', cookie: 'session=caller', 'proxy-authorization': 'Basic x' },
    })
    expect(await response.text()).toBe('paid elsewhere')
    const atOther = other.seen.slice(before)
    expect(atOther).toHaveLength(2)
    for (const headers of atOther)
      expect([headers.authorization, headers.cookie, headers['proxy-authorization']]).toEqual([
        undefined,
        undefined,
        undefined,
      ])
    expect(atOther[1]?.['payment-signature']).toBeDefined()
  })

  test('policy: a payment to the origin a cross-origin redirect led to is kept without the caller’s credentials: the retry with its key that resumes it sends none there', async () => {
    let lose = true
    const away = await startMerchant(
      {
        '/paid': async (request, response, self) =>
          self.charge(request, response, [requirement()], () => response.end('paid away'), {
            loseResponse: () => lose && !(lose = false),
          }),
      },
      { paymentIdentifier: { required: true } },
    )
    const front = await startMerchant({
      '/go': (_request, response) => void response.writeHead(307, { location: `${away.url}/paid` }).end(),
    })
    try {
      const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
      const headers = {
        authorization: 'Bearer caller-secret',
        cookie: 'session=caller',
        'proxy-authorization': 'Basic x',
        'idempotency-key': 'order-7-attempt-key',
      }
      const error = (await failure(fetchPaid(`${front.url}/go`, { headers }))) as PayfetchError
      expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
      const [pending] = await fetchPaid.pendingPayments()
      expect(Object.keys(pending?.headers ?? {})).toEqual(['idempotency-key'])
      // The caller's retry with the same key resumes that payment (the same bytes, not a new payment).
      expect(await (await fetchPaid(`${front.url}/go`, { headers })).text()).toBe('paid away')
      expect(away.settled).toHaveLength(1)
      const credentials = away.seen.map(({ headers: seen }) => [
        seen.authorization,
        seen.cookie,
        seen['proxy-authorization'],
      ])
      expect(credentials).toEqual(away.seen.map(() => [undefined, undefined, undefined]))
      expect(away.seen.filter((seen) => seen.headers['payment-signature'])).toHaveLength(2)
    } finally {
      await front.close()
      await away.close()
    }
  })
})

describe('a lowered limit bounds the whole call', () => {
  test('policy: withLimits({ maxUsd: 0.015 }) with maxPayments 2 pays $0.01 once, then refuses the second $0.01', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer], maxPayments: 2 })
    const error = await failure(fetchPaid.withLimits({ maxUsd: '0.015' })(`${merchant.url}/twice`))
    // The first proof left: the call ends as that payment's refusal, saying why it did not pay again.
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED', details: { refusal: 'CAP_EXCEEDED' } })
    expect((error as PayfetchError).shortMessage).toContain('Paying again was refused: ')
    expect((error as PayfetchError).shortMessage).toContain('call limit of $0.005')
    expect(signer.calls).toHaveLength(1)
    // Without the lower limit the same call pays twice.
    expect(
      await (await createPayingFetch({ signers: [evm({ account })], maxPayments: 2 })(`${merchant.url}/twice`)).text(),
    ).toBe('both paid')
  })

  test('policy: with maxPayments 2, a budget with no room for the second payment ends the call PAYMENT_REJECTED (a proof left, outcome unknown), never BUDGET_EXHAUSTED', async () => {
    const signer = countingSigner(evm({ account: privateKeyToAccount(generatePrivateKey()) }))
    const fetchPaid = createPayingFetch({
      signers: [signer],
      maxPayments: 2,
      caps: { budgets: [{ usd: '0.01', window: '1d' }] },
    })
    const error = await failure(fetchPaid(`${merchant.url}/twice`))
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED', details: { refusal: 'BUDGET_EXHAUSTED' } })
    expect((error as PayfetchError).cause).toMatchObject({ code: 'BUDGET_EXHAUSTED' })
    expect(signer.calls).toHaveLength(1)
    // The proof that left stays counted, and a tool says money may have moved.
    const [total] = (await fetchPaid.spendReport()).totals
    expect((total?.spent ?? 0n) + (total?.unknown ?? 0n)).toBe(10000n)
    expect(toToolFailure(error, true)).toMatchObject({ code: 'PAYMENT_REJECTED', paid: 'unknown' })
  })
})

describe('every wait is bounded, every abort honoured at once', () => {
  test('policy: a 402 whose body trickles forever is read for readTimeoutMs: a body challenge is then unusable and nothing is signed', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer], readTimeoutMs: 50 })
    expect(await failure(fetchPaid(`${merchant.url}/trickle-v1`))).toMatchObject({ code: 'CHALLENGE_INVALID' })
    // A header challenge next to a trickling body is still paid.
    expect(await (await fetchPaid(`${merchant.url}/trickle-v2`)).text()).toBe('paid')
    expect(signer.calls).toHaveLength(1)
  })

  test('policy: a refusal whose body trickles forever after the proof left still ends, as PAYMENT_REJECTED, counted', async () => {
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], readTimeoutMs: 50 })
    const error = await failure(fetchPaid(`${merchant.url}/refuse-trickle`))
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED', details: { reason: undefined } })
    expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ unknown: 10_000n })])
  })

  test('policy: an abort while the 402 body trickles ends the call at once with the abort reason', async () => {
    const controller = new AbortController()
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({
      signers: [signer],
      fetch: async (input, init) => {
        const response = await fetch(input, init)
        // The 402 has arrived; its body never will.
        if (response.status === 402) queueMicrotask(() => controller.abort(new Error('caller gave up')))
        return response
      },
    })
    expect(await failure(fetchPaid(`${merchant.url}/trickle-v1`, { signal: controller.signal }))).toMatchObject({
      message: 'caller gave up',
    })
    expect(signer.calls).toHaveLength(0)
  })

  test('policy: a rates hook that never answers makes the offer UNPRICEABLE after ratesTimeoutMs; nothing is signed', async () => {
    const signer = countingSigner(evm({ account }))
    const weird = '0x1111111111111111111111111111111111111111'
    const fetchPaid = createPayingFetch({
      signers: [signer],
      caps: {
        assets: [{ network: 'eip155:84532', asset: weird, decimals: 6 }],
        rates: () => new Promise(() => {}),
        ratesTimeoutMs: 20,
      },
    })
    const priced = await startMerchant({
      '/rates': async (request, response, self) =>
        self.charge(request, response, [requirement({ asset: weird, extra: { name: 'W', version: '1' } })], () =>
          response.end('ok'),
        ),
    })
    try {
      const error = await failure(fetchPaid(`${priced.url}/rates`))
      expect(error).toMatchObject({ code: 'UNPRICEABLE' })
      expect(signer.calls).toHaveLength(0)
    } finally {
      await priced.close()
    }
  })

  test('policy: an abort while approve is pending ends the call at once; nothing signed, the reservation released', async () => {
    const controller = new AbortController()
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({
      signers: [signer],
      approve: () => {
        controller.abort(new Error('caller gave up'))
        return new Promise<boolean>(() => {})
      },
      approveTimeoutMs: 600_000,
    })
    expect(await failure(fetchPaid(`${merchant.url}/item`, { signal: controller.signal }))).toMatchObject({
      message: 'caller gave up',
    })
    expect(signer.calls).toHaveLength(0)
    expect((await fetchPaid.spendReport()).totals).toEqual([])
  })

  test('policy: an abort after signing and before the replay sends nothing, claims nothing, counts nothing', async () => {
    const controller = new AbortController()
    const events: PayfetchEvent[] = []
    const signer = wrapPayers(evm({ account }), (pay) => async (request, context) => {
      const proof = await pay(request, context)
      controller.abort(new Error('caller gave up'))
      return proof
    })
    const fetchPaid = createPayingFetch({ signers: [signer], onEvent: (event) => events.push(event) })
    const before = proofsTo('/item').length
    expect(await failure(fetchPaid(`${merchant.url}/item`, { signal: controller.signal }))).toMatchObject({
      message: 'caller gave up',
    })
    expect(proofsTo('/item')).toHaveLength(before)
    expect(events.map((event) => event.type)).not.toContain('payment.sent')
    expect((await fetchPaid.spendReport()).totals).toEqual([])
    expect(await fetchPaid.pendingPayments()).toEqual([])
  })

  test('policy: a Lightning call aborted after the wallet paid is an unknown outcome that says the proof was not sent, resumable', async () => {
    const lightning = await startL402Merchant(10)
    try {
      const controller = new AbortController()
      const wallet = tableWallet(lightning)
      const signer = wrapPayers(wallet, (pay) => async (request, context) => {
        const proof = await pay(request, context)
        controller.abort(new Error('caller gave up'))
        return proof
      })
      const fetchPaid = createPayingFetch({ signers: [signer] })
      const error = await failure(fetchPaid(`${lightning.url}/paid`, { signal: controller.signal }))
      expect(error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { asset: 'BTC' } })
      expect(error.message).toMatch(/The wallet paid but the proof was not sent/)
      const [pending] = await fetchPaid.pendingPayments()
      expect(wallet.calls).toBe(1)
      const resumed = await fetchPaid.resume(pending as NonNullable<typeof pending>)
      expect(resumed.status).toBe(200)
      expect(wallet.calls).toBe(1)
    } finally {
      await lightning.close()
    }
  })

  test('policy: a server gone before the replay (connection refused) is PAYMENT_FAILED with nothing counted, not an unknown outcome', async () => {
    const gone = await startMerchant({ '/item': paidRoute() })
    const fetchPaid = createPayingFetch({
      signers: [evm({ account })],
      // Closed once the offer is judged: the replay finds nobody listening.
      approve: async () => {
        await gone.close()
        return true
      },
    })
    expect(await failure(fetchPaid(`${gone.url}/item`))).toMatchObject({ code: 'PAYMENT_FAILED' })
    expect((await fetchPaid.spendReport()).totals).toEqual([])
    expect(await fetchPaid.pendingPayments()).toEqual([])
  })
})

describe('every store failure is typed and honest', () => {
  const failing = (base: Ledger, operation: keyof Ledger): Ledger => ({
    ...base,
    [operation]: async () => {
      throw new Error(`${operation} is down`)
    },
  })

  test('error: reserve failing is STORE_FAILED, paid false, nothing signed', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer], ledger: failing(memoryLedger(), 'reserve') })
    expect(await failure(fetchPaid(`${merchant.url}/item`))).toMatchObject({
      code: 'STORE_FAILED',
      details: { store: 'ledger', operation: 'reserve', paid: false },
    })
    expect(signer.calls).toHaveLength(0)
  })

  test('error: savePending failing is STORE_FAILED, paid false: the signed proof is never sent', async () => {
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], ledger: failing(memoryLedger(), 'savePending') })
    const before = proofsTo('/item').length
    expect(await failure(fetchPaid(`${merchant.url}/item`))).toMatchObject({
      code: 'STORE_FAILED',
      details: { operation: 'savePending', paid: false },
    })
    expect(proofsTo('/item')).toHaveLength(before)
  })

  test('error: commit failing after the paid answer loses nothing: the response and its receipt come back, store.failed says it was paid', async () => {
    const events: PayfetchEvent[] = []
    const ledger = failing(memoryLedger(), 'commit')
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], ledger, onEvent: (event) => events.push(event) })
    const response = await fetchPaid(`${merchant.url}/item`)
    expect(await response.text()).toBe('item')
    expect(getReceipt(response)?.reference).toMatch(/^0x/)
    expect(events.find((event) => event.type === 'store.failed')).toMatchObject({
      error: { code: 'STORE_FAILED', details: { operation: 'commit', paid: true } },
    })
    // The payment is still pending in the ledger: a retry with the same key resumes, never re-signs.
    expect(await ledger.pending()).toHaveLength(1)
  })

  test('error: a session store that fails to read is STORE_FAILED before anything is sent; one that fails to keep a token loses no answer', async () => {
    const lightning = await startL402Merchant(10)
    try {
      const broken = (operation: keyof SessionStore): SessionStore => ({
        ...memorySessions(),
        [operation]: async () => {
          throw new Error(`${operation} is down`)
        },
      })
      const reading = createPayingFetch({ signers: [tableWallet(lightning)], sessions: broken('get') })
      expect(await failure(reading(`${lightning.url}/report`))).toMatchObject({
        code: 'STORE_FAILED',
        details: { store: 'sessions', operation: 'get', paid: false },
      })
      const events: PayfetchEvent[] = []
      const keeping = createPayingFetch({
        signers: [tableWallet(lightning)],
        sessions: broken('set'),
        onEvent: (event) => events.push(event),
      })
      expect(await (await keeping(`${lightning.url}/report`)).text()).toBe('lightning paid')
      expect(events.find((event) => event.type === 'store.failed')).toMatchObject({
        error: { details: { store: 'sessions', operation: 'set', paid: true } },
      })
    } finally {
      await lightning.close()
    }
  })
})

describe('hooks, decoders and server text', () => {
  test('policy: an async onEvent that rejects causes no unhandled rejection', async () => {
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', record)
    try {
      const fetchPaid = createPayingFetch({
        signers: [evm({ account })],
        onEvent: async () => {
          throw new Error('hook failed')
        },
      })
      expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('unhandledRejection', record)
    }
    expect(unhandled).toEqual([])
  })

  test('error: JSON nested ten thousand deep is CHALLENGE_INVALID, not a RangeError', async () => {
    const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
    expect(await failure(fetchPaid(`${merchant.url}/deep`))).toMatchObject({ code: 'CHALLENGE_INVALID' })
  })

  test('policy: a settlement report that quotes the signature as its transaction, or says 1 unit for an exact payment, is ignored and flagged', async () => {
    const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
    const response = await fetchPaid(`${merchant.url}/lying-receipt`)
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({ amount: 10_000n, reference: undefined })
    expect(receipt?.ignored).toEqual(['amount', 'reference'])
    const signature = (
      decodeBase64Json(String(proofsTo('/lying-receipt').at(-1)?.headers['payment-signature'])) as {
        payload: { signature: string }
      }
    ).payload.signature
    expect(JSON.stringify(receipt, (_, value) => (typeof value === 'bigint' ? String(value) : value))).not.toContain(
      signature.slice(2, 40),
    )
  })

  test('policy: a second challenge quoting the first proof reaches events scrubbed', async () => {
    const events: PayfetchEvent[] = []
    const fetchPaid = createPayingFetch({
      signers: [evm({ account })],
      maxPayments: 2,
      onEvent: (event) => events.push(event),
    })
    expect(await (await fetchPaid(`${merchant.url}/twice`)).text()).toBe('both paid')
    const [, second] = events.filter((event) => event.type === 'challenge')
    const text = JSON.stringify((second as { offers: unknown }).offers, (_, value) =>
      typeof value === 'bigint' ? String(value) : value,
    )
    expect(text).toContain('[proof]')
    const sent = String(proofsTo('/twice').at(-2)?.headers['payment-signature'])
    expect(text).not.toContain(sent)
  })
})

describe('server text quoting what the call presented', () => {
  test('policy: a 402 quoting the stored token the call sent reaches events and errors with no 24-character piece of it', async () => {
    const [macaroon, preimage] = ['AgELcGF5ZmV0Y2gtdGVzdA'.repeat(6), 'ab01'.repeat(16)]
    const sessions = memorySessions()
    const events: PayfetchEvent[] = []
    const fetchPaid = createPayingFetch({
      signers: [evm({ account })],
      sessions,
      // Nothing is paid: the offer is over the limit, its challenge still reported.
      caps: { perRequest: { usd: '0.001' } },
      onEvent: (event) => events.push(event),
    })
    const errors: unknown[] = []
    for (const path of ['/quote-token', '/quote-token-only']) {
      await sessions.set(merchant.url, { protocol: 'l402', headers: { authorization: `L402 ${macaroon}:${preimage}` } })
      const error = (await failure(fetchPaid(`${merchant.url}${path}`))) as PayfetchError
      errors.push({ code: error.code, message: error.message, details: error.details })
    }
    expect(errors).toMatchObject([{ code: 'CAP_EXCEEDED' }, { code: 'CHALLENGE_INVALID' }])
    expect(events.map((event) => event.type)).toEqual(['challenge', 'refusal', 'refusal'])
    const shown = JSON.stringify([events, errors], (_, value) => (typeof value === 'bigint' ? String(value) : value))
    expect(shown).toContain('token L402 [proof]:[proof] refused')
    for (const secret of [macaroon, preimage])
      for (let at = 0; at + 24 <= secret.length; at += 8) expect(shown).not.toContain(secret.slice(at, at + 24))
  })
})

describe('server text quoting a cut piece of the proof', () => {
  test('policy: a refusal quoting a truncated proof reaches the error with no 24-character piece of the proof', async () => {
    const error = (await failure(
      createPayingFetch({ signers: [evm({ account })] })(`${merchant.url}/echo-cut`),
    )) as PayfetchError
    expect(error.code).toBe('PAYMENT_REJECTED')
    const sent = String(proofsTo('/echo-cut').at(-1)?.headers['payment-signature'])
    const { signature } = (decodeBase64Json(sent) as { payload: { signature: string } }).payload
    const shown = `${error.message} ${JSON.stringify(error.details)}`
    expect(shown).toContain('[proof]')
    for (const secret of [sent, signature.slice(2)])
      for (let at = 0; at + 24 <= secret.length; at += 8) expect(shown).not.toContain(secret.slice(at, at + 24))
  })
})

describe('offers that pay nobody', () => {
  test.each(['/to-self', '/to-zero'])(
    'policy: %s (payTo the payer or the zero address) is NO_SIGNER: nothing signed, nothing counted',
    async (path) => {
      const signer = countingSigner(evm({ account }))
      const fetchPaid = createPayingFetch({ signers: [signer] })
      const error = await failure(fetchPaid(`${merchant.url}${path}`))
      expect(error).toMatchObject({
        code: 'NO_SIGNER',
        message: expect.stringMatching(/zero address|paying account itself/),
      })
      expect(signer.calls).toEqual([])
      expect((await fetchPaid.spendReport()).totals).toEqual([])
    },
  )
})

describe('what the ledger counts', () => {
  test('policy: the ledger counts the amount plus the fee the wallet reported, below its limit or above it (reported)', async () => {
    const lightning = await startL402Merchant(10)
    try {
      for (const [feeMsat, exceeded] of [
        [42n, false],
        [15_000n, true],
      ] as const) {
        const events: PayfetchEvent[] = []
        const fetchPaid = createPayingFetch({
          signers: [
            {
              ...tableWallet(lightning, { feeMsat }),
              methods: { bolt11: { ...tableWallet(lightning, { feeMsat }).methods.bolt11!, maxFee: () => 10_000n } },
            },
          ],
          onEvent: (event) => events.push(event),
        })
        expect(await (await fetchPaid(`${lightning.url}/report`)).text()).toBe('lightning paid')
        expect((await fetchPaid.spendReport()).totals).toEqual([
          expect.objectContaining({ spent: 10_000n + feeMsat, reserved: 0n }),
        ])
        expect(events.some((event) => event.type === 'fee.exceeded')).toBe(exceeded)
      }
    } finally {
      await lightning.close()
    }
  })
})

describe('an Idempotency-Key belongs to one request', () => {
  test('policy: a 402 from another origin with the same key never resumes the first origin’s pending proof', async () => {
    let lose = true
    const lossy = await startMerchant({
      '/item': async (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.end('first origin'), {
          loseResponse: () => lose && !(lose = false),
        }),
    })
    try {
      const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
      const headers = { 'idempotency-key': 'order-42-attempt-key' }
      expect(await failure(fetchPaid(`${lossy.url}/item`, { headers }))).toMatchObject({
        code: 'PAYMENT_OUTCOME_UNKNOWN',
      })
      const before = proofsTo('/item').length
      const response = await fetchPaid(`${merchant.url}/item`, { headers })
      expect(await response.text()).toBe('item')
      // A fresh payment to this origin, not the other origin's proof.
      const sent = proofsTo('/item').slice(before)
      expect(sent).toHaveLength(1)
      const pending = await fetchPaid.pendingPayments()
      expect(pending.map((entry) => new URL(entry.url).origin)).toEqual([lossy.url])
      expect(sent[0]?.headers['payment-signature']).not.toBe(pending[0]?.proof['payment-signature'])
    } finally {
      await lossy.close()
    }
  })
})
