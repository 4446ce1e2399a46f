import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { decodeBase64Json } from '../../examples/local-stack/http.js'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import { type SiwxServer, startSiwxServer } from '../../examples/local-stack/siwxServer.js'
import { evm } from '../../src/evm/index.js'
import {
  createPayingFetch,
  getReceipt,
  memorySessions,
  type PayfetchEvent,
  type SessionStore,
} from '../../src/index.js'
import { redisSessions } from '../../src/redis/index.js'
import { createPayfetchTools } from '../../src/tools/index.js'

// Sign-in-with-x against the x402 reference server (@x402/express) with the reference extension
// (@x402/extensions: declareSIWxExtension, createSIWxResourceServerExtension, InMemorySIWxStorage)
// and a facilitator settling on anvil: pay once, then re-access by signing a SIWE message.
let stack: EvmStack
let server: SiwxServer
let redis: RedisServer
const connections: Redis[] = []

beforeAll(async () => {
  ;[stack, redis] = await Promise.all([startEvmStack({ v1Routes: [] }), startRedis()])
  server = await startSiwxServer({ facilitatorUrl: stack.facilitatorUrl, token: stack.usdc, payTo: stack.payTo })
})

afterAll(async () => {
  await Promise.all(connections.map((connection) => connection.quit().catch(() => connection.disconnect())))
  await server?.close()
  await redis?.stop()
  await stack?.stop()
})

/** Sessions in the test Redis, each on its own connection, as each process of a fleet would have. */
function fleetSessions(prefix: string): SessionStore {
  const connection = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  connections.push(connection)
  return redisSessions({ redis: connection, prefix })
}

/** A funded payer, and a way to build paying fetches for it that record what went on the wire. */
async function payer() {
  const account = stack.newAccount()
  await stack.mint(stack.usdc, account.address, 1_000_000n)
  const sent: { url: string; payment: boolean; signIn: string | null }[] = []
  const events: PayfetchEvent[] = []
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    sent.push({
      url: request.url,
      payment: request.headers.has('payment-signature'),
      signIn: request.headers.get('sign-in-with-x'),
    })
    return fetch(request)
  }
  const fetchFor = (sessions: SessionStore) =>
    createPayingFetch({
      signers: [evm({ account })],
      sessions,
      fetch: recording,
      onEvent: (event) => void events.push(event),
    })
  const balances = async () => ({
    payer: await stack.balanceOf(stack.usdc, account.address),
    payTo: await stack.balanceOf(stack.usdc, stack.payTo),
  })
  return { account, sent, events, fetchFor, balances }
}

describe('x402 sign-in-with-x on a local chain', () => {
  test('behavior: the first call pays; the second signs in instead: no balance change, no second payment, nothing settled', async () => {
    const { account, sent, events, fetchFor, balances } = await payer()
    const fetchPaid = fetchFor(memorySessions())
    const start = await balances()
    const settlements = stack.settlements.length

    const first = await fetchPaid(`${server.url}/report`)
    expect([first.status, await first.json()]).toEqual([200, { report: 'quarterly' }])
    expect(getReceipt(first)).toMatchObject({ protocol: 'x402', amount: 10_000n, payer: account.address })
    const paid = await balances()
    expect(paid).toEqual({ payer: start.payer - 10_000n, payTo: start.payTo + 10_000n })
    expect(stack.settlements.length).toBe(settlements + 1)
    expect(server.storage.hasPaid('/report', account.address)).toBe(true)

    events.length = 0
    const again = await fetchPaid(`${server.url}/report`)
    expect([again.status, await again.json()]).toEqual([200, { report: 'quarterly' }])
    // Nothing paid: no receipt, the balances and the facilitator untouched, the ledger empty of it.
    expect(getReceipt(again)).toBeUndefined()
    expect(await balances()).toEqual(paid)
    expect(stack.settlements.length).toBe(settlements + 1)
    expect((await fetchPaid.spendReport()).totals).toMatchObject([{ spent: 10_000n, reserved: 0n, unknown: 0n }])
    expect(events.map((event) => event.type)).toEqual(['siwx.accepted'])
    expect(events[0]).toMatchObject({ address: account.address, chainId: stack.v2Network, status: 200 })
    expect(server.events.at(-1)).toMatchObject({ type: 'access_granted', resource: '/report' })
    // On the wire: the first call's 402 and paid replay, then a 402 and the signed request; one payment in all.
    expect(sent.map(({ payment, signIn }) => [payment, signIn !== null])).toEqual([
      [false, false],
      [true, false],
      [false, false],
      [false, true],
    ])
    const signed = decodeBase64Json(sent[3]?.signIn as string) as Record<string, unknown>
    expect(signed).toMatchObject({
      domain: new URL(server.url).host,
      address: account.address,
      chainId: stack.v2Network,
      type: 'eip191',
      statement: 'Sign in to read again what you paid for',
    })
  })

  test('behavior: quote() says a call would sign in first once the resource was paid for, and pays nothing', async () => {
    const { account, fetchFor, balances } = await payer()
    const sessions = memorySessions()
    const fetchPaid = fetchFor(sessions)
    const before = await fetchPaid.quote(`${server.url}/report`)
    expect(before.signInFirst).toBeUndefined()
    expect(before.best).toMatchObject({ amount: 10_000n })
    expect((await fetchPaid(`${server.url}/report`)).status).toBe(200)
    const paid = await balances()
    const after = await fetchPaid.quote(`${server.url}/report`)
    expect(after.signInFirst).toEqual({ address: account.address, network: stack.v2Network })
    expect(after.best).toMatchObject({ amount: 10_000n }) // paid only if the server declines the sign-in
    expect((await fetchPaid.quote(`${server.url}/other`)).signInFirst).toBeUndefined()
    // The agent tool says so too.
    const tools = createPayfetchTools({ payfetch: { signers: [evm({ account })], sessions } })
    expect(await tools.get('quote_fetch')?.run({ url: `${server.url}/report` })).toMatchObject({
      ok: true,
      output: { status: 402, sign_in_first: { address: account.address, network: stack.v2Network } },
    })
    expect(await balances()).toEqual(paid)
  })

  test('behavior: a fresh paying fetch sharing the sessions signs in too; one with empty sessions pays', async () => {
    const { fetchFor, balances, sent } = await payer()
    const sessions = memorySessions()
    await fetchFor(sessions)(`${server.url}/report`)
    const paid = await balances()
    const settlements = stack.settlements.length

    const shared = await fetchFor(sessions)(`${server.url}/report`)
    expect(shared.status).toBe(200)
    expect(getReceipt(shared)).toBeUndefined()
    expect(await balances()).toEqual(paid)
    expect(stack.settlements.length).toBe(settlements)

    const fresh = await fetchFor(memorySessions())(`${server.url}/report`)
    expect(fresh.status).toBe(200)
    expect(getReceipt(fresh)).toMatchObject({ amount: 10_000n })
    expect(await balances()).toEqual({ payer: paid.payer - 10_000n, payTo: paid.payTo + 10_000n })
    expect(stack.settlements.length).toBe(settlements + 1)
    // The empty sessions held no entitlement: nothing was signed before paying.
    expect(sent.slice(4).map(({ signIn }) => signIn)).toEqual([null, null])
  })

  test('behavior: across a fleet: another paying fetch on its own Redis connection signs in where the first paid', async () => {
    const { fetchFor, balances } = await payer()
    const prefix = `siwx:${crypto.randomUUID()}:`
    await fetchFor(fleetSessions(prefix))(`${server.url}/report`)
    const paid = await balances()
    const settlements = stack.settlements.length
    const elsewhere = await fetchFor(fleetSessions(prefix))(`${server.url}/report`)
    expect([elsewhere.status, await elsewhere.json()]).toEqual([200, { report: 'quarterly' }])
    expect(getReceipt(elsewhere)).toBeUndefined()
    expect(await balances()).toEqual(paid)
    expect(stack.settlements.length).toBe(settlements)
  })

  test('behavior: the entitlement is per path: a path not paid for is paid, never signed for', async () => {
    const { fetchFor, balances, sent } = await payer()
    const fetchPaid = fetchFor(memorySessions())
    await fetchPaid(`${server.url}/report`)
    const paid = await balances()
    const other = await fetchPaid(`${server.url}/other`)
    expect([other.status, await other.json()]).toEqual([200, { report: 'other' }])
    expect(getReceipt(other)).toMatchObject({ amount: 10_000n })
    expect(await balances()).toEqual({ payer: paid.payer - 10_000n, payTo: paid.payTo + 10_000n })
    expect(sent.filter(({ signIn }) => signIn !== null)).toEqual([])
  })

  test('behavior: a server that forgot the payment answers the signature with 402, and the call pays once', async () => {
    const { account, fetchFor, balances, events } = await payer()
    const forgetful = await startSiwxServer({
      facilitatorUrl: stack.facilitatorUrl,
      token: stack.usdc,
      payTo: stack.payTo,
    })
    try {
      const sessionsThere = memorySessions()
      await fetchFor(sessionsThere)(`${forgetful.url}/report`)
      // Its storage is gone (a restart): the sign-in is refused, so the call pays.
      forgetful.storage.hasPaid = () => false
      const paid = await balances()
      events.length = 0
      const response = await fetchFor(sessionsThere)(`${forgetful.url}/report`)
      expect(response.status).toBe(200)
      expect(getReceipt(response)).toMatchObject({ amount: 10_000n, payer: account.address })
      expect(await balances()).toEqual({ payer: paid.payer - 10_000n, payTo: paid.payTo + 10_000n })
      expect(events.map((event) => event.type)).toEqual([
        'siwx.declined',
        'challenge',
        'offer.chosen',
        'payment.sent',
        'receipt',
      ])
    } finally {
      await forgetful.close()
    }
  })
})
