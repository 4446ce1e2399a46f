import { describe, expect, test } from 'vitest'
import { storageSessions } from '../../src/browser/storageSessions.js'
import { credential, origin, sessionContract } from '../sessions/sessionContract.js'
import { MemoryStorage } from '../support/browserStorage.js'

sessionContract({
  name: 'storageSessions (in-memory Storage)',
  locks: 'granted',
  shared: true,
  create: async () => {
    const storage = new MemoryStorage()
    return { store: storageSessions({ storage }), reopen: async () => storageSessions({ storage }) }
  },
})

describe('storageSessions', () => {
  test('behavior: each credential is one item under prefix + key, as JSON', () => {
    const storage = new MemoryStorage()
    storageSessions({ storage, prefix: 'app:' }).set(origin, credential('t', 1_900_000_000_000))
    expect([storage.length, storage.key(0)]).toEqual([1, `app:${origin}`])
    expect(JSON.parse(storage.getItem(`app:${origin}`) ?? 'null')).toEqual(credential('t', 1_900_000_000_000))
    expect(storageSessions({ storage }).get(origin)).toBeUndefined()
  })

  test('behavior: without a storage and without localStorage (Node), it stores nothing and fails nothing', () => {
    const store = storageSessions()
    expect(() => store.set(origin, credential('t'))).not.toThrow()
    expect(store.get(origin)).toBeUndefined()
  })
})
