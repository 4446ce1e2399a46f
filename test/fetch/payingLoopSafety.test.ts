import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeBase64Json, encodeBase64Json } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, memorySessions, type PayfetchError, type PayfetchEvent } from '../../src/index.js'
import { countingSigner, wrapPayers } from '../support/countingSigner.js'
import { httpFetch } from '../support/httpFetch.js'
import { type L402Merchant, startL402Merchant, tableWallet } from '../support/l402Merchant.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// The safety rules of DESIGN.md, one named test each, on the wire. (createPayingFetch.test.ts has the
// single cross-origin hop, the string body over maxBodyBytes and wrapping a paying fetch directly.)
const account = privateKeyToAccount(generatePrivateKey())

let merchant: Merchant
let other: Merchant
let lightning: L402Merchant

beforeAll(async () => {
  other = await startMerchant({
    '/landing': (_request, response) => void response.writeHead(200).end('landed elsewhere'),
    '/bounce-back': (_request, response) => void response.writeHead(302, { location: `${merchant.url}/home` }).end(),
  })
  merchant = await startMerchant({
    '/item': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('item')),
    '/bounce': async (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(302, { location: `${other.url}/bounce-back` }).end(),
      ),
    '/home': (_request, response) => void response.writeHead(200).end('home again'),
    '/go': (_request, response) => void response.writeHead(302, { location: `${other.url}/landing` }).end(),
    '/redirects': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.writeHead(303, { location: '/home' }).end()),
    '/huge-header': (_request, response) => {
      const required = { x402Version: 2, error: 'x'.repeat(70_000), accepts: [requirement()] }
      response.writeHead(402, { 'payment-required': encodeBase64Json(required) }).end('{}')
    },
    '/big-header': (_request, response, self) => {
      // 30 KiB: over Node's fetch limit (16 KiB), under payfetch's (64 KiB). The padding is not echoed in the proof.
      const required = {
        x402Version: 2,
        error: 'x'.repeat(30_000),
        accepts: [requirement()],
        resource: { url: `${self.url}/big-header` },
      }
      if (!_request.headers['payment-signature'])
        return void response.writeHead(402, { 'payment-required': encodeBase64Json(required) }).end('{}')
      response.writeHead(200).end('big paid')
    },
    '/huge-v1-body': (_request, response) => {
      const body = {
        x402Version: 1,
        error: 'pay',
        accepts: [
          {
            ...requirement(),
            network: 'base-sepolia',
            maxAmountRequired: '10000',
            resource: 'x',
            description: 'x'.repeat(70_000),
          },
        ],
      }
      response.writeHead(402, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    },
    'POST /upload': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('stored')),
  })
  lightning = await startL402Merchant(10)
})

afterAll(async () => {
  await Promise.all([merchant.close(), other.close(), lightning.close()])
})

const failure = (call: Promise<unknown>) =>
  call.then(
    () => expect.unreachable('the call should have failed'),
    (error: unknown) => error as PayfetchError,
  )
const proofHeaders = ['payment-signature', 'idempotency-key'] as const

describe('redirects', () => {
  test('policy: once the paid replay leaves the origin, the proof never comes back, not even on a redirect home', async () => {
    const before = { merchant: merchant.seen.length, other: other.seen.length }
    const response = await createPayingFetch({ signers: [evm({ account })] })(`${merchant.url}/bounce`)
    expect(await response.text()).toBe('home again')
    const [abroad] = other.seen.slice(before.other)
    const home = merchant.seen.slice(before.merchant).find((entry) => entry.path === '/home')
    for (const name of proofHeaders) {
      expect(abroad?.headers[name]).toBeUndefined()
      expect(home?.headers[name]).toBeUndefined()
    }
    expect(merchant.seen.slice(before.merchant).filter((entry) => entry.headers['payment-signature'])).toHaveLength(1)
  })

  test('error: redirect "error" on a paid replay is REDIRECT_REFUSED, and the payment is settled in the ledger, not left pending', async () => {
    const events: PayfetchEvent[] = []
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], onEvent: (event) => events.push(event) })
    const error = await failure(fetchPaid(`${merchant.url}/redirects`, { redirect: 'error' }))
    expect(error.code).toBe('REDIRECT_REFUSED')
    expect(await fetchPaid.pendingPayments()).toEqual([])
    // The server answered the proof (with a redirect), so it counts as spent.
    expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ spent: 10_000n, reserved: 0n })])
    expect(events.at(-1)).toMatchObject({ type: 'payment.failed', error: { code: 'REDIRECT_REFUSED' } })
  })
})

describe('stored credentials', () => {
  test('policy: a stored credential goes to its own origin only, never across a redirect', async () => {
    const sessions = memorySessions()
    await sessions.set(new URL(merchant.url).origin, { protocol: 'x402', headers: { authorization: 'Token abc' } })
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], sessions })
    const before = { merchant: merchant.seen.length, other: other.seen.length }
    expect(await (await fetchPaid(`${merchant.url}/go`)).text()).toBe('landed elsewhere')
    expect(merchant.seen.slice(before.merchant).map((entry) => entry.headers.authorization)).toEqual(['Token abc'])
    expect(other.seen.slice(before.other).map((entry) => entry.headers.authorization)).toEqual([undefined])
    // Called directly, the other origin never gets it either.
    await fetchPaid(`${other.url}/landing`)
    expect(other.seen.at(-1)?.headers.authorization).toBeUndefined()
  })

  test('policy: an expired credential is not sent', async () => {
    const sessions = memorySessions()
    await sessions.set(new URL(merchant.url).origin, {
      protocol: 'x402',
      headers: { authorization: 'Token old' },
      expiresAt: Date.now() - 1,
    })
    await createPayingFetch({ signers: [evm({ account })], sessions })(`${merchant.url}/home`)
    expect(merchant.seen.at(-1)?.headers.authorization).toBeUndefined()
  })
})

describe('CR/LF', () => {
  test('policy: CR/LF never reaches the wire: not from a stored credential, not from a signer payload, not from a wallet', async () => {
    // A tampered session store: the credential is never sent; the call goes on as if there were none.
    const sessions = memorySessions()
    await sessions.set(new URL(merchant.url).origin, {
      protocol: 'x402',
      headers: { authorization: 'Token abc\r\nx-injected: 1' },
    })
    const before = merchant.seen.length
    await createPayingFetch({ signers: [evm({ account })], sessions })(`${merchant.url}/item`)
    expect(
      merchant.seen.slice(before).map((entry) => [entry.headers.authorization, entry.headers['x-injected']]),
    ).toEqual([
      [undefined, undefined],
      [undefined, undefined],
    ])

    // A signer whose payload carries CR/LF: the x402 proof is base64, the server gets one header and no injection.
    const sneaky = wrapPayers(evm({ account }), (pay) => async (request, context) => ({
      ...((await pay(request, context)) as object),
      signature: 'a\r\nx-injected: 1',
    }))
    // (The merchant cannot verify that payload; what it answers does not matter here.)
    await createPayingFetch({ signers: [sneaky] })(`${merchant.url}/item`).catch(() => {})
    const sent = merchant.seen.at(-1)
    expect(sent?.headers['x-injected']).toBeUndefined()
    expect(decodeBase64Json(String(sent?.headers['payment-signature']))).toMatchObject({
      payload: { signature: 'a\r\nx-injected: 1' },
    })

    // A wallet that paid but returns a preimage with CR/LF: the proof is refused, nothing is sent, the payment stays counted.
    const events: PayfetchEvent[] = []
    const wallet = tableWallet(lightning)
    const lying = wrapPayers(
      wallet,
      (pay) => async (request, context) => (
        await pay(request, context), { kind: 'bolt11', preimage: `${'a'.repeat(64)}\r\nx-injected: 1` }
      ),
    )
    const fetchPaid = createPayingFetch({ signers: [lying], onEvent: (event) => events.push(event) })
    const error = await failure(fetchPaid(`${lightning.url}/report`))
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    expect(lightning.paid).toBe(0)
    expect((await fetchPaid.spendReport()).totals).toEqual([
      expect.objectContaining({ reserved: 0n, unknown: 10_000n }),
    ])
    expect(events.at(-1)).toMatchObject({ type: 'payment.failed', error: { code: 'PAYMENT_OUTCOME_UNKNOWN' } })
  })
})

describe('size caps', () => {
  test('error: a PAYMENT-REQUIRED header over 64 KiB is CHALLENGE_INVALID and nothing is signed', async () => {
    const signer = countingSigner(evm({ account }))
    // Node's fetch refuses response headers over 16 KiB by itself; a client with a larger limit reaches payfetch's cap.
    const fetchPaid = createPayingFetch({ signers: [signer], fetch: httpFetch(1024 * 1024) })
    const error = await failure(fetchPaid(`${merchant.url}/huge-header`))
    expect(error).toMatchObject({ code: 'CHALLENGE_INVALID', details: { length: expect.any(Number) } })
    expect(error.details.length).toBeGreaterThan(64 * 1024)
    // Under the cap it pays, through the same client.
    expect(await (await fetchPaid(`${merchant.url}/big-header`)).text()).toBe('big paid')
    expect(signer.calls).toHaveLength(1)
    // With Node's own fetch the oversized 402 never arrives: a transport error, and still nothing signed.
    await expect(createPayingFetch({ signers: [signer] })(`${merchant.url}/huge-header`)).rejects.toThrow(
      'fetch failed',
    )
    expect(signer.calls).toHaveLength(1)
  })

  test('error: a 402 body over 64 KiB is not buffered: CHALLENGE_INVALID, nothing signed', async () => {
    const signer = countingSigner(evm({ account }))
    expect((await failure(createPayingFetch({ signers: [signer] })(`${merchant.url}/huge-v1-body`))).code).toBe(
      'CHALLENGE_INVALID',
    )
    expect(signer.calls).toHaveLength(0)
  })

  test('error: a stream body over maxBodyBytes is REQUEST_TOO_LARGE before anything is sent', async () => {
    const signer = countingSigner(evm({ account }))
    const chunk = new Uint8Array(600)
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk)
        controller.enqueue(chunk)
        controller.close()
      },
    })
    const before = merchant.seen.length
    const call = createPayingFetch({ signers: [signer], maxBodyBytes: 1000 })(`${merchant.url}/upload`, {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit)
    expect(await failure(call)).toMatchObject({ code: 'REQUEST_TOO_LARGE', details: { maxBodyBytes: 1000 } })
    expect(merchant.seen.length).toBe(before)
    expect(signer.calls).toHaveLength(0)
  })

  test('error: a proof header over 64 KiB is PAYMENT_FAILED, sent nowhere, and its reservation freed', async () => {
    const bloated = wrapPayers(evm({ account }), (pay) => async (request, context) => ({
      ...((await pay(request, context)) as object),
      signature: 'x'.repeat(70_000),
    }))
    const fetchPaid = createPayingFetch({ signers: [bloated], caps: { budgets: [{ usd: '1' }] } })
    const before = merchant.seen.length
    expect(await failure(fetchPaid(`${merchant.url}/item`))).toMatchObject({
      code: 'PAYMENT_FAILED',
      details: { header: 'payment-signature' },
    })
    expect(merchant.seen.slice(before).filter((entry) => entry.headers['payment-signature'])).toHaveLength(0)
    expect((await fetchPaid.spendReport()).totals).toEqual([])
  })
})

describe('wrapping', () => {
  test('error: a paying fetch is never wrapped twice, whichever view of it is passed', () => {
    const paying = createPayingFetch({ signers: [evm({ account })] })
    for (const view of [
      paying.withLimits({ maxUsd: '0.01' }),
      paying.withLimits({ maxUsd: '0.01' }).withLimits({ maxUsd: '0.005' }),
    ])
      expect(() => createPayingFetch({ signers: [], fetch: view })).toThrowError(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }),
      )
  })
})
