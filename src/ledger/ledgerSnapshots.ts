import { type EntryJson, spendFromJson, spendToJson } from './entryJson.js'
import type { EntryState, PendingPayment } from './Ledger.js'
import type { Lease, LedgerStateParts } from './ledgerState.js'

/** A live entry as a snapshot keeps it: its charges as they count now (an uncounted one is out of its window). */
export type SnapshotEntry = {
  id: string
  time: number
  state: EntryState
  spend: EntryJson['spend']
  charges: { key: string; limit: string; amount: string; windowMs?: number | undefined; counted: boolean }[]
  pending?: PendingPayment | undefined
  lease?: Lease | undefined
}

/** Everything folded entries left behind: budget sums beyond the live entries, and per-host totals. */
export type SnapshotTotals = {
  budgets: [key: string, folded: string][]
  groups: [host: string, network: string, asset: string, spent: string, unknown: string, folded: number][]
}

/** What a journal needs of a ledger state: its live entries and totals to write, and a way to read them back. */
export type Snapshots = {
  /** Live entries, for a snapshot. */
  liveEntries(): SnapshotEntry[]
  totals(): SnapshotTotals
  /** Rebuilds from a snapshot: totals first, then each live entry. */
  restoreTotals(totals: SnapshotTotals): void
  restoreEntry(entry: SnapshotEntry): void
  /** Live entries, budgets and hosts held: what a snapshot would write. */
  size(): number
}

/** The snapshot methods of a ledger state, for the file ledger: `createLedgerState(ledgerSnapshots)`. */
export function ledgerSnapshots({
  entries,
  budgets,
  groups,
  budgetFor,
  groupFor,
  add,
  lease,
}: LedgerStateParts): Snapshots {
  return {
    liveEntries() {
      return [...entries.values()]
        .sort((a, b) => a.time - b.time)
        .map((entry) => {
          return {
            id: entry.id,
            time: entry.time,
            state: entry.state,
            spend: spendToJson(entry.spend),
            charges: entry.held.map((held) => ({
              key: held.key,
              limit: '0',
              amount: held.amount.toString(),
              windowMs: held.windowMs,
              counted: held.counted,
            })),
            pending: entry.pending,
            lease: entry.lease,
          }
        })
    },
    totals() {
      // A budget's sum less what its live entries hold is what folded entries left in it.
      const folded = new Map([...budgets].map(([key, budget]) => [key, budget.used]))
      for (const entry of entries.values())
        for (const held of entry.held)
          if (held.counted) folded.set(held.key, (folded.get(held.key) ?? 0n) - held.amount)
      return {
        budgets: [...folded].map(([key, amount]) => [key, amount.toString()]),
        groups: [...groups.values()]
          .filter((group) => group.folded > 0)
          .map((group) => [
            group.host,
            group.network,
            group.asset,
            group.spent.toString(),
            group.unknown.toString(),
            group.folded,
          ]),
      }
    },
    restoreTotals(totals) {
      for (const [key, amount] of totals.budgets) budgetFor(key).used += BigInt(amount)
      for (const [host, network, asset, spent, unknown, folded] of totals.groups) {
        const group = groupFor({ host, network, asset, amount: 0n })
        group.spent += BigInt(spent)
        group.unknown += BigInt(unknown)
        group.folded += folded
      }
    },
    restoreEntry(snapshot) {
      const entry = add(
        { id: snapshot.id, time: snapshot.time, state: snapshot.state, spend: spendFromJson(snapshot.spend) },
        snapshot.charges.map((charge) => ({
          key: charge.key,
          limit: 0n,
          amount: BigInt(charge.amount),
          windowMs: charge.windowMs,
          counted: charge.counted,
        })),
      )
      entry.pending = snapshot.pending
      lease(entry, snapshot.lease)
    },
    size: () => entries.size + budgets.size + groups.size,
  }
}
