import { describe, expect, test } from 'vitest'
import { storageLedger } from '../../src/browser/storageLedger.js'
import { reservation } from '../support/ledgerFixtures.js'

// Node has no IndexedDB: the ledger contract, the two-tab race and the stored records run in
// Chromium (storage.test.ts). What stays here is what Node can show: failing closed.
describe('storageLedger', () => {
  test('error: with no IndexedDB at all (Node, server-side rendering) every operation fails closed instead of forgetting every spend', async () => {
    const ledger = storageLedger()
    await expect(ledger.reserve(reservation(1n))).rejects.toThrowErrorMatchingInlineSnapshot(
      `[PayfetchError: [INVALID_OPTIONS] storageLedger needs IndexedDB: pass options.indexedDB where globalThis.indexedDB is missing.]`,
    )
    for (const call of [
      () => ledger.commit('id'),
      () => ledger.savePending({} as never),
      () => ledger.pending(),
      () => ledger.report(),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'INVALID_OPTIONS' })
    }
    // Creating it is harmless (server-side rendering imports and builds it before any window exists).
    expect(() => storageLedger({ name: 'app', store: 'spends' })).not.toThrow()
  })

  test('behavior: options.indexedDB is the factory used, opened lazily under options.name', async () => {
    const opened: string[] = []
    const factory = {
      open(name: string) {
        opened.push(name)
        throw new DOMException('blocked by test', 'SecurityError')
      },
    } as unknown as IDBFactory
    const ledger = storageLedger({ indexedDB: factory, name: 'app' })
    expect(opened).toEqual([])
    await expect(ledger.reserve(reservation(1n))).rejects.toThrow('blocked by test')
    // A failed open is not cached: the next operation tries again.
    await expect(ledger.report()).rejects.toThrow('blocked by test')
    expect(opened).toEqual(['app', 'app'])
  })
})
