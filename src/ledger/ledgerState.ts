import type { Charge } from '../caps/budgets.js'
import { PayfetchError } from '../errors/PayfetchError.js'
import type {
  ClaimResult,
  EntryState,
  PendingPayment,
  Reservation,
  ReserveResult,
  Settled,
  Spend,
  SpendReport,
} from './Ledger.js'
import type { ReportRule } from './ledgerEntries.js'

/** Who holds a reservation, and until when (on the ledger's clock). */
export type Lease = { readonly owner: string; readonly until: number }

/** A budget's running sum: every charge to it that still counts. */
export type Budget = { used: bigint }

/** One charge of a live entry; `counted` until released or, for a windowed budget, until its window passes over it. */
export type Held = {
  readonly key: string
  readonly budget: Budget
  amount: bigint
  readonly time: number
  readonly windowMs: number | undefined
  readonly entry: Live
  counted: boolean
}

/**
 * One host, network and asset: what its folded entries add up to (`spent`, `unknown`), and the
 * running sums of its `live` entries by state (`held`), so the report never walks entries.
 */
export type Group = {
  readonly key: string
  readonly host: string
  readonly network: string
  readonly asset: string
  spent: bigint
  unknown: bigint
  folded: number
  live: number
  readonly held: { spent: bigint; reserved: bigint; unknown: bigint }
}

// The report's column an entry's amount is in; a released one counts nowhere.
const column = (state: EntryState) =>
  state === 'committed' ? 'spent' : state === 'reserved' ? 'reserved' : state === 'released' ? undefined : 'unknown'

export type Live = {
  readonly id: string
  readonly time: number
  spend: Spend
  state: EntryState
  pending?: PendingPayment | undefined
  lease?: Lease | undefined
  readonly held: Held[]
  readonly group: Group
  windowsLeft: number
}

/** Charges to windowed budgets of one window length, in time order: they expire from the front. */
type Queue = { items: (Held | undefined)[]; head: number }

/**
 * The state of a ledger in memory, shared by the memory ledger and the file ledger (which rebuilds
 * it from its journal): running sums per budget, windowed charges in time order, live entries, and
 * folded totals. Every operation is synchronous, so a caller that checks and then records without
 * an `await` in between is atomic in its process.
 *
 * Each budget keeps a running sum, so `check` costs the same after a million payments as after
 * one. Charges to windowed budgets wait in one queue per window length and leave their budget's
 * sum as the window passes over them, for good. An entry that no longer changes anything
 * (released, or committed, refused or unknown without a pending payment and out of every window it
 * was charged to) is folded into the per-host totals and dropped; budgets without a window keep it
 * as part of their sum. A folded entry's state is final: later calls with its id are ignored.
 */
export type LedgerState = {
  /** Whether every charge fits, at the reservation's time; changes nothing. */
  check(reservation: Reservation): ReserveResult
  /** Records the reservation without checking it (a journal replays what was checked). Replaces the same id. */
  insert(reservation: Reservation, lease?: Lease): void
  /** Ids of reservations without a pending payment whose lease ended at or before `now`. */
  expiredLeases(now: number): string[]
  commit(id: string, settled?: Settled): void
  release(id: string): void
  markUnknown(id: string): void
  markRefused(id: string): void
  /** Whether an entry is kept for `id` (not folded, never reserved, or released). */
  has(id: string): boolean
  /** Whether the reservation can take a pending payment: it is reserved, or unknown (a wallet was asked). */
  holds(id: string): boolean
  savePending(pending: PendingPayment, lease?: Lease): void
  /** The lease `owner` would get at `now`, or why not; changes nothing. */
  claimable(id: string, owner: string, now: number, leaseMs: number): ClaimResult
  setLease(id: string, lease: Lease): void
  pending(): PendingPayment[]
  report(rules: readonly ReportRule[], now: number): SpendReport
}

/** The insides of a ledger state that an extension (`ledgerSnapshots`, for a journal) reads and rebuilds. */
export type LedgerStateParts = {
  readonly entries: ReadonlyMap<string, Live>
  readonly budgets: ReadonlyMap<string, Budget>
  readonly groups: ReadonlyMap<string, Group>
  budgetFor(key: string): Budget
  groupFor(spend: Spend): Group
  add(
    base: { id: string; time: number; spend: Spend; state: EntryState },
    charges: readonly (Charge & { counted?: boolean })[],
  ): Live
  lease(entry: Live, granted: Lease | undefined): void
}

export function createLedgerState(): LedgerState
/** With the methods `extend` builds from the state's insides: in their own module, so bundles without them drop them. */
export function createLedgerState<Extra extends object>(extend: (parts: LedgerStateParts) => Extra): LedgerState & Extra
export function createLedgerState(extend?: (parts: LedgerStateParts) => object): LedgerState {
  const entries = new Map<string, Live>()
  const budgets = new Map<string, Budget>()
  // Folded amounts of budgets without a window: their sums beyond the live entries, for snapshots.
  const windows = new Map<number, Queue>()
  const groups = new Map<string, Group>()
  // Reserved entries without a pending payment that have a lease: the ones a lease can release.
  const leased = new Set<Live>()
  // No lease of `leased` ends before this (renewals only push leases later).
  let nextExpiry = Infinity

  const budgetFor = (key: string) => {
    let budget = budgets.get(key)
    if (!budget) {
      budget = { used: 0n }
      budgets.set(key, budget)
    }
    return budget
  }
  const groupFor = (spend: Spend) => {
    const { host, network, asset } = spend
    const key = JSON.stringify([host, network, asset])
    let group = groups.get(key)
    if (!group) {
      group = {
        key,
        host,
        network,
        asset,
        spent: 0n,
        unknown: 0n,
        folded: 0,
        live: 0,
        held: { spent: 0n, reserved: 0n, unknown: 0n },
      }
      groups.set(key, group)
    }
    return group
  }
  // Moves the entry's amount in or out of its group's live sums, around a change of state or amount.
  const hold = (entry: Live, sign: 1n | -1n) => {
    const where = column(entry.state)
    if (where) entry.group.held[where] += sign * entry.spend.amount
  }
  const uncount = (held: Held) => {
    if (held.counted) held.budget.used -= held.amount
    held.counted = false
  }
  const unlease = (entry: Live) => {
    leased.delete(entry)
  }
  const drop = (entry: Live) => {
    entries.delete(entry.id)
    unlease(entry)
    hold(entry, -1n)
    const { group, spend } = entry
    group.live--
    if (entry.state === 'released') for (const held of entry.held) uncount(held)
    else {
      group.folded++
      if (entry.state === 'committed') group.spent += spend.amount
      else group.unknown += spend.amount
    }
    if (!group.live && !group.folded) groups.delete(group.key)
  }
  // Folds the entry once nothing can change what it counts for.
  const settle = (entry: Live) => {
    if (entry.state === 'released' || (entry.state !== 'reserved' && !entry.pending && !entry.windowsLeft)) drop(entry)
  }
  const expire = (now: number) => {
    for (const [windowMs, queue] of windows) {
      const { items } = queue
      for (let held = items[queue.head]; held && held.time <= now - windowMs; held = items[++queue.head]) {
        // Let go at once, so a folded entry is garbage now, not at the next cut.
        items[queue.head] = undefined
        if (!held.counted) continue
        uncount(held)
        held.entry.windowsLeft--
        settle(held.entry)
      }
      // Cut the expired front off now and then, not on every shift.
      if (queue.head > 1024 && queue.head * 2 > items.length) {
        items.splice(0, queue.head)
        queue.head = 0
      }
    }
  }
  const enqueue = (windowMs: number, held: Held) => {
    const queue = windows.get(windowMs) ?? { items: [], head: 0 }
    windows.set(windowMs, queue)
    const { items } = queue
    // Usually the newest: appended. One dated earlier goes in its place, after any of the same time.
    const last = items[items.length - 1]
    if (!last || last.time <= held.time) return void items.push(held)
    let low = queue.head
    let high = items.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((items[middle] as Held).time <= held.time) low = middle + 1
      else high = middle
    }
    items.splice(low, 0, held)
  }
  const setState = (id: string, state: EntryState, keepPending: boolean) => {
    const entry = entries.get(id)
    if (!entry) return
    hold(entry, -1n)
    entry.state = state
    hold(entry, 1n)
    if (!keepPending) entry.pending = undefined
    // Whatever the new state, nobody holds it any more: a final state needs no holder, and an
    // unknown payment is free for any resumer to claim.
    entry.lease = undefined
    unlease(entry)
    // An unknown payment is folded by its windows passing, not now: one marked before a wallet
    // pays on signing takes its pending payment next.
    if (state !== 'unknown') settle(entry)
  }
  const lease = (entry: Live, granted: Lease | undefined) => {
    entry.lease = granted
    if (granted && entry.state === 'reserved' && !entry.pending) {
      leased.add(entry)
      nextExpiry = Math.min(nextExpiry, granted.until)
    } else unlease(entry)
  }
  // Use of a budget at `now`: its sum, less the charges a window has passed over that nothing has expired yet.
  const usedAt = (key: string, windowMs: number | undefined, now: number) => {
    const budget = budgets.get(key)
    let used = budget?.used ?? 0n
    const queue = windowMs === undefined ? undefined : windows.get(windowMs)
    if (queue)
      for (
        let index = queue.head, held = queue.items[index];
        held && held.time <= now - (windowMs as number);
        held = queue.items[++index]
      )
        if (held.counted && held.budget === budget) used -= held.amount
    return used
  }
  const add: LedgerStateParts['add'] = (base, charges) => {
    const previous = entries.get(base.id)
    // The same id again replaces the first reservation, as storing it under that id always did.
    if (previous) {
      hold(previous, -1n)
      previous.state = 'released'
      drop(previous)
    }
    const group = groupFor(base.spend)
    group.live++
    // Every field named (no spread): V8 then gives all entries one shape, and spreading into a
    // literal with more fields costs microseconds on Node 20.
    const { id, time, spend, state } = base
    const entry: Live = {
      id,
      time,
      spend,
      state,
      pending: undefined,
      lease: undefined,
      held: [],
      group,
      windowsLeft: 0,
    }
    hold(entry, 1n)
    // One budget charged twice by one reservation is charged once, with the last amount.
    const byKey = new Map(charges.map((charge) => [charge.key, charge]))
    for (const charge of byKey.values()) {
      const counted = charge.counted ?? true
      const budget = budgetFor(charge.key)
      if (counted) budget.used += charge.amount
      const held: Held = {
        key: charge.key,
        budget,
        amount: charge.amount,
        time: base.time,
        windowMs: charge.windowMs,
        entry,
        counted,
      }
      entry.held.push(held)
      if (charge.windowMs !== undefined && counted) {
        entry.windowsLeft++
        enqueue(charge.windowMs, held)
      }
    }
    entries.set(base.id, entry)
    return entry
  }

  const state: LedgerState = {
    check(reservation) {
      for (const charge of reservation.charges) {
        const used = usedAt(charge.key, charge.windowMs, reservation.time)
        if (used + charge.amount > charge.limit) return { ok: false, key: charge.key, used, limit: charge.limit }
      }
      return { ok: true }
    },
    insert(reservation, granted) {
      expire(reservation.time)
      const { id, time, spend } = reservation
      const entry = add({ id, time, spend, state: 'reserved' }, reservation.charges)
      lease(entry, granted)
    },
    expiredLeases(now) {
      if (now < nextExpiry) return []
      const expired: string[] = []
      nextExpiry = Infinity
      for (const entry of leased) {
        const until = entry.lease?.until ?? Number.NEGATIVE_INFINITY
        if (until <= now) expired.push(entry.id)
        else nextExpiry = Math.min(nextExpiry, until)
      }
      return expired
    },
    commit(id, settled) {
      const entry = entries.get(id)
      if (entry && settled) {
        // The budgets keep their charges in place: each one's amount and its budget's sum change.
        for (const charge of settled.charges) {
          const held = entry.held.find((candidate) => candidate.key === charge.key)
          if (!held) continue
          if (held.counted) held.budget.used += charge.amount - held.amount
          held.amount = charge.amount
        }
        hold(entry, -1n)
        const group = groupFor(settled.spend)
        if (group !== entry.group) {
          // Another host or asset (it never is, in practice): the entry moves to that group.
          entry.group.live--
          if (!entry.group.live && !entry.group.folded) groups.delete(entry.group.key)
          group.live++
          Object.assign(entry, { group })
        }
        entry.spend = settled.spend
        hold(entry, 1n)
      }
      setState(id, 'committed', false)
    },
    release: (id) => setState(id, 'released', false),
    markUnknown: (id) => setState(id, 'unknown', true),
    markRefused: (id) => setState(id, 'refused', false),
    has: (id) => entries.has(id),
    holds(id) {
      const state = entries.get(id)?.state
      return state === 'reserved' || state === 'unknown'
    },
    savePending(pending, granted) {
      const entry = entries.get(pending.id)
      if (!entry) return
      entry.pending = pending
      lease(entry, granted ?? entry.lease)
    },
    claimable(id, owner, now, leaseMs) {
      const entry = entries.get(id)
      if (!entry || (entry.state !== 'reserved' && entry.state !== 'unknown')) return { ok: false, reason: 'gone' }
      const held = entry.lease
      if (held?.owner === owner) return { ok: true, until: now + leaseMs }
      // Only a pending payment can change hands: a bare reservation is its owner's or nobody's.
      if (!entry.pending) return { ok: false, reason: 'gone' }
      if (held && held.until > now) return { ok: false, reason: 'held', until: held.until }
      return { ok: true, until: now + leaseMs }
    },
    setLease(id, granted) {
      const entry = entries.get(id)
      if (entry) lease(entry, granted)
    },
    pending() {
      return [...entries.values()].flatMap((entry) => (entry.pending ? [entry.pending] : []))
    },
    report(rules, now) {
      // Unknown and refused payments may have settled: reported apart from what surely was spent.
      const totals = [...groups.values()].map((group) => ({
        host: group.host,
        network: group.network,
        asset: group.asset,
        spent: group.spent + group.held.spent,
        reserved: group.held.reserved,
        unknown: group.unknown + group.held.unknown,
      }))
      // Per-host budgets are charged under `key@host`: report each of those too.
      const reported = rules.flatMap((rule) =>
        (rule.perHost ? [...budgets.keys()].filter((key) => key.startsWith(`${rule.key}@`)) : [rule.key]).map(
          (key) => ({ key, used: usedAt(key, rule.windowMs, now), limit: rule.limit, windowMs: rule.windowMs }),
        ),
      )
      return { budgets: reported, totals }
    },
  }
  return extend ? Object.assign(state, extend({ entries, budgets, groups, budgetFor, groupFor, add, lease })) : state
}

/** The error of `savePending` for a reservation that is not held any more: its proof must not leave. */
export function notHeld(id: string): PayfetchError {
  return new PayfetchError(
    'STORE_FAILED',
    `Reservation ${id} is no longer held (released or settled); its proof must not leave.`,
    { details: { store: 'ledger', operation: 'savePending', paid: false, reservation: id } },
  )
}

/** Five minutes: longer than any renewal gap of a live owner (a third of it), short enough for a dead one. */
export const defaultLeaseMs = 300_000

/** Checks a `leaseMs` option. */
export function leaseOption(leaseMs: number | undefined): number {
  const value = leaseMs ?? defaultLeaseMs
  if (!Number.isSafeInteger(value) || value < 3)
    throw new PayfetchError('INVALID_OPTIONS', 'leaseMs must be an integer of at least 3 (ms).', {
      details: { leaseMs: value },
    })
  return value
}
