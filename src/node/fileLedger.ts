import { type EntryJson, entryFromJson, entryToJson } from '../ledger/entryJson.js'
import type { EntryState, Ledger, PendingPayment } from '../ledger/Ledger.js'
import { checkCharges, type LedgerEntry, reportOf } from '../ledger/ledgerEntries.js'
import { openJournal } from './journal.js'

type Record =
  | { op: 'reserve'; entry: EntryJson }
  | { op: 'state'; id: string; state: EntryState; settled?: EntryJson | undefined }
  | { op: 'pending'; pending: PendingPayment }

/**
 * A ledger in an append-only journal file. It survives `kill -9` (a torn last line is skipped, a
 * whole line counts once) and processes on one machine that share the file share the budget: a
 * lock directory beside it makes check-and-reserve atomic.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { fileLedger } from 'payfetch/node'
 *
 * const ledger = await fileLedger('./payfetch-ledger.jsonl')
 * const fetchPaid = createPayingFetch({ signers, ledger, caps: { budgets: [{ usd: '5', window: '1d' }] } })
 * ```
 */
export async function fileLedger(path: string): Promise<Ledger> {
  const entries = new Map<string, LedgerEntry>()
  const journal = await openJournal(path, (raw) => {
    const record = raw as Record
    if (record.op === 'reserve') {
      const entry = entryFromJson(record.entry)
      entries.set(entry.id, entry)
      return
    }
    const entry = entries.get(record.op === 'state' ? record.id : record.pending.id)
    if (!entry) return
    if (record.op === 'pending') entry.pending = record.pending
    else {
      if (record.settled) {
        const { spend, charges } = entryFromJson(record.settled)
        Object.assign(entry, { spend, charges })
      }
      entry.state = record.state
      if (record.state !== 'unknown') entry.pending = undefined
    }
  })
  const setState = (id: string, state: EntryState) => journal.locked((append) => append({ op: 'state', id, state }))
  return {
    reserve: (reservation) =>
      journal.locked(async (append) => {
        const result = checkCharges(entries.values(), reservation)
        if (result.ok) await append({ op: 'reserve', entry: entryToJson({ ...reservation, state: 'reserved' }) })
        return result
      }),
    commit: (id, settled) =>
      journal.locked(async (append) => {
        const entry = entries.get(id)
        const json = settled && entry && entryToJson({ ...entry, ...settled })
        await append({ op: 'state', id, state: 'committed', settled: json })
      }),
    release: (id) => setState(id, 'released'),
    markUnknown: (id) => setState(id, 'unknown'),
    markRefused: (id) => setState(id, 'refused'),
    savePending: (pending) => journal.locked((append) => append({ op: 'pending', pending })),
    async pending() {
      await journal.refresh()
      return [...entries.values()].flatMap((entry) => (entry.pending ? [entry.pending] : []))
    },
    async report(rules = []) {
      await journal.refresh()
      return reportOf(entries.values(), rules, Date.now())
    },
  }
}
