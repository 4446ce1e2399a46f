import type { Ledger } from './Ledger.js'
import { checkCharges, type LedgerEntry, reportOf } from './ledgerEntries.js'

/**
 * The default ledger: reservations in this process's memory. Budgets hold across concurrent calls
 * of every paying fetch that shares it; use the Redis ledger to share them across processes.
 *
 * @example
 * ```ts
 * import { createPayingFetch, memoryLedger } from 'payfetch'
 *
 * const ledger = memoryLedger()
 * const fetchPaid = createPayingFetch({ signers, ledger, caps: { budgets: [{ usd: '5', window: '1d' }] } })
 * ```
 */
export function memoryLedger(): Ledger {
  const entries = new Map<string, LedgerEntry>()
  const setState = (id: string, state: LedgerEntry['state'], keepPending: boolean) => {
    const entry = entries.get(id)
    if (!entry) return
    entry.state = state
    if (!keepPending) entry.pending = undefined
  }
  return {
    // No await between the check and the insert: atomic within this process.
    async reserve(reservation) {
      const result = checkCharges(entries.values(), reservation)
      if (result.ok) entries.set(reservation.id, { ...reservation, state: 'reserved' })
      return result
    },
    async commit(id) {
      setState(id, 'committed', false)
    },
    async release(id) {
      setState(id, 'released', false)
    },
    async savePending(pending) {
      const entry = entries.get(pending.id)
      if (entry) entry.pending = pending
    },
    async markUnknown(id) {
      setState(id, 'unknown', true)
    },
    async markRefused(id) {
      setState(id, 'refused', false)
    },
    async pending() {
      return [...entries.values()].flatMap((entry) => (entry.pending ? [entry.pending] : []))
    },
    async report(rules = []) {
      return reportOf(entries.values(), rules, Date.now())
    },
  }
}
