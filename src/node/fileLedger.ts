import { type EntryJson, entryFromJson, entryToJson } from '../ledger/entryJson.js'
import type { EntryState, Ledger, PendingPayment } from '../ledger/Ledger.js'
import { ledgerSnapshots, type SnapshotEntry, type SnapshotTotals } from '../ledger/ledgerSnapshots.js'
import { createLedgerState, type Lease, leaseOption, notHeld } from '../ledger/ledgerState.js'
import { openJournal } from './journal.js'

type Record =
  | { op: 'reserve'; entry: EntryJson; lease?: Lease | undefined }
  | { op: 'state'; id: string; state: EntryState; settled?: EntryJson | undefined }
  | { op: 'pending'; pending: PendingPayment; lease?: Lease | undefined }
  | { op: 'lease'; id: string; lease: Lease }
  // A compacted journal starts with what folded entries left, then one record per live entry.
  | { op: 'snapshot'; totals: SnapshotTotals }
  | { op: 'entry'; entry: SnapshotEntry }

/** Options of {@link fileLedger}. */
export type FileLedgerOptions = {
  /**
   * How long a reservation's lease lasts, in ms (default 300 000: five minutes). A process that
   * dies before its proof left holds the reservation's room that long; a live one renews it every
   * third of it, however long its `approve` hook or wallet takes.
   *
   * @example
   * ```ts
   * const ledger = await fileLedger('./payfetch-ledger.jsonl', { leaseMs: 60_000 })
   * ```
   */
  leaseMs?: number | undefined
  /**
   * Records the journal may hold beyond what still counts before it is rewritten as a snapshot of
   * what still counts (default 10 000, or half the live entries when that is more, so a rewrite
   * costs a constant share of the appends).
   *
   * @example
   * ```ts
   * const ledger = await fileLedger('./payfetch-ledger.jsonl', { compactAfter: 50_000 })
   * ```
   */
  compactAfter?: number | undefined
  /** The clock of leases and of `report`'s windows, in Unix ms. Default `Date.now`; for tests. */
  now?: (() => number) | undefined
}

/** A {@link Ledger} in a file, which holds the file open until `close()`. */
export type FileLedger = Ledger & {
  /** Closes the journal after the writes under way; the ledger cannot be used afterwards. */
  close(): Promise<void>
}

/**
 * A ledger in an append-only journal file. It survives `kill -9` (a torn last line is skipped, a
 * whole line counts once) and processes on one machine that share the file share the budget: a
 * lock directory beside it makes check-and-reserve atomic.
 *
 * In memory it keeps what the memory ledger keeps (running sums per budget, the entries inside a
 * window or pending), so `reserve` does not slow down with history. The journal is compacted once
 * it holds `compactAfter` records: a snapshot of what still counts is written beside it, flushed,
 * and renamed over it (a crash leaves one whole file or the other); other processes sharing it
 * notice and reload. Reservations are leased to the process that made them (see `leaseMs`).
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
export async function fileLedger(path: string, options: FileLedgerOptions = {}): Promise<FileLedger> {
  const leaseMs = leaseOption(options.leaseMs)
  const now = options.now ?? Date.now
  const compactAfter = options.compactAfter ?? 10_000
  let state = createLedgerState(ledgerSnapshots)
  const journal = await openJournal(
    path,
    (raw) => {
      const record = raw as Record
      switch (record.op) {
        case 'reserve':
          return state.insert(entryFromJson(record.entry), record.lease)
        case 'pending':
          return state.savePending(record.pending, record.lease)
        case 'lease':
          return state.setLease(record.id, record.lease)
        case 'snapshot':
          return state.restoreTotals(record.totals)
        case 'entry':
          return state.restoreEntry(record.entry)
        case 'state': {
          if (record.state === 'committed') {
            const settled = record.settled && entryFromJson(record.settled)
            return state.commit(record.id, settled && { spend: settled.spend, charges: settled.charges })
          }
          if (record.state === 'released') return state.release(record.id)
          if (record.state === 'unknown') return state.markUnknown(record.id)
          if (record.state === 'refused') return state.markRefused(record.id)
        }
      }
    },
    () => {
      state = createLedgerState(ledgerSnapshots)
    },
  )
  const leaseFor = (owner: string | undefined) => (owner === undefined ? undefined : { owner, until: now() + leaseMs })
  type Writer = Parameters<Parameters<typeof journal.locked>[0]>[0]
  // Rewrites the journal as a snapshot once it holds far more records than what still counts.
  const compact = async (writer: Writer) => {
    if (journal.records - state.size() < Math.max(compactAfter, state.size() / 2)) return
    const records: Record[] = [
      { op: 'snapshot', totals: state.totals() },
      ...state.liveEntries().map((entry): Record => ({ op: 'entry', entry })),
    ]
    await writer.rewrite(records)
  }
  const write = <T>(work: (writer: Writer) => Promise<T>) =>
    journal.locked(async (writer) => {
      const result = await work(writer)
      await compact(writer)
      return result
    })
  const setState = (id: string, next: EntryState) =>
    write(async (writer) => {
      // Nothing to write for an id folded, released or never reserved: it would change nothing.
      if (state.has(id)) await writer.append({ op: 'state', id, state: next })
    })
  return {
    leaseMs,
    close: () => journal.close(),
    reserve: (reservation) =>
      write(async (writer) => {
        const time = now()
        for (const id of state.expiredLeases(time)) await writer.append({ op: 'state', id, state: 'released' })
        const result = state.check(reservation)
        if (result.ok)
          await writer.append({
            op: 'reserve',
            entry: entryToJson({ ...reservation, state: 'reserved' }),
            lease: leaseFor(reservation.owner),
          })
        return result
      }),
    claim: (id, owner) =>
      write(async (writer) => {
        const result = state.claimable(id, owner, now(), leaseMs)
        if (result.ok) await writer.append({ op: 'lease', id, lease: { owner, until: result.until } })
        return result
      }),
    commit: (id, settled) =>
      write(async (writer) => {
        if (!state.has(id)) return
        const json = settled && entryToJson({ id, time: 0, state: 'committed', ...settled })
        await writer.append({ op: 'state', id, state: 'committed', settled: json })
      }),
    release: (id) => setState(id, 'released'),
    markUnknown: (id) => setState(id, 'unknown'),
    markRefused: (id) => setState(id, 'refused'),
    savePending: (pending, owner) =>
      write(async (writer) => {
        if (!state.holds(pending.id)) throw notHeld(pending.id)
        await writer.append({ op: 'pending', pending, lease: leaseFor(owner) })
      }),
    async pending() {
      await journal.refresh()
      return state.pending()
    },
    async report(rules = []) {
      await journal.refresh()
      return state.report(rules, now())
    },
  }
}
