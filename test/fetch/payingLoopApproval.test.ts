import { createServer, type IncomingHttpHeaders } from 'node:http'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { close, listen, readJson } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import {
  type ApprovalRequest,
  type Approve,
  createPayingFetch,
  memoryLedger,
  type PayfetchError,
  type PayfetchEvent,
} from '../../src/index.js'
import { countingSigner } from '../support/countingSigner.js'
import { type Merchant, payTo, requirement, startMerchant, usdc } from '../support/merchant.js'

// The approve hook and the policy webhook: both fail closed, both run after the reservation (a no
// releases it) and before any signature.
const account = privateKeyToAccount(generatePrivateKey())

let merchant: Merchant
let webhookUrl: string
let closeWebhook: () => Promise<void>
const asked: { path: string; headers: IncomingHttpHeaders; body: unknown }[] = []

beforeAll(async () => {
  merchant = await startMerchant({
    '/item': async (request, response, self) =>
      self.charge(request, response, [requirement()], () => response.end('item')),
  })
  // A loopback policy service: its path says what it answers.
  const webhook = createServer(async (request, response) => {
    const path = request.url ?? '/'
    asked.push({ path, headers: request.headers, body: await readJson(request) })
    if (path === '/hang') return
    const answers: Record<string, [number, string]> = {
      '/approve': [200, '{"approved":true}'],
      '/deny': [200, '{"approved":false,"reason":"over the team limit"}'],
      '/truthy': [200, '{"approved":"yes"}'],
      '/error': [500, '{"approved":true}'],
      '/garbage': [200, 'approved'],
    }
    const [status, body] = answers[path] ?? [404, '{}']
    response.writeHead(status, { 'content-type': 'application/json' }).end(body)
  })
  webhookUrl = await listen(webhook)
  closeWebhook = () => close(webhook)
})

afterAll(async () => {
  await Promise.all([merchant.close(), closeWebhook()])
})

const proofs = () =>
  merchant.seen.filter((entry) => entry.path === '/item' && entry.headers['payment-signature']).length
const failure = (call: Promise<unknown>) =>
  call.then(
    () => expect.unreachable('the call should have been refused'),
    (error: unknown) => error as PayfetchError,
  )

/** A paying fetch with a budget (so a leftover reservation would show) and a signer that counts. */
function setup(options: { approve?: Approve; approveTimeoutMs?: number; webhook?: string; timeoutMs?: number } = {}) {
  const signer = countingSigner(evm({ account }))
  const ledger = memoryLedger()
  const events: PayfetchEvent[] = []
  const fetchPaid = createPayingFetch({
    signers: [signer],
    ledger,
    caps: { budgets: [{ usd: '1', window: '1d' }] },
    approve: options.approve,
    approveTimeoutMs: options.approveTimeoutMs,
    policyWebhook: options.webhook
      ? {
          url: `${webhookUrl}${options.webhook}`,
          timeoutMs: options.timeoutMs,
          headers: { authorization: 'Bearer policy-service-token' },
        }
      : undefined,
    onEvent: (event) => events.push(event),
  })
  return { signer, fetchPaid, events }
}

/** Refused for approval: nothing signed, no proof sent, nothing reserved or counted. */
async function expectDenied(
  call: Promise<unknown>,
  { signer, fetchPaid, events }: ReturnType<typeof setup>,
  reason: string,
) {
  const before = proofs()
  const error = await failure(call)
  expect(error).toMatchObject({ code: 'APPROVAL_DENIED', details: { reason, signer: 'evm' } })
  expect(signer.calls).toHaveLength(0)
  expect(proofs()).toBe(before)
  const report = await fetchPaid.spendReport()
  expect(report.totals).toEqual([])
  expect(report.budgets).toEqual([expect.objectContaining({ used: 0n })])
  expect(events.map((event) => event.type)).toEqual(['challenge', 'refusal'])
}

describe('approve hook', () => {
  test('policy: nobody is asked to approve a payment the budget would refuse', async () => {
    const requests: ApprovalRequest[] = []
    const fetchPaid = createPayingFetch({
      signers: [evm({ account })],
      caps: { budgets: [{ usd: '0.015' }] },
      approve: (request) => (requests.push(request), true),
    })
    expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
    expect(await failure(fetchPaid(`${merchant.url}/item`))).toMatchObject({ code: 'BUDGET_EXHAUSTED' })
    expect(requests).toHaveLength(1)
  })

  test('policy: an approve hook that says no denies: APPROVAL_DENIED, signer never called, no reservation left', async () => {
    const state = setup({ approve: () => false })
    await expectDenied(state.fetchPaid(`${merchant.url}/item`), state, 'the approve hook said no')
  })

  test('policy: only true approves: a truthy answer denies', async () => {
    const state = setup({ approve: () => 'yes' as unknown as boolean })
    await expectDenied(state.fetchPaid(`${merchant.url}/item`), state, 'the approve hook said no')
  })

  test('policy: an approve hook that throws (or rejects) denies', async () => {
    const throwing = setup({
      approve: () => {
        throw new Error('UI crashed')
      },
    })
    await expectDenied(throwing.fetchPaid(`${merchant.url}/item`), throwing, 'the approve hook failed')
    const rejecting = setup({ approve: () => Promise.reject(new Error('UI crashed')) })
    await expectDenied(rejecting.fetchPaid(`${merchant.url}/item`), rejecting, 'the approve hook failed')
  })

  test('policy: an approve hook that never answers is denied after approveTimeoutMs', async () => {
    const state = setup({ approve: () => new Promise<boolean>(() => {}), approveTimeoutMs: 150 })
    const started = performance.now()
    await expectDenied(state.fetchPaid(`${merchant.url}/item`), state, 'the approve hook timed out')
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
  })

  test('behavior: an approved payment is paid, and the hook sees { url, offer, usd, signer }', async () => {
    const requests: ApprovalRequest[] = []
    const { signer, fetchPaid } = setup({ approve: async (request) => (requests.push(request), true) })
    const response = await fetchPaid(`${merchant.url}/item?q=1`)
    expect(await response.text()).toBe('item')
    expect(signer.calls).toHaveLength(1)
    expect(requests).toEqual([
      {
        url: `${merchant.url}/item?q=1`,
        usd: '0.01',
        signer: 'evm',
        offer: expect.objectContaining({
          protocol: 'x402',
          network: 'eip155:84532',
          amount: 10_000n,
          payTo,
          asset: expect.objectContaining({ id: usdc, decimals: 6 }),
        }),
      },
    ])
  })
})

describe('policy webhook', () => {
  test('behavior: a webhook that approves lets the payment through; it receives the request as JSON with its headers', async () => {
    const { signer, fetchPaid } = setup({ webhook: '/approve' })
    const before = asked.length
    expect(await (await fetchPaid(`${merchant.url}/item`)).text()).toBe('item')
    expect(signer.calls).toHaveLength(1)
    const [call] = asked.slice(before)
    expect(call?.headers).toMatchObject({
      authorization: 'Bearer policy-service-token',
      'content-type': 'application/json',
    })
    expect(call?.body).toMatchObject({
      url: `${merchant.url}/item`,
      usd: '0.01',
      signer: 'evm',
      offer: { network: 'eip155:84532', amount: '10000', payTo },
    })
  })

  test('policy: a webhook that says no denies', async () => {
    const state = setup({ webhook: '/deny' })
    await expectDenied(state.fetchPaid(`${merchant.url}/item`), state, 'the policy webhook said no')
  })

  test('policy: a webhook that hangs is denied after its timeout', async () => {
    const state = setup({ webhook: '/hang', timeoutMs: 200 })
    await expectDenied(state.fetchPaid(`${merchant.url}/item`), state, 'the policy webhook timed out')
  })

  test.each([
    ['/truthy', 'the policy webhook said no'],
    ['/error', 'the policy webhook failed'],
    ['/garbage', 'the policy webhook failed'],
    ['/missing', 'the policy webhook failed'],
  ])('policy: a webhook answering %s denies', async (path, reason) => {
    const state = setup({ webhook: path })
    await expectDenied(state.fetchPaid(`${merchant.url}/item`), state, reason)
  })

  test('policy: a webhook that cannot be reached denies', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({
      signers: [signer],
      policyWebhook: { url: 'http://127.0.0.1:9/policy', timeoutMs: 2_000 },
    })
    expect((await failure(fetchPaid(`${merchant.url}/item`))).details).toMatchObject({
      reason: 'the policy webhook failed',
    })
    expect(signer.calls).toHaveLength(0)
  })

  test('policy: the webhook is not asked when the approve hook already said no', async () => {
    const before = asked.length
    const state = setup({ approve: () => false, webhook: '/approve' })
    await expectDenied(state.fetchPaid(`${merchant.url}/item`), state, 'the approve hook said no')
    expect(asked.length).toBe(before)
  })
})
