import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import { createPayingFetch, memorySessions, type SessionStore, type SessionToken } from '../../src/index.js'
import { type LightningWallet, lightning } from '../../src/lightning/index.js'

// L402 tokens are credentials: stored per origin after a paid call, sent before the next one,
// evicted when the server answers 402 to them, and shared by concurrent calls (one payment).
let stack: LightningStack

beforeAll(async () => {
  stack = await startLightningStack()
})

afterAll(async () => {
  await stack?.stop()
})

function countingWallet(delayMs = 0) {
  const calls: string[] = []
  const wallet: LightningWallet = {
    name: 'counting',
    async payInvoice(invoice) {
      calls.push(invoice)
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs))
      return stack.node.pay(invoice)
    },
  }
  return { wallet, calls }
}

describe('L402 token reuse', () => {
  test('behavior: the paid token is stored for the origin and sent before the next call, which pays nothing', async () => {
    const server = await stack.l402Server()
    const { wallet, calls } = countingWallet()
    const stored: [string, SessionToken][] = []
    const memory = memorySessions()
    const sessions: SessionStore = {
      ...memory,
      set: (key, credential) => (stored.push([key, credential]), memory.set(key, credential)),
    }
    const fetchPaid = createPayingFetch({ signers: [lightning({ wallet, networks: ['regtest'] })], sessions })

    expect((await fetchPaid(`${server.url}/a`)).status).toBe(200)
    expect(stored).toEqual([
      [
        server.url,
        { protocol: 'l402', headers: { authorization: server.authorizations[0] }, expiresAt: expect.any(Number) },
      ],
    ])
    expect(stored[0]?.[1].expiresAt).toBeGreaterThan(Date.now() + 3_500_000)

    const second = await fetchPaid(`${server.url}/b`)
    expect(second.status).toBe(200)
    expect(await second.json()).toEqual({ ok: true, path: '/b' })
    expect(calls).toHaveLength(1)
    expect(server.stats).toEqual({ challenges: 1, accepted: 2, refused: 0 })
    expect(server.authorizations).toEqual([server.authorizations[0], server.authorizations[0]])
  })

  test('behavior: a 402 to a stored token evicts it, and the new challenge is paid within the same call', async () => {
    const server = await stack.l402Server()
    const { wallet, calls } = countingWallet()
    const fetchPaid = createPayingFetch({ signers: [lightning({ wallet, networks: ['regtest'] })] })
    expect((await fetchPaid(`${server.url}/a`)).status).toBe(200)

    server.rotateRootKey() // the server forgets every token it issued (redeploy, revocation)
    const response = await fetchPaid(`${server.url}/b`)
    expect(response.status).toBe(200)
    expect(calls).toHaveLength(2)
    expect(server.stats).toEqual({ challenges: 2, accepted: 2, refused: 1 })

    // The new token is the one kept.
    expect((await fetchPaid(`${server.url}/c`)).status).toBe(200)
    expect(calls).toHaveLength(2)
    expect(server.authorizations.at(-1)).toBe(server.authorizations.at(-2))
  })

  test('policy: a token past its <service>_valid_until caveat is not sent; the next call pays a fresh challenge', async () => {
    // The clock is the test's: only Date moves (the server reads it too), timers and sockets run as ever.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    try {
      const server = await stack.l402Server({ tokenTtlSeconds: 2 })
      const { wallet, calls } = countingWallet()
      const fetchPaid = createPayingFetch({ signers: [lightning({ wallet, networks: ['regtest'] })] })
      expect((await fetchPaid(`${server.url}/a`)).status).toBe(200)
      vi.setSystemTime(Date.now() + 1_000)
      expect((await fetchPaid(`${server.url}/a`)).status).toBe(200)
      expect(calls).toHaveLength(1)
      vi.setSystemTime(Date.now() + 1_100)
      expect((await fetchPaid(`${server.url}/b`)).status).toBe(200)
      expect(calls).toHaveLength(2)
      expect(server.stats.refused).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  test('behavior: 50 concurrent requests to one L402 resource make exactly one wallet payment and all succeed', async () => {
    const server = await stack.l402Server()
    const { wallet, calls } = countingWallet(50)
    const fetchPaid = createPayingFetch({ signers: [lightning({ wallet, networks: ['regtest'] })] })
    const settled = stack.node.settled.length
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, index) => fetchPaid(`${server.url}/item/${index}`)),
    )
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200))
    expect(calls).toHaveLength(1)
    expect(stack.node.settled.length).toBe(settled + 1)
    expect(server.stats.accepted).toBe(50)
  })
})
