import { type EntryJson, entryFromJson, entryToJson } from '../ledger/entryJson.js'
import type { EntryState, Ledger } from '../ledger/Ledger.js'
import { checkCharges, type LedgerEntry, reportOf } from '../ledger/ledgerEntries.js'
import { storageLock } from './withStorageLock.js'

export type StorageLedgerOptions = {
  /** A Web Storage object. Default: `localStorage`. */
  storage?: Storage | undefined
  /** The storage key. Default `payfetch:ledger`. */
  key?: string | undefined
}

/**
 * A ledger in Web Storage, so budgets hold across reloads; tabs share it through the Web Locks
 * API. Entries older than every budget window are kept until `report` prunes released ones.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { storageLedger } from 'payfetch/browser'
 *
 * const fetchPaid = createPayingFetch({ signers, ledger: storageLedger(), caps: { budgets: [{ usd: '1', window: '1d' }] } })
 * ```
 */
export function storageLedger(options: StorageLedgerOptions = {}): Ledger {
  const key = options.key ?? 'payfetch:ledger'
  const storage = () => options.storage ?? (globalThis as { localStorage?: Storage }).localStorage
  const lock = storageLock(key)
  const read = (): Map<string, LedgerEntry> => {
    const raw = storage()?.getItem(key)
    const list = raw ? (JSON.parse(raw) as EntryJson[]) : []
    return new Map(list.map((json) => [json.id, entryFromJson(json)]))
  }
  const write = (entries: Map<string, LedgerEntry>) => storage()?.setItem(key, JSON.stringify([...entries.values()].map(entryToJson)))
  const update = (id: string, change: (entry: LedgerEntry) => void) =>
    lock(async () => {
      const entries = read()
      const entry = entries.get(id)
      if (!entry) return
      change(entry)
      write(entries)
    })
  const setState = (id: string, state: EntryState) =>
    update(id, (entry) => {
      entry.state = state
      if (state !== 'unknown') entry.pending = undefined
    })
  return {
    reserve: (reservation) =>
      lock(async () => {
        const entries = read()
        const result = checkCharges(entries.values(), reservation)
        if (result.ok) {
          entries.set(reservation.id, { ...reservation, state: 'reserved' })
          write(entries)
        }
        return result
      }),
    commit: (id) => setState(id, 'committed'),
    release: (id) => setState(id, 'released'),
    markUnknown: (id) => setState(id, 'unknown'),
    markRefused: (id) => setState(id, 'refused'),
    savePending: (pending) => update(pending.id, (entry) => (entry.pending = pending)),
    pending: async () => [...read().values()].flatMap((entry) => (entry.pending ? [entry.pending] : [])),
    report: async (rules = []) => reportOf(read().values(), rules, Date.now()),
  }
}
