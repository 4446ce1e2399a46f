import { createServer, type IncomingHttpHeaders } from 'node:http'
import { parseSIWxHeader, validateSIWxMessage, verifySIWxSignature } from '@x402/extensions/sign-in-with-x'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import { close, listen } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import { entitlementKey } from '../../src/fetch/signInAgain.js'
import {
  createPayingFetch,
  getReceipt,
  memorySessions,
  type PayfetchError,
  type PayfetchEvent,
  type SessionStore,
} from '../../src/index.js'
import { type Merchant, requirement, type Seen, startMerchant } from '../support/merchant.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

// The paying loop's side of sign-in-with-x, against a loopback x402 merchant that checks proofs for
// real and checks sign-ins with the reference server's own functions (@x402/extensions). The chain
// and the reference server itself: test/e2e/x402-siwx.test.ts.
let merchant: Merchant
let elsewhere: { url: string; seen: IncomingHttpHeaders[]; close(): Promise<void> }
// What the merchant's sign-in-with-x declaration says, per test.
let info: (resourceUrl: string) => Record<string, unknown> = () => ({})

const nonce = () => crypto.randomUUID().replaceAll('-', '')

function declaration(resourceUrl: string) {
  return {
    'sign-in-with-x': {
      info: {
        domain: new URL(resourceUrl).host,
        uri: resourceUrl,
        version: '1',
        nonce: nonce(),
        issuedAt: new Date().toISOString(),
        resources: [resourceUrl],
        ...info(resourceUrl),
      },
      supportedChains: [{ chainId: 'eip155:84532', type: 'eip191' }],
      schema: {},
    },
  }
}

/** A valid sign-in from an address that paid this merchant, checked as the reference server does. */
async function signedInPayer(request: Seen): Promise<boolean> {
  const header = request.headers['sign-in-with-x']
  if (typeof header !== 'string') return false
  const payload = parseSIWxHeader(header)
  const valid = await validateSIWxMessage(payload, new URL(merchant.url))
  const verified = await verifySIWxSignature(payload)
  const address = payload.address.toLowerCase()
  return valid.isValid && verified.isValid && merchant.settled.some((entry) => entry.from.toLowerCase() === address)
}

beforeAll(async () => {
  const seen: IncomingHttpHeaders[] = []
  const other = createServer((request, response) => {
    seen.push(request.headers)
    response.end('elsewhere')
  })
  elsewhere = { url: await listen(other), seen, close: () => close(other) }
  merchant = await startMerchant(
    {
      '/report': async (request, response, self) => {
        if (await signedInPayer(request)) return void response.end('the report, again')
        await self.charge(request, response, [requirement()], () => response.end('the report'))
      },
      // Refuses a sign-in, quoting it in the offer it asks to be paid instead.
      '/quoting': async (request, response, self) => {
        const signIn = request.headers['sign-in-with-x']
        const description = signIn ? `sign-in ${signIn} refused` : 'test resource'
        await self.charge(request, response, [requirement({ description })], () => response.end('quoted'))
      },
      // Sends a signed-in request on to another origin.
      '/moved': async (request, response, self) => {
        if (await signedInPayer(request))
          return void response.writeHead(307, { location: `${elsewhere.url}/report` }).end()
        await self.charge(request, response, [requirement()], () => response.end('moved'))
      },
    },
    { extensions: declaration },
  )
})
afterAll(async () => {
  await merchant?.close()
  await elsewhere?.close()
})
afterEach(() => {
  info = () => ({})
  vi.useRealTimers()
})

function payer(options: { sessions?: SessionStore; budgetUsd?: string } = {}) {
  const account = privateKeyToAccount(generatePrivateKey())
  const events: PayfetchEvent[] = []
  const sessions = options.sessions ?? memorySessions()
  const fetchPaid = createPayingFetch({
    signers: [evm({ account })],
    sessions,
    caps: options.budgetUsd ? { budgets: [{ usd: options.budgetUsd, window: '1d' }] } : undefined,
    onEvent: (event) => void events.push(event),
  })
  return { account, events, sessions, fetchPaid }
}

const settledBy = (address: string) =>
  merchant.settled.filter((entry) => entry.from.toLowerCase() === address.toLowerCase()).length

describe('sign-in-with-x in the paying loop', () => {
  test('behavior: the sign-in comes before any offer is judged or reserved: with the budget spent, a paid-for resource is still read', async () => {
    const { account, events, fetchPaid } = payer({ budgetUsd: '0.01' })
    expect(await (await fetchPaid(`${merchant.url}/report`)).text()).toBe('the report')
    events.length = 0
    const again = await fetchPaid(`${merchant.url}/report`)
    expect([again.status, await again.text()]).toEqual([200, 'the report, again'])
    expect(getReceipt(again)).toBeUndefined()
    expect(events.map((event) => event.type)).toEqual(['siwx.accepted'])
    expect(settledBy(account.address)).toBe(1)
    expect((await fetchPaid.spendReport()).totals).toMatchObject([{ spent: 10_000n, reserved: 0n, unknown: 0n }])
  })

  test('behavior: the entitlement is kept under x402-siwx:<origin><path>, never under the origin where L402 tokens live', async () => {
    const { account, sessions, fetchPaid } = payer()
    await fetchPaid(`${merchant.url}/report?day=1`)
    expect(entitlementKey(`${merchant.url}/report?day=1`)).toBe(`x402-siwx:${merchant.url}/report`)
    expect(await sessions.get(`x402-siwx:${merchant.url}/report`)).toEqual({
      protocol: 'x402-siwx',
      headers: {},
      entitlement: { address: account.address, network: 'eip155:84532' },
    })
    expect(await sessions.get(merchant.url)).toBeUndefined()
    // The query is not part of the resource: the same path signs in.
    expect(await (await fetchPaid(`${merchant.url}/report?day=2`)).text()).toBe('the report, again')
  })

  test('policy: the SIWx header never goes to another origin: a redirect off the origin drops it', async () => {
    const { fetchPaid } = payer()
    await fetchPaid(`${merchant.url}/moved`)
    const before = merchant.seen.length
    const response = await fetchPaid(`${merchant.url}/moved`)
    expect(await response.text()).toBe('elsewhere')
    // The origin that asked saw the signature; the origin it redirected to did not.
    expect(merchant.seen.slice(before).map((seen) => typeof seen.headers['sign-in-with-x'])).toEqual([
      'undefined',
      'string',
    ])
    expect(elsewhere.seen.at(-1)?.['sign-in-with-x']).toBeUndefined()
  })

  test('behavior: the expirationTime of a challenge bounds its signature, not the entitlement: an hour later a fresh challenge is signed and nothing paid', async () => {
    const now = Date.now()
    vi.useFakeTimers({ toFake: ['Date'], now })
    try {
      // As the reference server does: every 402 says now + 60 s.
      info = () => ({ expirationTime: new Date(Date.now() + 60_000).toISOString() })
      const { account, sessions, events, fetchPaid } = payer()
      await fetchPaid(`${merchant.url}/report`)
      expect((await sessions.get(`x402-siwx:${merchant.url}/report`))?.expiresAt).toBeUndefined()
      vi.setSystemTime(now + 3_600_000)
      events.length = 0
      const later = await fetchPaid(`${merchant.url}/report`)
      expect(await later.text()).toBe('the report, again')
      expect(getReceipt(later)).toBeUndefined()
      expect(events.map((event) => event.type)).toContain('siwx.accepted')
      expect(settledBy(account.address)).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  })

  test('policy: a challenge a check refuses (another domain) is not signed; the call pays as usual and says why', async () => {
    const { account, events, fetchPaid } = payer()
    await fetchPaid(`${merchant.url}/report`)
    info = () => ({ domain: 'evil.example' })
    const before = merchant.seen.length
    events.length = 0
    const response = await fetchPaid(`${merchant.url}/report`)
    expect(await response.text()).toBe('the report')
    expect(events[0]).toMatchObject({ type: 'siwx.skipped', reason: expect.stringMatching(/domain "evil.example"/) })
    expect(merchant.seen.slice(before).every((seen) => seen.headers['sign-in-with-x'] === undefined)).toBe(true)
    expect(settledBy(account.address)).toBe(2)
  })

  test('behavior: an entitlement kept for an address no signer of this fetch signs in as is skipped with that reason; the call pays as usual', async () => {
    const { account, events, sessions, fetchPaid } = payer()
    const other = privateKeyToAccount(generatePrivateKey()).address
    await sessions.set(entitlementKey(`${merchant.url}/report`), {
      protocol: 'x402-siwx',
      headers: {},
      entitlement: { address: other, network: 'eip155:84532' },
    })
    const response = await fetchPaid(`${merchant.url}/report`)
    expect(await response.text()).toBe('the report')
    expect(getReceipt(response)).toBeDefined()
    expect(events[0]).toEqual({
      type: 'siwx.skipped',
      url: `${merchant.url}/report`,
      reason: `no signer signs in as ${other}, the address that paid`,
    })
    expect(merchant.seen.at(-1)?.headers['sign-in-with-x']).toBeUndefined()
    expect(settledBy(account.address)).toBe(1)
  })

  test('policy: a 402 quoting the sign-in it was sent reaches events and the error with no 24-character piece of it; nothing more is paid', async () => {
    const { account, events, fetchPaid } = payer({ budgetUsd: '0.01' })
    await fetchPaid(`${merchant.url}/quoting`)
    events.length = 0
    const error = (await failure(fetchPaid(`${merchant.url}/quoting`))) as PayfetchError
    expect(error.code).toBe('BUDGET_EXHAUSTED')
    expect(events.map((event) => event.type)).toEqual(['siwx.declined', 'challenge', 'refusal'])
    const sent = String(merchant.seen.at(-1)?.headers['sign-in-with-x'])
    const { signature } = parseSIWxHeader(sent)
    const shown = JSON.stringify([events, error.message, error.details], (_, value) =>
      typeof value === 'bigint' ? String(value) : value,
    )
    expect(shown).toContain('sign-in [proof] refused')
    for (const secret of [sent, signature.slice(2)])
      for (let at = 0; at + 24 <= secret.length; at += 8) expect(shown).not.toContain(secret.slice(at, at + 24))
    expect(settledBy(account.address)).toBe(1)
  })

  test('error: a sessions store that cannot read the entitlement refuses with STORE_FAILED; nothing is paid', async () => {
    const sessions = memorySessions()
    const { account, fetchPaid } = payer({
      sessions: {
        ...sessions,
        get: (key) => (key.startsWith('x402-siwx:') ? Promise.reject(new Error('down')) : sessions.get(key)),
      },
    })
    await expect(fetchPaid(`${merchant.url}/report`)).rejects.toMatchObject({
      code: 'STORE_FAILED',
      details: { store: 'sessions', operation: 'get', paid: false },
    })
    expect(settledBy(account.address)).toBe(0)
  })
})
