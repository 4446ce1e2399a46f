import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest'
import type { SessionStore, SessionToken } from '../../src/sessions/SessionStore.js'

/** How the contract reaches one session store; `reopen` opens the same store again (restart, other process). */
export type SessionHarness = {
  readonly name: string
  create(): Promise<{ store: SessionStore; reopen?: (() => Promise<SessionStore>) | undefined }>
  readonly shared?: boolean | undefined
  /**
   * `ttl`: `lock` is exclusive, and a holder that stops renewing loses it after its TTL (memory,
   * file, Redis). `granted`: every lock is granted (Web Storage where the browser has no Web Locks).
   */
  readonly locks: 'ttl' | 'granted'
  setup?: (() => Promise<void>) | undefined
  cleanup?: (() => Promise<void>) | undefined
  teardown?: (() => Promise<void>) | undefined
}

export const origin = 'https://api.example.com'
export const credential = (token: string, expiresAt?: number): SessionToken => ({
  protocol: 'l402',
  headers: { authorization: `L402 ${token}:${'ab'.repeat(32)}` },
  ...(expiresAt === undefined ? {} : { expiresAt }),
})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The rules every session store keeps: round trips, replacement, delete, and expiry. */
export function sessionContract(harness: SessionHarness): void {
  describe(`${harness.name}: the session store contract`, () => {
    if (harness.setup) beforeAll(harness.setup)
    if (harness.teardown) afterAll(harness.teardown)
    if (harness.cleanup) afterEach(harness.cleanup)
    const fresh = async () => (await harness.create()).store

    test('behavior: a credential round-trips per key; other keys stay empty', async () => {
      const store = await fresh()
      expect(await store.get(origin)).toBeUndefined()
      const stored = credential('AgEDbG9j', Date.now() + 3_600_000)
      await store.set(origin, stored)
      expect(await store.get(origin)).toEqual(stored)
      expect(await store.get('https://api.example.com:8443')).toBeUndefined()
      expect(await store.get('http://api.example.com')).toBeUndefined()
    })

    test('behavior: set replaces the credential of a key; delete removes it (and deleting nothing is fine)', async () => {
      const store = await fresh()
      await store.set(origin, credential('first'))
      await store.set(origin, credential('second'))
      expect(await store.get(origin)).toEqual(credential('second'))
      await store.delete(origin)
      expect(await store.get(origin)).toBeUndefined()
      await expect(Promise.resolve(store.delete('https://never.example.com'))).resolves.toBeUndefined()
    })

    test('behavior: a credential without expiresAt does not expire', async () => {
      const store = await fresh()
      await store.set(origin, credential('forever'))
      await sleep(30)
      expect(await store.get(origin)).toEqual(credential('forever'))
    })

    test('behavior: a credential is returned until its expiresAt and never after', async () => {
      const store = await fresh()
      const now = Date.now()
      // The store's clock is moved by hand: a slow store under load cannot race a real deadline.
      vi.useFakeTimers({ toFake: ['Date'], now })
      try {
        await store.set(origin, credential('short', now + 60_000))
        vi.setSystemTime(now + 59_999)
        expect(await store.get(origin)).toEqual(expect.objectContaining({ headers: credential('short').headers }))
        vi.setSystemTime(now + 60_000)
        expect(await store.get(origin)).toBeUndefined()
      } finally {
        vi.useRealTimers()
      }
    })

    test('policy: setting an already expired credential replaces the old one: neither is returned', async () => {
      const store = await fresh()
      await store.set(origin, credential('old', Date.now() + 3_600_000))
      await store.set(origin, credential('revoked', Date.now() - 1))
      expect(await store.get(origin)).toBeUndefined()
    })

    const lockOf = (store: SessionStore) => {
      if (!store.lock) throw new Error(`${harness.name} has no lock`)
      return store.lock.bind(store)
    }

    if (harness.locks === 'granted')
      test('behavior: without a way to lock, every lock is granted and releasing it is harmless', async () => {
        const lock = lockOf(await fresh())
        const [first, second] = [await lock(origin, 60_000), await lock(origin, 60_000)]
        expect(first && second).toBeTruthy()
        await first?.release()
        expect(await second?.renew()).toBe(true)
      })

    if (harness.locks === 'ttl') {
      test('policy: a lock has one holder at a time: others are refused until it is released; locks of other keys are free', async () => {
        const store = await fresh()
        const lock = lockOf(store)
        const held = await lock(origin, 60_000)
        expect(held).toBeDefined()
        expect(await lock(origin, 60_000)).toBeUndefined()
        const other = await lock('https://other.example.com', 60_000)
        expect(other).toBeDefined()
        expect(await held?.renew()).toBe(true)
        expect(await lock(origin, 60_000)).toBeUndefined()
        await held?.release()
        const next = await lock(origin, 60_000)
        expect(next).toBeDefined()
        // The first holder letting go again does not free the next holder's lock.
        await held?.release()
        expect(await held?.renew()).toBe(false)
        expect(await lock(origin, 60_000)).toBeUndefined()
        await next?.release()
        await other?.release()
      })

      test('behavior: a holder that stops renewing (a dead process) loses the lock once its TTL passes; its late renew and release change nothing', async () => {
        const store = await fresh()
        const lock = lockOf(store)
        const dead = await lock(origin, 40)
        expect(dead).toBeDefined()
        // Polled until free: the TTL's end is a moment Redis or the file keeps, not one this test races.
        let taken: Awaited<ReturnType<typeof lock>>
        for (let tries = 0; !taken && tries < 500; tries++) {
          taken = await lock(origin, 60_000)
          if (!taken) await sleep(20)
        }
        expect(taken).toBeDefined()
        expect(await dead?.renew()).toBe(false)
        await dead?.release()
        expect(await lock(origin, 60_000)).toBeUndefined()
        await taken?.release()
      })

      if (harness.shared)
        test('policy: the lock is one across instances of the store (processes): one holder, the other refused until release', async () => {
          const { store, reopen } = await harness.create()
          if (!reopen) throw new Error(`${harness.name} is shared but gave no reopen`)
          const other = await reopen()
          const held = await lockOf(store)(origin, 60_000)
          expect(held).toBeDefined()
          expect(await lockOf(other)(origin, 60_000)).toBeUndefined()
          await held?.release()
          const theirs = await lockOf(other)(origin, 60_000)
          expect(theirs).toBeDefined()
          expect(await lockOf(store)(origin, 60_000)).toBeUndefined()
          await theirs?.release()
        })
    }

    if (harness.shared)
      test('behavior: the store opened again sees what the first one wrote, and its deletes', async () => {
        const { store, reopen } = await harness.create()
        if (!reopen) throw new Error(`${harness.name} is shared but gave no reopen`)
        await store.set(origin, credential('shared', Date.now() + 3_600_000))
        await store.set('https://other.example.com', credential('other'))
        const again = await reopen()
        expect(await again.get(origin)).toEqual(credential('shared', (await store.get(origin))?.expiresAt))
        await store.delete('https://other.example.com')
        expect(await (await reopen()).get('https://other.example.com')).toBeUndefined()
      })
  })
}
