import type { EntryState, PendingPayment, Reservation, ReserveResult, SpendReport } from './Ledger.js'
import type { Lease } from './ledgerState.js'

/** One reservation with its state, as the IndexedDB ledger keeps it. */
export type LedgerEntry = Reservation & {
  state: EntryState
  pending?: PendingPayment | undefined
  lease?: Lease | undefined
}

/** How much of `key`'s budget the entries use now (released entries and those outside the window do not count). */
export function usedBy(entries: Iterable<LedgerEntry>, key: string, windowMs: number | undefined, now: number): bigint {
  let used = 0n
  for (const entry of entries) {
    if (entry.state === 'released' || (windowMs !== undefined && entry.time <= now - windowMs)) continue
    for (const charge of entry.charges) if (charge.key === key) used += charge.amount
  }
  return used
}

/**
 * Checks every charge of a new reservation against the entries, for a ledger that keeps every entry
 * (IndexedDB). The memory, file and Redis ledgers apply the same rule to running sums.
 */
export function checkCharges(entries: Iterable<LedgerEntry>, reservation: Reservation): ReserveResult {
  const list = [...entries]
  for (const charge of reservation.charges) {
    const used = usedBy(list, charge.key, charge.windowMs, reservation.time)
    if (used + charge.amount > charge.limit) return { ok: false, key: charge.key, used, limit: charge.limit }
  }
  return { ok: true }
}

/** A budget as the report needs it; a per-host budget is reported once per host it was charged for. */
export type ReportRule = {
  readonly key: string
  readonly limit: bigint
  readonly windowMs?: number | undefined
  readonly perHost?: boolean | undefined
}

/** Builds the spend report from entries. */
export function reportOf(entries: Iterable<LedgerEntry>, rules: readonly ReportRule[], now: number): SpendReport {
  const list = [...entries]
  const totals = new Map<
    string,
    { host: string; network: string; asset: string; spent: bigint; reserved: bigint; unknown: bigint }
  >()
  for (const entry of list) {
    if (entry.state === 'released') continue
    const { host, network, asset, amount } = entry.spend
    const id = JSON.stringify([host, network, asset])
    const total = totals.get(id) ?? { host, network, asset, spent: 0n, reserved: 0n, unknown: 0n }
    if (entry.state === 'committed') total.spent += amount
    else if (entry.state === 'reserved') total.reserved += amount
    // Unknown and refused payments may have settled: reported apart from what surely was spent.
    else total.unknown += amount
    totals.set(id, total)
  }
  // Per-host budgets are charged under `key@host`: report each of those too.
  const keys = new Set(list.flatMap((entry) => entry.charges.map((charge) => charge.key)))
  const budgets = rules.flatMap((rule) =>
    (rule.perHost ? [...keys].filter((key) => key.startsWith(`${rule.key}@`)) : [rule.key]).map((key) => ({
      key,
      used: usedBy(list, key, rule.windowMs, now),
      limit: rule.limit,
      windowMs: rule.windowMs,
    })),
  )
  return { budgets, totals: [...totals.values()] }
}
