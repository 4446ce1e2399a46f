import { describe, expect, test, vi } from 'vitest'
import { memorySessions } from '../../src/sessions/SessionStore.js'
import { credential, origin, sessionContract } from './sessionContract.js'

sessionContract({ name: 'memorySessions', locks: 'ttl', create: async () => ({ store: memorySessions() }) })

describe('memorySessions', () => {
  test('behavior: expiry is exact to the millisecond: valid before expiresAt, gone at it', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 })
    try {
      const store = memorySessions()
      store.set(origin, credential('t', 1_700_000_001_000))
      vi.setSystemTime(1_700_000_000_999)
      expect(store.get(origin)).toEqual(credential('t', 1_700_000_001_000))
      vi.setSystemTime(1_700_000_001_000)
      expect(store.get(origin)).toBeUndefined()
      // Expired entries are dropped on read, not resurrected by a clock going back.
      vi.setSystemTime(1_700_000_000_000)
      expect(store.get(origin)).toBeUndefined()
    } finally {
      vi.useRealTimers()
    }
  })

  test('behavior: each store is its own: two stores share nothing', () => {
    const [a, b] = [memorySessions(), memorySessions()]
    a.set(origin, credential('a'))
    expect(b.get(origin)).toBeUndefined()
  })
})
