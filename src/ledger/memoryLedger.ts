import type { Ledger } from './Ledger.js'
import { createLedgerState, leaseOption, notHeld } from './ledgerState.js'

/** Options of {@link memoryLedger}. */
export type MemoryLedgerOptions = {
  /**
   * How long a reservation's lease lasts, in ms (default 300 000). In one process a lease only
   * ends for a call that stopped renewing without settling, which payfetch never does; the option
   * is here so every ledger has the same shape.
   */
  leaseMs?: number | undefined
  /** The clock of leases and of `report`'s windows, in Unix ms. Default `Date.now`; for tests. */
  now?: (() => number) | undefined
}

/**
 * The default ledger: reservations in this process's memory. Budgets hold across concurrent calls
 * of every paying fetch that shares it; use the Redis ledger to share them across processes.
 *
 * Each budget keeps a running sum, so `reserve` costs the same after a million payments as after
 * one. Charges to windowed budgets leave their budget's sum as the window passes over them (for
 * good: a later reservation dated earlier does not bring them back). An entry that no longer
 * changes anything (released, or committed, refused or unknown without a pending payment and out
 * of every window it was charged to) is folded into the report's per-host totals and dropped;
 * budgets without a window keep it as part of their sum. Memory stays bounded by the payments
 * inside the windows, the pending ones, and the budgets and hosts seen. A folded entry's state is
 * final: later calls with its id are ignored, as for an id never reserved.
 *
 * @example
 * ```ts
 * import { createPayingFetch, memoryLedger } from 'payfetch'
 *
 * const ledger = memoryLedger()
 * const fetchPaid = createPayingFetch({ signers, ledger, caps: { budgets: [{ usd: '5', window: '1d' }] } })
 * ```
 */
export function memoryLedger(options: MemoryLedgerOptions = {}): Ledger {
  const leaseMs = leaseOption(options.leaseMs)
  const now = options.now ?? Date.now
  const state = createLedgerState()
  const leaseFor = (owner: string | undefined) => (owner === undefined ? undefined : { owner, until: now() + leaseMs })

  return {
    leaseMs,
    // No await between the check and the insert: atomic within this process.
    async reserve(reservation) {
      for (const id of state.expiredLeases(now())) state.release(id)
      const result = state.check(reservation)
      if (result.ok) state.insert(reservation, leaseFor(reservation.owner))
      return result
    },
    async claim(id, owner) {
      const result = state.claimable(id, owner, now(), leaseMs)
      if (result.ok) state.setLease(id, { owner, until: result.until })
      return result
    },
    async commit(id, settled) {
      state.commit(id, settled)
    },
    async release(id) {
      state.release(id)
    },
    async savePending(pending, owner) {
      if (!state.holds(pending.id)) throw notHeld(pending.id)
      state.savePending(pending, leaseFor(owner))
    },
    async markUnknown(id) {
      state.markUnknown(id)
    },
    async markRefused(id) {
      state.markRefused(id)
    },
    async pending() {
      return state.pending()
    },
    async report(rules = []) {
      return state.report(rules, now())
    },
  }
}
