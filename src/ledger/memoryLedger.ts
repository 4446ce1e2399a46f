import type { Ledger } from './Ledger.js'
import type { LedgerEntry } from './ledgerEntries.js'

/** A budget's running sum: every charge to it that still counts. */
type Budget = { used: bigint }

/** One charge of a live entry; `counted` until released or, for a windowed budget, until its window passes over it. */
type Held = {
  readonly budget: Budget
  amount: bigint
  readonly time: number
  readonly entry: Live
  counted: boolean
}

/** What folded entries of one host, network and asset add up to; `live` entries of it are still kept whole. */
type Group = {
  readonly key: string
  readonly host: string
  readonly network: string
  readonly asset: string
  spent: bigint
  unknown: bigint
  folded: number
  live: number
}

type Live = Omit<LedgerEntry, 'spend'> & {
  spend: LedgerEntry['spend']
  readonly held: Held[]
  readonly group: Group
  windowsLeft: number
}

/** Charges to windowed budgets of one window length, in time order: they expire from the front. */
type Queue = { items: (Held | undefined)[]; head: number }

/**
 * The default ledger: reservations in this process's memory. Budgets hold across concurrent calls
 * of every paying fetch that shares it; use the Redis ledger to share them across processes.
 *
 * Each budget keeps a running sum, so `reserve` costs the same after a million payments as after
 * one. Charges to windowed budgets wait in one queue per window length and leave their budget's sum
 * as the window passes over them (for good: a later reservation dated earlier does not bring them
 * back). An entry that no longer changes anything (released, or committed, refused or unknown
 * without a pending payment and out of every window it was charged to) is folded into the report's
 * per-host totals and dropped; budgets without a window keep it as part of their sum. Memory stays
 * bounded by the payments inside the windows, the pending ones, and the budgets and hosts seen. A
 * folded entry's state is final: later calls with its id are ignored, as for an id never reserved.
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
  const entries = new Map<string, Live>()
  const budgets = new Map<string, Budget>()
  const windows = new Map<number, Queue>()
  const groups = new Map<string, Group>()

  const uncount = (held: Held) => {
    if (held.counted) held.budget.used -= held.amount
    held.counted = false
  }
  const drop = (entry: Live) => {
    entries.delete(entry.id)
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
  const setState = (id: string, state: LedgerEntry['state'], keepPending: boolean) => {
    const entry = entries.get(id)
    if (!entry) return
    entry.state = state
    if (!keepPending) entry.pending = undefined
    settle(entry)
  }
  // Use of a budget at `now`: its sum, less the charges a window has passed over that no reserve has expired yet.
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

  return {
    // No await between the check and the insert: atomic within this process.
    async reserve(reservation) {
      expire(reservation.time)
      for (const charge of reservation.charges) {
        const used = budgets.get(charge.key)?.used ?? 0n
        if (used + charge.amount > charge.limit) return { ok: false, key: charge.key, used, limit: charge.limit }
      }
      const previous = entries.get(reservation.id)
      // The same id again replaces the first reservation, as storing it under that id always did.
      if (previous) {
        previous.state = 'released'
        drop(previous)
      }
      const { host, network, asset } = reservation.spend
      const key = JSON.stringify([host, network, asset])
      const group = groups.get(key) ?? { key, host, network, asset, spent: 0n, unknown: 0n, folded: 0, live: 0 }
      groups.set(key, group)
      group.live++
      const entry: Live = { ...reservation, state: 'reserved', held: [], group, windowsLeft: 0 }
      for (const charge of reservation.charges) {
        const budget = budgets.get(charge.key) ?? { used: 0n }
        budgets.set(charge.key, budget)
        budget.used += charge.amount
        const held: Held = { budget, amount: charge.amount, time: reservation.time, entry, counted: true }
        entry.held.push(held)
        if (charge.windowMs !== undefined) {
          entry.windowsLeft++
          enqueue(charge.windowMs, held)
        }
      }
      entries.set(reservation.id, entry)
      return { ok: true }
    },
    async commit(id, settled) {
      const entry = entries.get(id)
      if (entry && settled) {
        // The budgets keep their charges in place: each one's amount and its budget's sum change.
        settled.charges.forEach((charge, index) => {
          const held = entry.held[index]
          if (!held || held.budget !== budgets.get(charge.key)) return
          if (held.counted) held.budget.used += charge.amount - held.amount
          held.amount = charge.amount
        })
        entry.spend = settled.spend
      }
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
      const now = Date.now()
      const totals = new Map(
        [...groups.values()].map((group) => [
          group,
          {
            host: group.host,
            network: group.network,
            asset: group.asset,
            spent: group.spent,
            reserved: 0n,
            unknown: group.unknown,
          },
        ]),
      )
      for (const { group, state, spend } of entries.values()) {
        const total = totals.get(group) as { spent: bigint; reserved: bigint; unknown: bigint }
        // Unknown and refused payments may have settled: reported apart from what surely was spent.
        total[state === 'committed' ? 'spent' : state === 'reserved' ? 'reserved' : 'unknown'] += spend.amount
      }
      // Per-host budgets are charged under `key@host`: report each of those too.
      const reported = rules.flatMap((rule) =>
        (rule.perHost ? [...budgets.keys()].filter((key) => key.startsWith(`${rule.key}@`)) : [rule.key]).map(
          (key) => ({
            key,
            used: usedAt(key, rule.windowMs, now),
            limit: rule.limit,
            windowMs: rule.windowMs,
          }),
        ),
      )
      return { budgets: reported, totals: [...totals.values()] }
    },
  }
}
