import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { close, listen, readBody } from '../../examples/local-stack/http.js'
import { PayfetchError } from '../../src/errors/PayfetchError.js'
import { type ApprovalRequest, type Approve, requireApproval } from '../../src/fetch/approval.js'
import type { Offer } from '../../src/offer/Offer.js'

const offer: Offer = {
  protocol: 'x402',
  version: 2,
  scheme: 'exact',
  network: 'eip155:8453',
  asset: { id: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913', decimals: 6, symbol: 'USDC' },
  amount: 2n ** 64n + 1n,
  payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
  resource: 'https://api.example.com/report',
  method: {
    kind: 'eip3009',
    chainId: 8453,
    token: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
    domain: { name: 'USD Coin', version: '2' },
    to: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
    value: 2n ** 64n + 1n,
    validBefore: { afterSeconds: 60 },
    nonce: 'random',
  },
  raw: { secretish: 'the raw challenge never leaves' },
}
const request: ApprovalRequest = { url: 'https://api.example.com/report', offer, usd: '0.05', signer: 'evm' }

/** The APPROVAL_DENIED error `requireApproval` rejects with; fails on anything else. */
async function denial(promise: Promise<void>): Promise<PayfetchError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (!(error instanceof PayfetchError)) throw new Error(`expected APPROVAL_DENIED, got ${String(error)}`)
  expect(error.code).toBe('APPROVAL_DENIED')
  return error
}

const withApprove = (approve: Approve, approveTimeoutMs = 1_000) =>
  requireApproval(request, { approve, approveTimeoutMs, fetch: globalThis.fetch })

describe('requireApproval: the approve hook', () => {
  test('behavior: true lets the payment through, and the hook sees the url, offer, USD value and signer', async () => {
    const approve = vi.fn<Approve>(async () => true)
    await expect(withApprove(approve)).resolves.toBeUndefined()
    expect(approve).toHaveBeenCalledWith(request)
  })

  test('error: false denies with APPROVAL_DENIED and the reason in details', async () => {
    const error = await denial(withApprove(() => false))
    expect({ message: error.message, details: error.details }).toMatchInlineSnapshot(`
      {
        "details": {
          "reason": "the approve hook said no",
          "signer": "evm",
          "url": "https://api.example.com/report",
        },
        "message": "[APPROVAL_DENIED] Payment not approved: the approve hook said no.",
      }
    `)
  })

  test('policy: only the value true approves; truthy look-alikes deny', async () => {
    for (const verdict of ['true', 'yes', 1, {}, [], Promise.resolve('true'), undefined, null]) {
      const error = await denial(withApprove(() => verdict as unknown as boolean))
      expect(error.details.reason, String(verdict)).toBe('the approve hook said no')
    }
  })

  test('error: a hook that throws or rejects denies, with its own reason', async () => {
    const thrown = await denial(
      withApprove(() => {
        throw new Error('ui crashed')
      }),
    )
    const rejected = await denial(withApprove(() => Promise.reject(new Error('ui crashed'))))
    expect([thrown.details.reason, rejected.details.reason]).toEqual([
      'the approve hook failed',
      'the approve hook failed',
    ])
  })

  test('error: a hook slower than approveTimeoutMs denies at the timeout, without waiting for it', async () => {
    let late: (value: boolean) => void = () => {}
    const started = performance.now()
    const error = await denial(withApprove(() => new Promise<boolean>((resolve) => (late = resolve)), 100))
    const elapsed = performance.now() - started
    expect(error.message).toMatchInlineSnapshot(`"[APPROVAL_DENIED] Payment not approved: the approve hook timed out."`)
    // At the timeout, not before; not waiting for the hook either, which only answers below.
    expect(elapsed).toBeGreaterThanOrEqual(95)
    // A yes after the timeout changes nothing.
    late(true)
  })

  test('policy: the webhook is not asked when the approve hook says no', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>()
    await denial(
      requireApproval(request, {
        approve: () => false,
        approveTimeoutMs: 1_000,
        webhook: { url: 'http://127.0.0.1:9/never' },
        fetch,
      }),
    )
    expect(fetch).not.toHaveBeenCalled()
  })
})

describe('requireApproval: the policy webhook (a real loopback server)', () => {
  type Seen = { method: string | undefined; path: string | undefined; headers: IncomingHttpHeaders; body: string }
  let seen: Seen[] = []
  // How the server answers the next request.
  let answer: (response: ServerResponse) => void = () => {}
  const server = createServer(async (incoming, response) => {
    const body = Buffer.from(await readBody(incoming)).toString('utf8')
    seen.push({ method: incoming.method, path: incoming.url, headers: incoming.headers, body })
    answer(response)
  })
  let base = ''

  beforeAll(async () => {
    base = await listen(server)
  })
  afterAll(async () => {
    await close(server)
  })
  beforeEach(() => {
    seen = []
  })

  const json = (status: number, body: unknown) => (response: ServerResponse) => {
    response.writeHead(status, { 'content-type': 'application/json' })
    response.end(JSON.stringify(body))
  }
  const ask = (timeoutMs = 2_000, headers?: Record<string, string>) =>
    requireApproval(request, {
      approveTimeoutMs: 1_000,
      webhook: { url: `${base}/approve`, timeoutMs, headers },
      fetch: globalThis.fetch,
    })

  test('behavior: {"approved":true} approves; the service receives the request as JSON, amount as a string, without raw', async () => {
    answer = json(200, { approved: true })
    await expect(ask(2_000, { authorization: 'Bearer policy-token' })).resolves.toBeUndefined()
    expect(seen).toHaveLength(1)
    const [call] = seen
    expect([call?.method, call?.path, call?.headers['content-type'], call?.headers.authorization]).toEqual([
      'POST',
      '/approve',
      'application/json',
      'Bearer policy-token',
    ])
    expect(JSON.parse(call?.body ?? '')).toMatchInlineSnapshot(`
      {
        "offer": {
          "amount": "18446744073709551617",
          "asset": {
            "decimals": 6,
            "id": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
            "symbol": "USDC",
          },
          "method": {
            "chainId": 8453,
            "domain": {
              "name": "USD Coin",
              "version": "2",
            },
            "kind": "eip3009",
            "nonce": "random",
            "to": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            "token": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
            "validBefore": {
              "afterSeconds": 60,
            },
            "value": "18446744073709551617",
          },
          "network": "eip155:8453",
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "resource": "https://api.example.com/report",
          "scheme": "exact",
          "version": 2,
        },
        "signer": "evm",
        "url": "https://api.example.com/report",
        "usd": "0.05",
      }
    `)
    expect(call?.body).not.toContain('raw')
  })

  test('error: {"approved":false} denies: the policy webhook said no', async () => {
    answer = json(200, { approved: false })
    const error = await denial(ask())
    expect({ message: error.message, details: error.details }).toMatchInlineSnapshot(`
      {
        "details": {
          "reason": "the policy webhook said no",
          "signer": "evm",
          "url": "https://api.example.com/report",
        },
        "message": "[APPROVAL_DENIED] Payment not approved: the policy webhook said no.",
      }
    `)
  })

  test('policy: only a 2xx with approved === true approves', async () => {
    // A non-2xx is a failed webhook, whatever its body says.
    for (const status of [500, 403]) {
      answer = json(status, { approved: true })
      expect((await denial(ask())).details.reason, String(status)).toBe('the policy webhook failed')
    }
    for (const [status, body] of [
      [200, { approved: 'true' }],
      [200, { approved: 1 }],
      [200, {}],
      [200, [true]],
      [200, true],
    ] as const) {
      answer = json(status, body)
      expect((await denial(ask())).details.reason, `${status} ${JSON.stringify(body)}`).toBe(
        'the policy webhook said no',
      )
    }
    // JSON null has no fields at all: it denies too (as a failed answer).
    answer = json(200, null)
    expect((await denial(ask())).details.reason).toBe('the policy webhook failed')
  })

  test('error: a 500 or a 200 that is not JSON denies: the policy webhook failed', async () => {
    for (const status of [200, 500]) {
      answer = (response) => {
        response.writeHead(status, { 'content-type': 'text/html' })
        response.end('<h1>oops</h1>')
      }
      expect((await denial(ask())).details.reason, String(status)).toBe('the policy webhook failed')
    }
  })

  test('error: a webhook that hangs past timeoutMs denies at the timeout: the policy webhook timed out', async () => {
    answer = () => {} // never answers
    const started = performance.now()
    const error = await denial(ask(150))
    const elapsed = performance.now() - started
    expect(error.details.reason).toBe('the policy webhook timed out')
    // At the timeout, not before (the webhook never answers: a wait for it would never end).
    expect(elapsed).toBeGreaterThanOrEqual(140)
  })

  test('error: headers in time but a body that never ends also times out', async () => {
    answer = (response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"approved":')
    }
    expect((await denial(ask(150))).details.reason).toBe('the policy webhook timed out')
  })

  test('error: a webhook nobody listens on denies: the policy webhook failed', async () => {
    const closed = createServer()
    const url = `${await listen(closed)}/approve`
    await close(closed)
    const error = await denial(
      requireApproval(request, {
        approveTimeoutMs: 1_000,
        webhook: { url, timeoutMs: 2_000 },
        fetch: globalThis.fetch,
      }),
    )
    expect(error.details.reason).toBe('the policy webhook failed')
  })

  test('behavior: the approve hook runs first, then the webhook; both must say yes', async () => {
    const order: string[] = []
    answer = (response) => {
      order.push('webhook')
      json(200, { approved: true })(response)
    }
    await requireApproval(request, {
      approve: () => {
        order.push('approve')
        return true
      },
      approveTimeoutMs: 1_000,
      webhook: { url: `${base}/approve` },
      fetch: globalThis.fetch,
    })
    expect(order).toEqual(['approve', 'webhook'])
  })
})
