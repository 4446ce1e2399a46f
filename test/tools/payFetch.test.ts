import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { encodeBase64Json } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import { createPayfetchTools, type PayfetchToolsOptions, type ToolResult } from '../../src/tools/index.js'
import { type L402Merchant, startL402Merchant, tableWallet } from '../support/l402Merchant.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'
import { startTwoProtocolServer, type TwoProtocolServer } from '../support/twoProtocolServer.js'

// The tool core against real servers on loopback: an x402 v2 merchant that verifies EIP-3009
// signatures, an L402 merchant with real macaroons and invoices, and a front offering both.
let merchant: Merchant
let lightning: L402Merchant
let both: TwoProtocolServer
const jobPolls: string[] = []
// What `/repriced` asks for now: a server may change its terms between a quote and its confirmation.
let repriced = requirement()

beforeAll(async () => {
  merchant = await startMerchant({
    '/report': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"report":"all quiet"}'),
      ),
    '/headers': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ agent: request.headers['x-agent'] ?? null })),
      ),
    '/big': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(200, { 'content-type': 'text/plain' }).end('é'.repeat(50)),
      ),
    '/pricey': (request, response, self) =>
      self.charge(request, response, [requirement({ amount: '500000' })], () => response.end('pricey')),
    '/job': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(202, { location: '/jobs/1', 'retry-after': '0' }).end('accepted'),
      ),
    '/jobs/1': (request, response) => {
      jobPolls.push(String(request.headers['payment-signature'] ?? 'unpaid'))
      if (jobPolls.length < 3) return void response.writeHead(202, { location: '/jobs/1', 'retry-after': '0' }).end()
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"result":"done"}')
    },
    '/slow-job': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(202, { location: '/slow-job/status', 'retry-after': '2' }).end(),
      ),
    '/slow-job/status': (_request, response) =>
      void response.writeHead(202, { location: '/slow-job/status', 'retry-after': '2' }).end(),
    // Asks to be polled again at once, forever (and once with a date long gone).
    '/eager-job': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(202, { location: '/eager-job/status', 'retry-after': '0' }).end(),
      ),
    '/eager-job/status': (_request, response) =>
      void response
        .writeHead(202, { location: '/eager-job/status', 'retry-after': 'Thu, 01 Jan 1970 00:00:00 GMT' })
        .end(),
    // Paid jobs whose status URL never answers, or drops the connection.
    '/stalled-job': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(202, { location: '/stalled-job/status', 'retry-after': '0' }).end(),
      ),
    '/stalled-job/status': () => new Promise(() => {}),
    '/dropped-job': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(202, { location: '/dropped-job/status', 'retry-after': '0' }).end(),
      ),
    '/dropped-job/status': (_request, response) => void response.socket?.destroy(),
    '/repriced': (request, response, self) =>
      self.charge(request, response, [repriced], () => response.end('repriced')),
    '/free': (_request, response) => void response.writeHead(200, { 'content-type': 'text/plain' }).end('free'),
    // Settles, then sends the first words of the paid answer and never the rest.
    '/paid-stall': (request, response, self) =>
      self.charge(request, response, [requirement()], () => {
        response.writeHead(200, { 'content-type': 'text/plain' })
        response.write('first words')
      }),
    // Takes the proof, then answers 500 with no settlement report: whether it settled is unknown.
    '/broken': (request, response) => {
      if (!request.headers['payment-signature'])
        return void response
          .writeHead(402, { 'payment-required': encodeBase64Json({ x402Version: 2, accepts: [requirement()] }) })
          .end()
      response.writeHead(500, { 'content-type': 'text/plain' }).end('facilitator down')
    },
  })
  lightning = await startL402Merchant(50)
  both = await startTwoProtocolServer(merchant.url, lightning.url)
})

afterAll(async () => {
  await Promise.all([merchant?.close(), lightning?.close(), both?.close()])
})

function toolsFor(
  overrides: Partial<PayfetchToolsOptions> = {},
  payfetch: Partial<PayfetchToolsOptions['payfetch']> = {},
) {
  const wallet = tableWallet(lightning)
  const tools = createPayfetchTools({
    payfetch: { signers: [evm({ account: privateKeyToAccount(generatePrivateKey()) }), wallet], ...payfetch },
    ...overrides,
  })
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields of the tool it called
  const run = (name: string, input: unknown, context = {}): Promise<ToolResult<any>> =>
    tools.get(name)!.run(input, context)
  return { wallet, run }
}

// biome-ignore lint/suspicious/noExplicitAny: see toolsFor
function output(result: ToolResult<any>): any {
  if (!result.ok) throw new Error(`expected an output, got ${JSON.stringify(result.error)}`)
  return result.output
}

describe('pay_fetch', () => {
  test('behavior: pays a 402 once and returns the body with the payment in atomic units and USD', async () => {
    const { run } = toolsFor()
    const settled = merchant.settled.length
    const result = output(await run('pay_fetch', { url: `${merchant.url}/report` }))
    expect(result).toMatchObject({
      ok: true,
      status: 200,
      paid: true,
      content_type: 'application/json',
      body: '{"report":"all quiet"}',
      body_truncated: false,
      payment: { protocol: 'x402', network: 'eip155:84532', amount: '10000', amount_usd: '0.01' },
    })
    expect(result.payment?.reference).toMatch(/^0x[0-9a-f]{64}$/)
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('behavior: a free URL is fetched and nothing is paid', async () => {
    const { run } = toolsFor()
    expect(output(await run('pay_fetch', { url: `${merchant.url}/free` }))).toMatchObject({
      ok: true,
      paid: false,
      body: 'free',
    })
  })

  test('behavior: extra headers reach the server; the body is cut at the limit and says so', async () => {
    const { run } = toolsFor({ maxBodyChars: 10 })
    const headers = output(await run('pay_fetch', { url: `${merchant.url}/headers`, headers: { 'x-agent': 'a1' } }))
    expect(headers.body).toBe('{"agent":"')
    const big = output(await run('pay_fetch', { url: `${merchant.url}/big` }))
    expect(big).toMatchObject({ body: 'é'.repeat(10), body_truncated: true })
  })

  test('policy: max_usd only lowers the limit: under it nothing is signed; above the configured one it is still refused', async () => {
    const settled = merchant.settled.length
    const lowered = await toolsFor().run('pay_fetch', { url: `${merchant.url}/report`, max_usd: 0.005 })
    expect(lowered).toEqual({
      ok: false,
      error: { code: 'CAP_EXCEEDED', message: expect.stringContaining('call limit of $0.005'), paid: false },
    })
    const raised = await toolsFor({}, { caps: { perRequest: { usd: '0.10' } } }).run('pay_fetch', {
      url: `${merchant.url}/pricey`,
      max_usd: 100,
    })
    expect(raised).toMatchObject({ ok: false, error: { code: 'CAP_EXCEEDED', paid: false } })
    expect(merchant.settled.length).toBe(settled)
  })

  test('policy: max_sats lowers the Lightning limit; L402 is preferred when asked and the answer carries hash and amount', async () => {
    const { run, wallet } = toolsFor()
    const refused = await run('pay_fetch', { url: `${both.url}/report`, prefer: ['l402'], max_sats: 20 })
    // The 50-sat L402 offer is over max_sats; the x402 offer stays payable and is paid instead.
    expect(output(refused).payment?.protocol).toBe('x402')
    expect(wallet.calls).toBe(0)
    const paid = output(await run('pay_fetch', { url: `${both.url}/report`, prefer: ['l402'], max_sats: 60 }))
    expect(paid.payment).toMatchObject({ protocol: 'l402', asset: 'BTC', amount: '50000' })
    expect(paid.payment?.reference).toMatch(/^[0-9a-f]{64}$/)
    expect(wallet.calls).toBe(1)
    const onlyLightning = await run('pay_fetch', { url: `${lightning.url}/x`, max_sats: 10 })
    expect(onlyLightning).toMatchObject({ ok: false, error: { code: 'CAP_EXCEEDED', paid: false } })
    expect(wallet.calls).toBe(1)
  })

  test('behavior: a paid L402 token is reused; reuse_session: false pays afresh', async () => {
    const { run, wallet } = toolsFor()
    output(await run('pay_fetch', { url: `${lightning.url}/a` }))
    output(await run('pay_fetch', { url: `${lightning.url}/b` }))
    expect(wallet.calls).toBe(1)
    output(await run('pay_fetch', { url: `${lightning.url}/c`, reuse_session: false }))
    expect(wallet.calls).toBe(2)
  })

  test('behavior: the same idempotency_key pays once; the same key on another request is refused', async () => {
    const { run } = toolsFor()
    const settled = merchant.settled.length
    const first = output(await run('pay_fetch', { url: `${merchant.url}/report`, idempotency_key: 'order-1' }))
    const again = output(await run('pay_fetch', { url: `${merchant.url}/report`, idempotency_key: 'order-1' }))
    expect(again).toEqual({ ...first, idempotent_replay: true })
    expect(merchant.settled.length).toBe(settled + 1)
    expect(await run('pay_fetch', { url: `${merchant.url}/headers`, idempotency_key: 'order-1' })).toMatchObject({
      ok: false,
      error: { code: 'IDEMPOTENCY_KEY_REUSED', paid: false },
    })
  })

  test('behavior: a paid 202 job is polled for free until it completes', async () => {
    const { run } = toolsFor()
    const settled = merchant.settled.length
    jobPolls.length = 0
    const result = output(await run('pay_fetch', { url: `${merchant.url}/job` }))
    expect(result).toMatchObject({ ok: true, status: 200, paid: true, body: '{"result":"done"}' })
    expect(jobPolls).toEqual(['unpaid', 'unpaid', 'unpaid'])
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('behavior: a job still running at the poll limit comes back as a handle to poll later', async () => {
    let clock = 1_000_000
    const { run } = toolsFor({
      now: () => clock,
      sleep: async (ms) => void (clock += ms),
      pollTimeoutMs: 5_000,
    })
    const result = output(await run('pay_fetch', { url: `${merchant.url}/slow-job` }))
    expect(result).toMatchObject({
      ok: false,
      status: 202,
      paid: true,
      job: { url: `${merchant.url}/slow-job/status`, status: 202, retry_after_ms: 2000 },
    })
  })

  test('policy: a job that asks to be polled again at once is polled every 250 ms at most, not in a tight loop', async () => {
    let clock = 1_000_000
    const delays: number[] = []
    const { run } = toolsFor({
      now: () => clock,
      sleep: async (ms) => {
        delays.push(ms)
        clock += ms
      },
      pollTimeoutMs: 2_000,
    })
    const result = output(await run('pay_fetch', { url: `${merchant.url}/eager-job` }))
    expect(result).toMatchObject({ ok: false, status: 202, paid: true, job: { retry_after_ms: 250 } })
    expect(delays.length).toBeGreaterThan(2)
    expect(delays.length).toBeLessThanOrEqual(2_000 / 250)
    expect(delays.every((ms) => ms === 250)).toBe(true)
  })

  test('policy: a paid job whose status URL stalls past timeout_ms or drops the connection comes back paid with its handle, never an error', async () => {
    const { run } = toolsFor()
    const settled = merchant.settled.length
    const stalled = output(await run('pay_fetch', { url: `${merchant.url}/stalled-job`, timeout_ms: 1000 }))
    expect(stalled).toMatchObject({
      ok: false,
      status: 202,
      paid: true,
      payment: { amount: '10000' },
      job: { url: `${merchant.url}/stalled-job/status`, reason: 'the job did not answer before the time limit' },
    })
    const dropped = output(await run('pay_fetch', { url: `${merchant.url}/dropped-job` }))
    expect(dropped).toMatchObject({
      ok: false,
      paid: true,
      job: { url: `${merchant.url}/dropped-job/status`, reason: 'polling the job failed' },
    })
    expect(merchant.settled.length).toBe(settled + 2)
  })

  test('error: bad input is refused before anything is sent', async () => {
    const { run } = toolsFor()
    expect(await run('pay_fetch', { url: 'file:///etc/passwd' })).toEqual({
      ok: false,
      error: { code: 'INVALID_INPUT', message: 'url: only http and https are fetched', paid: false },
    })
    expect(await run('pay_fetch', { url: `${merchant.url}/x`, headers: { 'x-a': 'b\r\nc: d' } })).toMatchObject({
      error: { code: 'INVALID_INPUT' },
    })
    expect(await run('pay_fetch', {})).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', paid: false } })
  })

  test('error: a URL with a user name or password is INVALID_INPUT (not a vague NETWORK_ERROR), nothing sent', async () => {
    const { run } = toolsFor()
    const seen = merchant.seen.length
    const url = `http://user:hunter2@${new URL(merchant.url).host}/report`
    for (const tool of ['pay_fetch', 'quote_fetch']) {
      const result = await run(tool, { url })
      expect(result).toEqual({
        ok: false,
        error: {
          code: 'INVALID_INPUT',
          message: 'url: a user name or password in the URL is not sent; use headers',
          paid: false,
        },
      })
    }
    expect(merchant.seen.length).toBe(seen)
  })

  test('policy: a model’s headers may not plant a proof, a paid credential or a receipt; nothing is sent, the value is never echoed', async () => {
    const { run } = toolsFor()
    const seen = merchant.seen.length
    const planted: Record<string, string>[] = [
      { 'payment-signature': 'eyJwbGFudGVkIjp0cnVlfQ' },
      { 'X-Payment': 'eyJwbGFudGVkIjp0cnVlfQ' },
      { 'payment-receipt': 'eyJwbGFudGVkIjp0cnVlfQ' },
      { authorization: 'L402 bWFjYXJvb24:00ff' },
      { Authorization: 'LSAT bWFjYXJvb24:00ff' },
      { authorization: 'Payment eyJwbGFudGVkIjp0cnVlfQ' },
      { 'proxy-authorization': 'l402 bWFjYXJvb24:00ff' },
    ]
    for (const headers of planted)
      for (const tool of ['pay_fetch', 'quote_fetch']) {
        const result = await run(tool, { url: `${merchant.url}/report`, headers })
        expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', paid: false } })
        const name = Object.keys(headers)[0] as string
        expect(JSON.stringify(result)).toContain(`headers: ${name.toLowerCase()} would carry`)
        expect(JSON.stringify(result)).not.toContain(headers[name]?.split(' ').at(-1))
      }
    expect(merchant.seen.length).toBe(seen)
    // An API key of another scheme is the caller's to send.
    const bearer = await run('pay_fetch', {
      url: `${merchant.url}/report`,
      headers: { authorization: 'Bearer sk_live_1' },
    })
    expect(output(bearer)).toMatchObject({ paid: true, status: 200 })
  })

  test('error: a timeout before any proof left is reported unpaid', async () => {
    const slow = await startMerchant({ '/slow': () => new Promise(() => {}) })
    try {
      const result = await toolsFor().run('pay_fetch', { url: `${slow.url}/slow`, timeout_ms: 1000 })
      expect(result).toEqual({ ok: false, error: { code: 'TIMEOUT', message: 'The request timed out.', paid: false } })
    } finally {
      await slow.close()
    }
  })
})

describe('confirmation', () => {
  test('policy: with confirm always and nobody to ask, nothing is paid until the quote id comes back; it pays once', async () => {
    const { run } = toolsFor({ confirm: 'always' })
    const settled = merchant.settled.length
    const first = await run('pay_fetch', { url: `${merchant.url}/report` })
    if (first.ok) throw new Error('expected CONFIRMATION_REQUIRED')
    expect(first.error).toMatchObject({
      code: 'CONFIRMATION_REQUIRED',
      paid: false,
      quote: { amount: '10000', amount_usd: '0.01', protocol: 'x402', method: 'GET', url: `${merchant.url}/report` },
    })
    expect(merchant.settled.length).toBe(settled)
    const quoteId = first.error.quote?.quote_id
    const other = await run('pay_fetch', { url: `${merchant.url}/headers`, confirm_quote_id: quoteId })
    expect(other).toMatchObject({ ok: false, error: { code: 'CONFIRMATION_INVALID', paid: false } })
    const confirmed = output(await run('pay_fetch', { url: `${merchant.url}/report`, confirm_quote_id: quoteId }))
    expect(confirmed.paid).toBe(true)
    const reused = await run('pay_fetch', { url: `${merchant.url}/report`, confirm_quote_id: quoteId })
    expect(reused).toMatchObject({ ok: false, error: { code: 'CONFIRMATION_INVALID', paid: false } })
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('policy: a confirmed call pays at most what was quoted, to the quoted payee: a raised price or another payee is CONFIRMATION_INVALID, nothing paid', async () => {
    const { run } = toolsFor({ confirm: 'always' })
    const settled = merchant.settled.length
    const url = `${merchant.url}/repriced`
    const quoteOf = async () => {
      const asked = await run('pay_fetch', { url })
      if (asked.ok) throw new Error('expected CONFIRMATION_REQUIRED')
      return asked.error.quote?.quote_id
    }
    repriced = requirement()
    const raisedId = await quoteOf()
    repriced = requirement({ amount: '10001' })
    expect(await run('pay_fetch', { url, confirm_quote_id: raisedId })).toMatchObject({
      ok: false,
      error: { code: 'CONFIRMATION_INVALID', paid: false, message: expect.stringContaining('more than was quoted') },
    })
    repriced = requirement()
    const payeeId = await quoteOf()
    repriced = requirement({ payTo: '0x000000000000000000000000000000000000dEaD' })
    expect(await run('pay_fetch', { url, confirm_quote_id: payeeId })).toMatchObject({
      ok: false,
      error: { code: 'CONFIRMATION_INVALID', message: expect.stringContaining('a different payment') },
    })
    expect(merchant.settled.length).toBe(settled)
    // A lower price is within what was confirmed.
    repriced = requirement()
    const lowerId = await quoteOf()
    repriced = requirement({ amount: '9000' })
    expect(output(await run('pay_fetch', { url, confirm_quote_id: lowerId })).payment.amount).toBe('9000')
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('policy: a quote id expires (injected clock); above:<usd> asks only above the threshold', async () => {
    let clock = 0
    const { run } = toolsFor({ confirm: 'always', confirmTtlMs: 60_000, now: () => clock })
    const first = await run('pay_fetch', { url: `${merchant.url}/report` })
    clock += 60_000
    const late = await run('pay_fetch', {
      url: `${merchant.url}/report`,
      confirm_quote_id: first.ok ? undefined : first.error.quote?.quote_id,
    })
    expect(late).toMatchObject({
      ok: false,
      error: { code: 'CONFIRMATION_INVALID', message: expect.stringContaining('expired') },
    })
    const above = toolsFor({ confirm: { aboveUsd: '0.02' } })
    expect(output(await above.run('pay_fetch', { url: `${merchant.url}/report` })).paid).toBe(true)
    const under = toolsFor({ confirm: { aboveUsd: '0.005' } })
    expect(await under.run('pay_fetch', { url: `${merchant.url}/report` })).toMatchObject({
      error: { code: 'CONFIRMATION_REQUIRED' },
    })
  })

  test('behavior: a person asked (elicitation) decides: yes pays, no refuses', async () => {
    const prompts: unknown[] = []
    const { run } = toolsFor({ confirm: 'auto' })
    const yes = await run(
      'pay_fetch',
      { url: `${merchant.url}/report` },
      { ask: async (prompt: unknown) => (prompts.push(prompt), true) },
    )
    expect(output(yes).paid).toBe(true)
    expect(prompts[0]).toMatchObject({ amount: '10000', amount_usd: '0.01', payee: expect.any(String) })
    const no = await run('pay_fetch', { url: `${merchant.url}/report` }, { ask: async () => false })
    expect(no).toMatchObject({ ok: false, error: { code: 'APPROVAL_DENIED', paid: false } })
  })
})

describe('quote_fetch, spend_report, pending_payments', () => {
  test('behavior: quote_fetch shows every offer and the one pay_fetch would pay, and pays nothing', async () => {
    const { run, wallet } = toolsFor()
    const settled = merchant.settled.length
    const quote = output(await run('quote_fetch', { url: `${both.url}/report`, prefer: ['l402'] }))
    expect(quote).toMatchObject({ status: 402, payment_required: true, best: 0 })
    expect(
      quote.offers.map((offer: { protocol: string; amount: string; payable: boolean }) => [
        offer.protocol,
        offer.amount,
        offer.payable,
      ]),
    ).toEqual([
      ['l402', '50000', true],
      ['x402', '10000', true],
    ])
    const capped = output(await run('quote_fetch', { url: `${merchant.url}/pricey` }))
    expect(capped.offers[0]).toMatchObject({ payable: false, refusal: { code: 'CAP_EXCEEDED' } })
    expect(capped.best).toBeUndefined()
    expect(merchant.settled.length).toBe(settled)
    expect(wallet.calls).toBe(0)
  })

  test('behavior: spend_report counts what was paid; pending_payments is empty when every answer came', async () => {
    const { run } = toolsFor({}, { caps: { budgets: [{ usd: '1', window: '1d' }] } })
    output(await run('pay_fetch', { url: `${merchant.url}/report` }))
    const report = output(await run('spend_report', {}))
    expect(report.budgets).toEqual([
      expect.objectContaining({ used: '10000000', limit: '1000000000', window_ms: 86_400_000 }),
    ])
    expect(report.totals).toEqual([expect.objectContaining({ spent: '10000', reserved: '0', unknown: '0' })])
    expect(output(await run('pending_payments', {}))).toEqual({ pending: [] })
    expect(await run('resume_payment', { id: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND', paid: false },
    })
  })

  test('policy: a paid answer whose body stalls past timeout_ms is returned paid, cut where it stopped, not an unknown outcome', async () => {
    const { run } = toolsFor()
    const settled = merchant.settled.length
    // The timeout must leave the payment itself room on a loaded machine: only the body stalls.
    const result = output(await run('pay_fetch', { url: `${merchant.url}/paid-stall`, timeout_ms: 4_000 }))
    expect(result).toMatchObject({
      paid: true,
      status: 200,
      payment: { amount: '10000' },
      body: 'first words',
      body_truncated: true,
    })
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('policy: a proof answered by 500 without a settlement report is PAYMENT_OUTCOME_UNKNOWN with its pending id, never paid: false; resuming it says so again', async () => {
    const { run } = toolsFor()
    const first = await run('pay_fetch', { url: `${merchant.url}/broken` })
    expect(first).toMatchObject({ ok: false, error: { code: 'PAYMENT_OUTCOME_UNKNOWN', paid: 'unknown' } })
    const id = (first as { error: { pending_id: string } }).error.pending_id
    expect(output(await run('pending_payments', {})).pending).toEqual([expect.objectContaining({ id })])
    expect(await run('resume_payment', { id })).toMatchObject({
      ok: false,
      error: { code: 'PAYMENT_OUTCOME_UNKNOWN', paid: 'unknown', pending_id: id },
    })
  })
})
