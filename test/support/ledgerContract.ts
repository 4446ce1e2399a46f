import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import type { Charge } from '../../src/caps/budgets.js'
import type { Ledger, Reservation, SpendReport } from '../../src/ledger/Ledger.js'
import { pendingFor, type ReservationOptions, reservation, t0, unprovenFor, usdcBase } from './ledgerFixtures.js'

export { pendingFor, reservation, usdcBase } from './ledgerFixtures.js'

/**
 * How the contract reaches one ledger implementation. `create` opens a ledger on a fresh, empty
 * store; `reopen` (for durable or shared ledgers) opens another instance on that same store, as a
 * restarted or second process would.
 */
export type LedgerHarness = {
  readonly name: string
  /**
   * With `now`, the ledger (and its reopened twins) run on a test clock starting there, moved by
   * `setNow`; with `leaseMs`, that lease.
   */
  create(options?: HarnessOptions): Promise<{
    ledger: Ledger
    reopen?: (() => Promise<Ledger>) | undefined
    setNow?: ((now: number) => Promise<void>) | undefined
  }>
  /** True when `create` gives `reopen`: the store outlives one instance (file, Redis, Web Storage). */
  readonly shared?: boolean | undefined
  /** Runs once before the suite (start a server…). */
  setup?: (() => Promise<void>) | undefined
  /** Runs after each test (close connections…). */
  cleanup?: (() => Promise<void>) | undefined
  /** Runs once after the suite. */
  teardown?: (() => Promise<void>) | undefined
}

/** What a lease test asks of `create`. */
export type HarnessOptions = { readonly leaseMs?: number | undefined; readonly now?: number | undefined }

const ok = { ok: true }
const sortedTotals = (report: SpendReport) =>
  [...report.totals].sort((a, b) => `${a.host} ${a.asset}`.localeCompare(`${b.host} ${b.asset}`))

/**
 * The rules every ledger keeps, whatever its store: atomic check-and-reserve, windows, the
 * states that stay counted, pending payments, the report, exact sums above 2^64, and no
 * overspending under 200 concurrent reservations.
 */
export function ledgerContract(harness: LedgerHarness): void {
  describe(`${harness.name}: the ledger contract`, () => {
    if (harness.setup) beforeAll(harness.setup)
    if (harness.teardown) afterAll(harness.teardown)
    if (harness.cleanup) afterEach(harness.cleanup)
    const fresh = async () => (await harness.create()).ledger

    test('policy: reserve succeeds up to the limit, exactly, and refuses past it with the budget, its use and its limit', async () => {
      const ledger = await fresh()
      expect(await ledger.reserve(reservation(600n))).toEqual(ok)
      expect(await ledger.reserve(reservation(400n))).toEqual(ok)
      expect(await ledger.reserve(reservation(1n))).toEqual({ ok: false, key: 'total', used: 1000n, limit: 1000n })
      // Another budget has its own room.
      expect(await ledger.reserve(reservation(1000n, { key: 'other' }))).toEqual(ok)
    })

    test('policy: a reservation must fit every budget it is charged to; a refusal records nothing', async () => {
      const ledger = await fresh()
      const both = (amount: bigint) =>
        reservation(amount, {
          charges: [
            { key: 'day', limit: 1000n, amount },
            { key: 'host', limit: 100n, amount },
          ],
        })
      expect(await ledger.reserve(both(60n))).toEqual(ok)
      expect(await ledger.reserve(both(50n))).toEqual({ ok: false, key: 'host', used: 60n, limit: 100n })
      // The refused 50 was charged to neither budget.
      expect(await ledger.reserve(reservation(940n, { key: 'day' }))).toEqual(ok)
      expect(await ledger.reserve(reservation(40n, { key: 'host', limit: 100n }))).toEqual(ok)
      const report = await ledger.report([
        { key: 'day', limit: 1000n },
        { key: 'host', limit: 100n },
      ])
      expect(report.budgets.map(({ key, used }) => [key, used])).toEqual([
        ['day', 1000n],
        ['host', 100n],
      ])
    })

    test('behavior: a reservation without charges always succeeds and still shows in the totals', async () => {
      const ledger = await fresh()
      expect(await ledger.reserve(reservation(5n, { charges: [] }))).toEqual(ok)
      expect((await ledger.report()).totals).toEqual([
        { host: 'api.example.com', ...usdcBase, spent: 0n, reserved: 5n, unknown: 0n },
      ])
    })

    test('behavior: spends leave a rolling window once it has passed over them, exactly at the boundary', async () => {
      const ledger = await fresh()
      const windowMs = 1_000
      expect(await ledger.reserve(reservation(600n, { windowMs, time: t0 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(300n, { windowMs, time: t0 + 500 }))).toEqual(ok)
      // At t0 + 999 both still count.
      expect(await ledger.reserve(reservation(101n, { windowMs, time: t0 + 999 }))).toEqual({
        ok: false,
        key: 'total',
        used: 900n,
        limit: 1000n,
      })
      // At t0 + 1000 the first has left the window.
      expect(await ledger.reserve(reservation(700n, { windowMs, time: t0 + 1_000 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(1n, { windowMs, time: t0 + 1_000 }))).toEqual({
        ok: false,
        key: 'total',
        used: 1000n,
        limit: 1000n,
      })
      // Later still, only the last one counts.
      expect(await ledger.reserve(reservation(300n, { windowMs, time: t0 + 1_500 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(1n, { windowMs, time: t0 + 1_500 }))).toEqual({
        ok: false,
        key: 'total',
        used: 1000n,
        limit: 1000n,
      })
    })

    test('behavior: a reservation dated before the latest one still counts, and leaves its window at its own time', async () => {
      const ledger = await fresh()
      const windowMs = 1_000
      // Clocks of a fleet disagree a little: the second reservation is dated 500 ms before the first.
      expect(await ledger.reserve(reservation(300n, { windowMs, time: t0 + 500 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(400n, { windowMs, time: t0 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(301n, { windowMs, time: t0 + 999 }))).toEqual({
        ok: false,
        key: 'total',
        used: 700n,
        limit: 1000n,
      })
      // At t0 + 1000 the 400 (dated t0) has left; the 300 (dated t0 + 500) has not.
      expect(await ledger.reserve(reservation(700n, { windowMs, time: t0 + 1_000 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(1n, { windowMs, time: t0 + 1_000 }))).toEqual({
        ok: false,
        key: 'total',
        used: 1000n,
        limit: 1000n,
      })
      expect(await ledger.reserve(reservation(301n, { windowMs, time: t0 + 1_500 }))).toEqual({
        ok: false,
        key: 'total',
        used: 700n,
        limit: 1000n,
      })
    })

    test('behavior: many spends leave their windows in one reserve, each budget by its own window; a budget without one keeps them', async () => {
      const ledger = await fresh()
      const [minute, hour] = [60_000, 3_600_000]
      const charges = (amount: bigint): Charge[] => [
        { key: 'minute', limit: 1000n, amount, windowMs: minute },
        { key: 'hour', limit: 1000n, amount, windowMs: hour },
        { key: 'total', limit: 1000n, amount },
      ]
      const at = (amount: bigint, time: number) => reservation(amount, { time, charges: charges(amount) })
      for (let index = 0; index < 100; index++) expect(await ledger.reserve(at(5n, t0 + index))).toEqual(ok)
      // 99 of the 100 leave the minute together; the hour still holds all of them.
      expect(await ledger.reserve(at(996n, t0 + minute + 98))).toEqual({
        ok: false,
        key: 'minute',
        used: 5n,
        limit: 1000n,
      })
      expect(await ledger.reserve(at(501n, t0 + minute + 99))).toEqual({
        ok: false,
        key: 'hour',
        used: 500n,
        limit: 1000n,
      })
      // All 100 leave the hour at once; the budget without a window still counts every one.
      expect(await ledger.reserve(at(500n, t0 + hour + 99))).toEqual(ok)
      expect(await ledger.reserve(at(1n, t0 + hour + 99))).toEqual({
        ok: false,
        key: 'total',
        used: 1000n,
        limit: 1000n,
      })
    })

    test('behavior: a release after its window dropped the spend frees only the budgets still holding it, and only once', async () => {
      const ledger = await fresh()
      const charges = (amount: bigint): Charge[] => [
        { key: 'window', limit: 1000n, amount, windowMs: 1_000 },
        { key: 'total', limit: 2000n, amount },
      ]
      const at = (amount: bigint, time: number) => reservation(amount, { time, charges: charges(amount) })
      const first = at(600n, t0)
      expect(await ledger.reserve(first)).toEqual(ok)
      // Reserve, the window passes over the first, then it is released (twice).
      expect(await ledger.reserve(at(900n, t0 + 1_000))).toEqual(ok)
      await ledger.release(first.id)
      await ledger.release(first.id)
      // The window holds 900, not 900 − 600.
      expect(await ledger.reserve(at(101n, t0 + 1_000))).toEqual({ ok: false, key: 'window', used: 900n, limit: 1000n })
      expect(await ledger.reserve(at(100n, t0 + 1_000))).toEqual(ok)
      // The budget without a window got its 600 back, once: 900 + 100 used of 2000.
      expect(await ledger.reserve(reservation(1000n, { key: 'total', limit: 2000n, time: t0 + 1_000 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(1n, { key: 'total', limit: 2000n, time: t0 + 1_000 }))).toEqual({
        ok: false,
        key: 'total',
        used: 2000n,
        limit: 2000n,
      })
      const report = await ledger.report([{ key: 'total', limit: 2000n }])
      expect(report.budgets[0]?.used).toBe(2000n)
      expect(report.totals[0]?.reserved).toBe(2000n)
    })

    test('behavior: spends out of every window keep their place in the totals; pending ones stay listed and can still settle or be released', async () => {
      const ledger = await fresh()
      const charges = (amount: bigint): Charge[] => [
        { key: 'window', limit: 10_000n, amount, windowMs: 1_000 },
        { key: 'total', limit: 10_000n, amount },
      ]
      const at = (amount: bigint, time: number) => reservation(amount, { time, charges: charges(amount) })
      const [committed, unknown, refused, pending, reserved, released] = [1n, 2n, 4n, 8n, 16n, 32n].map((amount) =>
        at(amount, t0),
      )
      for (const entry of [committed, unknown, refused, pending, reserved, released])
        expect(await ledger.reserve(entry as Reservation)).toEqual(ok)
      await ledger.commit(committed!.id)
      await ledger.markUnknown(unknown!.id)
      await ledger.markRefused(refused!.id)
      await ledger.savePending(pendingFor(pending!.id))
      await ledger.markUnknown(pending!.id)
      await ledger.release(released!.id)
      // 5 s later every one of them is out of the window.
      expect(await ledger.reserve(at(64n, t0 + 5_000))).toEqual(ok)
      expect(await ledger.reserve(at(9_937n, t0 + 5_000))).toEqual({
        ok: false,
        key: 'window',
        used: 64n,
        limit: 10_000n,
      })
      expect(await ledger.reserve(at(9_906n, t0 + 5_000))).toEqual({
        ok: false,
        key: 'total',
        used: 95n,
        limit: 10_000n,
      })
      expect(await ledger.pending()).toEqual([pendingFor(pending!.id)])
      expect((await ledger.report()).totals).toEqual([
        { host: 'api.example.com', ...usdcBase, spent: 1n, reserved: 80n, unknown: 14n },
      ])
      // The pending one settles after all (a resume); the one still reserved is released.
      await ledger.commit(pending!.id)
      await ledger.release(reserved!.id)
      expect(await ledger.pending()).toEqual([])
      const report = await ledger.report([
        { key: 'total', limit: 10_000n },
        { key: 'window', limit: 10_000n, windowMs: 1_000 },
      ])
      expect(report.totals).toEqual([{ host: 'api.example.com', ...usdcBase, spent: 9n, reserved: 64n, unknown: 6n }])
      expect(report.budgets.map(({ key, used }) => [key, used])).toEqual([
        ['total', 79n],
        ['window', 0n],
      ])
      expect(await ledger.reserve(at(9_922n, t0 + 5_000))).toEqual({
        ok: false,
        key: 'total',
        used: 79n,
        limit: 10_000n,
      })
    })

    test('behavior: a budget without a window never forgets', async () => {
      const ledger = await fresh()
      expect(await ledger.reserve(reservation(1000n, { time: t0 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(1n, { time: t0 + 10 * 365 * 86_400_000 }))).toEqual({
        ok: false,
        key: 'total',
        used: 1000n,
        limit: 1000n,
      })
    })

    test('behavior: release frees the amount; commit, unknown and refused stay counted', async () => {
      const ledger = await fresh()
      const states = { commit: 'committed', markUnknown: 'unknown', markRefused: 'refused' } as const
      for (const method of Object.keys(states) as (keyof typeof states)[]) {
        const key = `budget-${method}`
        const first = reservation(1000n, { key })
        expect(await ledger.reserve(first)).toEqual(ok)
        await ledger[method](first.id)
        expect(await ledger.reserve(reservation(1n, { key })), method).toEqual({
          ok: false,
          key,
          used: 1000n,
          limit: 1000n,
        })
      }
      const held = reservation(1000n, { key: 'released' })
      expect(await ledger.reserve(held)).toEqual(ok)
      await ledger.release(held.id)
      expect(await ledger.reserve(reservation(1000n, { key: 'released' }))).toEqual(ok)
    })

    test('behavior: commit with what was really spent replaces the reserved amounts in every budget and in the totals, below or above the reservation', async () => {
      const ledger = await fresh()
      const charges = (amount: bigint) => [
        { key: 'spent-day', limit: 1000n, amount, windowMs: 86_400_000 },
        { key: 'spent-total', limit: 1000n, amount },
      ]
      const settled = (amount: bigint) => {
        const { spend } = reservation(amount)
        return { spend: { ...spend, host: 'settled.example.com' }, charges: charges(amount) }
      }
      const less = reservation(600n, { charges: charges(600n), host: 'settled.example.com' })
      const more = reservation(300n, { charges: charges(300n), host: 'settled.example.com' })
      expect(await ledger.reserve(less)).toEqual(ok)
      expect(await ledger.reserve(more)).toEqual(ok)
      await ledger.commit(less.id, settled(450n))
      // A wallet that spent more than its fee limit: what left is what counts.
      await ledger.commit(more.id, settled(320n))
      const report = await ledger.report([
        { key: 'spent-day', limit: 1000n, windowMs: 86_400_000 },
        { key: 'spent-total', limit: 1000n },
      ])
      expect(report.budgets.map((budget) => [budget.key, budget.used])).toEqual([
        ['spent-day', 770n],
        ['spent-total', 770n],
      ])
      expect(report.totals.find((total) => total.host === 'settled.example.com')).toMatchObject({
        spent: 770n,
        reserved: 0n,
      })
      expect(await ledger.reserve(reservation(231n, { charges: charges(231n) }))).toEqual({
        ok: false,
        key: 'spent-day',
        used: 770n,
        limit: 1000n,
      })
      expect(await ledger.reserve(reservation(230n, { charges: charges(230n) }))).toEqual(ok)
    })

    test('behavior: a release frees every budget the reservation was charged to, windowed or not', async () => {
      const ledger = await fresh()
      const charges = (amount: bigint): Charge[] => [
        { key: 'hour', limit: 100n, amount, windowMs: 3_600_000 },
        { key: 'total', limit: 100n, amount },
      ]
      const first = reservation(100n, { charges: charges(100n) })
      expect(await ledger.reserve(first)).toEqual(ok)
      expect((await ledger.reserve(reservation(1n, { charges: charges(1n) }))).ok).toBe(false)
      await ledger.release(first.id)
      expect(await ledger.reserve(reservation(100n, { charges: charges(100n) }))).toEqual(ok)
    })

    test('behavior: state changes for an unknown id are ignored', async () => {
      const ledger = await fresh()
      for (const method of ['commit', 'release', 'markUnknown', 'markRefused'] as const)
        await expect(ledger[method]('no-such-id')).resolves.toBeUndefined()
      expect(await ledger.report()).toEqual({ budgets: [], totals: [] })
    })

    test('behavior: a pending payment is saved and listed whole; commit and release clear it', async () => {
      const ledger = await fresh()
      const [committed, released] = [reservation(10n), reservation(10n)]
      for (const entry of [committed, released]) {
        await ledger.reserve(entry)
        await ledger.savePending(pendingFor(entry.id))
      }
      const listed = await ledger.pending()
      expect(listed.sort((a, b) => a.id.localeCompare(b.id))).toEqual(
        [pendingFor(committed.id), pendingFor(released.id)].sort((a, b) => a.id.localeCompare(b.id)),
      )
      await ledger.commit(committed.id)
      expect((await ledger.pending()).map((entry) => entry.id)).toEqual([released.id])
      await ledger.release(released.id)
      expect(await ledger.pending()).toEqual([])
    })

    test('behavior: markUnknown keeps the pending payment for resume; markRefused clears it', async () => {
      const ledger = await fresh()
      const [unknown, refused] = [reservation(10n), reservation(10n)]
      for (const entry of [unknown, refused]) {
        await ledger.reserve(entry)
        await ledger.savePending(pendingFor(entry.id))
        await (entry === unknown ? ledger.markUnknown(entry.id) : ledger.markRefused(entry.id))
      }
      expect(await ledger.pending()).toEqual([pendingFor(unknown.id)])
      // A resumed payment that went through is committed: no longer pending.
      await ledger.commit(unknown.id)
      expect(await ledger.pending()).toEqual([])
    })

    test('behavior: report totals split spent, reserved and unknown per host and asset; released counts nowhere', async () => {
      const ledger = await fresh()
      const other = { host: 'other.example.com:8443' }
      const sol = {
        network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
        asset: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
      }
      const plan: [bigint, ReservationOptions, 'commit' | 'release' | 'markUnknown' | 'markRefused' | undefined][] = [
        [100n, {}, 'commit'],
        [20n, {}, 'commit'],
        [3n, {}, undefined],
        [4000n, {}, 'release'],
        [50n, {}, 'markUnknown'],
        [6n, {}, 'markRefused'],
        [7n, other, 'commit'],
        [8n, other, undefined],
        [9n, { ...other, ...sol }, 'markUnknown'],
      ]
      for (const [amount, options, then] of plan) {
        const entry = reservation(amount, { ...options, limit: 10_000n })
        expect(await ledger.reserve(entry)).toEqual(ok)
        if (then) await ledger[then](entry.id)
      }
      expect(sortedTotals(await ledger.report())).toEqual([
        { host: 'api.example.com', ...usdcBase, spent: 120n, reserved: 3n, unknown: 56n },
        { host: 'other.example.com:8443', ...usdcBase, spent: 7n, reserved: 8n, unknown: 0n },
        { host: 'other.example.com:8443', ...sol, spent: 0n, reserved: 0n, unknown: 9n },
      ])
    })

    test('behavior: report gives each budget its use now, per-host budgets under key@host, unused budgets at zero', async () => {
      const ledger = await fresh()
      const now = Date.now()
      const hour = 3_600_000
      const charges = (amount: bigint, host: string): Charge[] => [
        { key: 'day', limit: 5_000n, amount, windowMs: 24 * hour },
        { key: `per-host@${host}`, limit: 1_000n, amount, windowMs: hour },
      ]
      for (const [amount, host, time] of [
        [100n, 'a.example.com', now - 1_000],
        [200n, 'b.example.com:8443', now - 1_000],
        [300n, 'a.example.com', now - 2 * hour], // out of the hour, still in the day
        [400n, 'a.example.com', now - 2 * 24 * hour], // out of both
      ] as const) {
        expect(await ledger.reserve(reservation(amount, { host, time, charges: charges(amount, host) }))).toEqual(ok)
      }
      const released = reservation(50n, { host: 'a.example.com', time: now, charges: charges(50n, 'a.example.com') })
      await ledger.reserve(released)
      await ledger.release(released.id)
      const report = await ledger.report([
        { key: 'day', limit: 5_000n, windowMs: 24 * hour },
        { key: 'per-host', limit: 1_000n, windowMs: hour, perHost: true },
        { key: 'unused', limit: 7n },
      ])
      expect([...report.budgets].sort((a, b) => a.key.localeCompare(b.key))).toEqual([
        { key: 'day', used: 600n, limit: 5_000n, windowMs: 24 * hour },
        // A per-host rule is listed once per host it was charged for, never under its bare key.
        { key: 'per-host@a.example.com', used: 100n, limit: 1_000n, windowMs: hour },
        { key: 'per-host@b.example.com:8443', used: 200n, limit: 1_000n, windowMs: hour },
        { key: 'unused', used: 0n, limit: 7n, windowMs: undefined },
      ])
    })

    test('policy: amounts above 2^53 are summed exactly (a double would round 2^53 + 1 down)', async () => {
      const ledger = await fresh()
      const big = 2n ** 53n + 1n
      const limit = 2n * big
      expect(await ledger.reserve(reservation(big, { limit }))).toEqual(ok)
      expect(await ledger.reserve(reservation(big, { limit }))).toEqual(ok)
      expect(await ledger.reserve(reservation(1n, { limit }))).toEqual({ ok: false, key: 'total', used: limit, limit })
    })

    test('policy: amounts above 2^64 (18-decimal tokens) are summed exactly, in reserve and in report', async () => {
      const ledger = await fresh()
      const limit = 10n ** 30n + 3n
      const amounts = [2n ** 64n + 1n, 10n ** 29n * 9n, 10n ** 30n - 10n ** 29n * 9n - (2n ** 64n + 1n)]
      for (const amount of amounts) expect(await ledger.reserve(reservation(amount, { limit }))).toEqual(ok)
      expect(await ledger.reserve(reservation(4n, { limit }))).toEqual({
        ok: false,
        key: 'total',
        used: 10n ** 30n,
        limit,
      })
      expect(await ledger.reserve(reservation(3n, { limit }))).toEqual(ok)
      const report = await ledger.report([{ key: 'total', limit }])
      expect(report.budgets).toEqual([{ key: 'total', used: limit, limit, windowMs: undefined }])
      expect(report.totals[0]?.reserved).toBe(limit)
    })

    test('policy: releases and expiry subtract exactly above 2^64, borrowing across every digit', async () => {
      const ledger = await fresh()
      const limit = 10n ** 30n
      const windowMs = 1_000
      const [one, rest] = [
        reservation(1n, { limit, windowMs, time: t0 }),
        reservation(limit - 1n, { limit, windowMs, time: t0 + 1 }),
      ]
      expect(await ledger.reserve(one)).toEqual(ok)
      expect(await ledger.reserve(rest)).toEqual(ok)
      // 10^30 − 1: a borrow through all 30 digits.
      await ledger.release(one.id)
      expect(await ledger.reserve(reservation(2n, { limit, windowMs, time: t0 + 1 }))).toEqual({
        ok: false,
        key: 'total',
        used: limit - 1n,
        limit,
      })
      // At t0 + 1001 the rest leaves the window: nothing is left.
      expect(await ledger.reserve(reservation(limit, { limit, windowMs, time: t0 + 1_001 }))).toEqual(ok)
      expect(await ledger.reserve(reservation(1n, { limit, windowMs, time: t0 + 1_001 }))).toEqual({
        ok: false,
        key: 'total',
        used: limit,
        limit,
      })
    })

    test('policy: 200 concurrent reservations of 7 against a limit of 1000: exactly 142 succeed', async () => {
      const ledger = await fresh()
      const results = await Promise.all(
        Array.from({ length: 200 }, () => ledger.reserve(reservation(7n, { windowMs: 3_600_000 }))),
      )
      expect(results.filter((result) => result.ok)).toHaveLength(142)
      for (const result of results)
        if (!result.ok) expect(result).toEqual({ ok: false, key: 'total', used: 994n, limit: 1000n })
      const report = await ledger.report([{ key: 'total', limit: 1000n, windowMs: 3_600_000 }])
      expect(report.budgets[0]?.used).toBe(994n)
      expect(report.totals[0]?.reserved).toBe(994n)
    })

    // ---- leases and claims, on a test clock (leases never race the wall clock) ----

    const l0 = 1_800_000_000_000
    const leased = async (leaseMs = 1_000) => {
      const created = await harness.create({ leaseMs, now: l0 })
      const { setNow } = created
      if (!setNow) throw new Error(`${harness.name} gave no test clock`)
      return { ...created, setNow }
    }
    const owned = (amount: bigint, owner: string) => ({ ...reservation(amount), owner })

    test('behavior: leaseMs is five minutes unless the ledger is given another', async () => {
      expect((await fresh()).leaseMs).toBe(300_000)
      expect((await leased(1_234)).ledger.leaseMs).toBe(1_234)
    })

    test('behavior: a reservation whose owner stopped renewing (a dead process) is released by the first reserve after its lease, and its room is free again', async () => {
      const { ledger, setNow } = await leased()
      const dead = owned(900n, 'dead-owner')
      expect(await ledger.reserve(dead)).toEqual(ok)
      await setNow(l0 + 999)
      expect(await ledger.reserve(reservation(101n))).toEqual({ ok: false, key: 'total', used: 900n, limit: 1000n })
      await setNow(l0 + 1_000)
      expect(await ledger.reserve(reservation(1000n))).toEqual(ok)
      expect((await ledger.report()).totals).toEqual([
        { host: 'api.example.com', ...usdcBase, spent: 0n, reserved: 1000n, unknown: 0n },
      ])
      // Released for good: its owner coming back finds nothing to hold or to send.
      expect(await ledger.claim(dead.id, 'dead-owner')).toEqual({ ok: false, reason: 'gone' })
      await expect(ledger.savePending(pendingFor(dead.id), 'dead-owner')).rejects.toMatchObject({
        code: 'STORE_FAILED',
      })
    })

    test('policy: a live owner that renews keeps its reservation past the first lease; nobody else can renew or take a bare reservation', async () => {
      const { ledger, setNow } = await leased()
      const live = owned(900n, 'live-owner')
      expect(await ledger.reserve(live)).toEqual(ok)
      await setNow(l0 + 900)
      expect(await ledger.claim(live.id, 'live-owner')).toEqual({ ok: true, until: l0 + 1_900 })
      expect(await ledger.claim(live.id, 'stranger')).toEqual({ ok: false, reason: 'gone' })
      // Past the first lease, inside the renewed one: still counted.
      await setNow(l0 + 1_500)
      expect(await ledger.reserve(reservation(101n))).toEqual({ ok: false, key: 'total', used: 900n, limit: 1000n })
      await setNow(l0 + 1_899)
      expect(await ledger.claim(live.id, 'live-owner')).toEqual({ ok: true, until: l0 + 2_899 })
      await setNow(l0 + 2_898)
      expect(await ledger.reserve(reservation(101n))).toEqual({ ok: false, key: 'total', used: 900n, limit: 1000n })
      // It stops renewing: one lease later the room is free.
      await setNow(l0 + 2_899)
      expect(await ledger.reserve(reservation(1000n))).toEqual(ok)
    })

    test('policy: a reservation with a pending payment is never released by a lease: it stays counted and pending, and once its lease passes another owner may claim it', async () => {
      const { ledger, setNow } = await leased()
      const sent = owned(900n, 'sender')
      expect(await ledger.reserve(sent)).toEqual(ok)
      await ledger.savePending(pendingFor(sent.id), 'sender')
      await setNow(l0 + 60_000)
      expect(await ledger.reserve(reservation(101n))).toEqual({ ok: false, key: 'total', used: 900n, limit: 1000n })
      expect(await ledger.pending()).toEqual([pendingFor(sent.id)])
      expect(await ledger.claim(sent.id, 'resumer')).toEqual({ ok: true, until: l0 + 61_000 })
      expect(await ledger.claim(sent.id, 'sender')).toEqual({ ok: false, reason: 'held', until: l0 + 61_000 })
      expect((await ledger.report()).totals).toEqual([
        { host: 'api.example.com', ...usdcBase, spent: 0n, reserved: 900n, unknown: 0n },
      ])
    })

    test('policy: one resumer at a time: a claimed pending payment is refused to others until the claim ends (its lease passes, or it is marked unknown); settled, refused and released ones cannot be claimed', async () => {
      const { ledger, setNow } = await leased()
      const [unknown, refused, released] = [owned(10n, 'payer'), owned(10n, 'payer'), owned(10n, 'payer')]
      for (const entry of [unknown, refused, released]) {
        expect(await ledger.reserve(entry)).toEqual(ok)
        await ledger.savePending(pendingFor(entry.id), 'payer')
      }
      // The sender holds it while it waits for the answer.
      expect(await ledger.claim(unknown.id, 'first')).toEqual({ ok: false, reason: 'held', until: l0 + 1_000 })
      // The answer never came: the claim ends with the attempt.
      await ledger.markUnknown(unknown.id)
      expect(await ledger.claim(unknown.id, 'first')).toEqual({ ok: true, until: l0 + 1_000 })
      expect(await ledger.claim(unknown.id, 'second')).toEqual({ ok: false, reason: 'held', until: l0 + 1_000 })
      await setNow(l0 + 400)
      expect(await ledger.claim(unknown.id, 'first')).toEqual({ ok: true, until: l0 + 1_400 })
      await setNow(l0 + 1_399)
      expect(await ledger.claim(unknown.id, 'second')).toEqual({ ok: false, reason: 'held', until: l0 + 1_400 })
      // The first resumer died: one lease after its last renewal the second may take it.
      await setNow(l0 + 1_400)
      expect(await ledger.claim(unknown.id, 'second')).toEqual({ ok: true, until: l0 + 2_400 })
      await ledger.markUnknown(unknown.id)
      expect(await ledger.claim(unknown.id, 'third')).toEqual({ ok: true, until: l0 + 2_400 })
      await ledger.commit(unknown.id)
      await ledger.markRefused(refused.id)
      await ledger.release(released.id)
      for (const entry of [unknown, refused, released])
        expect(await ledger.claim(entry.id, 'late')).toEqual({ ok: false, reason: 'gone' })
      expect(await ledger.claim('no-such-id', 'late')).toEqual({ ok: false, reason: 'gone' })
    })

    test('error: savePending rejects for a reservation that is not held (released, committed, refused, never made) and lists nothing', async () => {
      const ledger = await fresh()
      const [released, committed, refused] = [reservation(1n), reservation(1n), reservation(1n)]
      for (const entry of [released, committed, refused]) expect(await ledger.reserve(entry)).toEqual(ok)
      await ledger.release(released.id)
      await ledger.commit(committed.id)
      await ledger.markRefused(refused.id)
      for (const id of [released.id, committed.id, refused.id, 'never-reserved'])
        await expect(ledger.savePending(pendingFor(id)), id).rejects.toMatchObject({ code: 'STORE_FAILED' })
      expect(await ledger.pending()).toEqual([])
    })

    test('behavior: a reservation marked unknown before its wallet pays (Lightning) takes its pending payment afterwards, with its lease, and is never released by a lease', async () => {
      const { ledger, setNow } = await leased()
      const paying = owned(900n, 'payer')
      expect(await ledger.reserve(paying)).toEqual(ok)
      await ledger.markUnknown(paying.id)
      await setNow(l0 + 5_000)
      expect(await ledger.reserve(reservation(101n))).toEqual({ ok: false, key: 'total', used: 900n, limit: 1000n })
      await ledger.savePending(pendingFor(paying.id), 'payer')
      expect(await ledger.pending()).toEqual([pendingFor(paying.id)])
      expect(await ledger.claim(paying.id, 'other')).toEqual({ ok: false, reason: 'held', until: l0 + 6_000 })
      await ledger.commit(paying.id)
      expect((await ledger.report()).totals).toEqual([
        { host: 'api.example.com', ...usdcBase, spent: 900n, reserved: 0n, unknown: 0n },
      ])
    })

    test('behavior: a Lightning payment kept before its wallet answers (no proof, its challenge and payment hash) is listed whole and held by its payer; saved again with its proof it is replaced; commit clears it', async () => {
      const { ledger, setNow } = await leased()
      const paying = owned(900n, 'payer')
      const { unproven, proven } = unprovenFor(paying.id)
      expect(await ledger.reserve(paying)).toEqual(ok)
      await ledger.markUnknown(paying.id)
      await ledger.savePending(unproven, 'payer')
      expect(await ledger.pending()).toEqual([unproven])
      expect(await ledger.claim(paying.id, 'other')).toEqual({ ok: false, reason: 'held', until: l0 + 1_000 })
      // Never released by a lease: the wallet may have paid.
      await setNow(l0 + 5_000)
      expect(await ledger.reserve(reservation(101n))).toEqual({ ok: false, key: 'total', used: 900n, limit: 1000n })
      expect(await ledger.claim(paying.id, 'payer')).toEqual({ ok: true, until: l0 + 6_000 })
      await ledger.savePending(proven, 'payer')
      expect(await ledger.pending()).toEqual([proven])
      await ledger.commit(paying.id)
      expect(await ledger.pending()).toEqual([])
      expect((await ledger.report()).totals).toEqual([
        { host: 'api.example.com', ...usdcBase, spent: 900n, reserved: 0n, unknown: 0n },
      ])
    })

    test("behavior: a reservation without an owner has no lease: never released by one, and its pending payment is anyone's to claim", async () => {
      const { ledger, setNow } = await leased()
      const anonymous = reservation(900n)
      expect(await ledger.reserve(anonymous)).toEqual(ok)
      await setNow(l0 + 10 * 365 * 86_400_000)
      expect(await ledger.reserve(reservation(101n))).toEqual({ ok: false, key: 'total', used: 900n, limit: 1000n })
      await ledger.savePending(pendingFor(anonymous.id))
      expect(await ledger.claim(anonymous.id, 'anyone')).toEqual({
        ok: true,
        until: l0 + 10 * 365 * 86_400_000 + 1_000,
      })
    })

    if (harness.shared)
      test("behavior: leases and claims hold across instances on one store: a claim through one is refused through the other, and a dead owner's room is freed for both", async () => {
        const { ledger, reopen, setNow } = await leased()
        if (!reopen) throw new Error(`${harness.name} is shared but gave no reopen`)
        const other = await reopen()
        const [dead, sent] = [owned(500n, 'dead'), owned(400n, 'sender')]
        expect(await ledger.reserve(dead)).toEqual(ok)
        expect(await ledger.reserve(sent)).toEqual(ok)
        await ledger.savePending(pendingFor(sent.id), 'sender')
        await ledger.markUnknown(sent.id)
        expect(await other.claim(sent.id, 'resumer-b')).toEqual({ ok: true, until: l0 + 1_000 })
        expect(await ledger.claim(sent.id, 'resumer-a')).toEqual({ ok: false, reason: 'held', until: l0 + 1_000 })
        await setNow(l0 + 1_000)
        // The dead owner's 500 is released by the other instance's reserve; the pending 400 stays.
        expect(await other.reserve(reservation(600n))).toEqual(ok)
        expect(await ledger.reserve(reservation(1n))).toEqual({ ok: false, key: 'total', used: 1000n, limit: 1000n })
        expect(await ledger.claim(sent.id, 'resumer-a')).toEqual({ ok: true, until: l0 + 2_000 })
      })

    if (harness.shared)
      test('behavior: a Lightning payment kept before its wallet answered is seen whole by the ledger opened again (a restarted process), and once its payer is gone another may claim it', async () => {
        const { ledger, reopen, setNow } = await leased()
        if (!reopen) throw new Error(`${harness.name} is shared but gave no reopen`)
        const paying = owned(900n, 'dead-payer')
        const { unproven } = unprovenFor(paying.id)
        expect(await ledger.reserve(paying)).toEqual(ok)
        await ledger.markUnknown(paying.id)
        await ledger.savePending(unproven, 'dead-payer')
        const again = await reopen()
        expect(await again.pending()).toEqual([unproven])
        expect(await again.claim(paying.id, 'resumer')).toEqual({ ok: false, reason: 'held', until: l0 + 1_000 })
        await setNow(l0 + 1_000)
        expect(await again.reserve(reservation(101n))).toEqual({ ok: false, key: 'total', used: 900n, limit: 1000n })
        expect(await again.claim(paying.id, 'resumer')).toEqual({ ok: true, until: l0 + 2_000 })
        expect(await again.pending()).toEqual([unproven])
      })

    if (harness.shared)
      test('behavior: the ledger opened again on the same store sees the budget and the pending payments, both ways', async () => {
        const { ledger, reopen } = await harness.create()
        if (!reopen) throw new Error(`${harness.name} is shared but gave no reopen`)
        const first = reservation(900n, { time: t0 })
        await ledger.reserve(first)
        await ledger.savePending(pendingFor(first.id))
        await ledger.markUnknown(first.id)
        const again = await reopen()
        expect(await again.pending()).toEqual([pendingFor(first.id)])
        expect(await again.reserve(reservation(101n, { time: t0 }))).toEqual({
          ok: false,
          key: 'total',
          used: 900n,
          limit: 1000n,
        })
        expect(await again.reserve(reservation(100n, { time: t0 }))).toEqual(ok)
        // And the first instance sees what the second reserved.
        expect(await ledger.reserve(reservation(1n, { time: t0 }))).toEqual({
          ok: false,
          key: 'total',
          used: 1000n,
          limit: 1000n,
        })
        await again.commit(first.id)
        expect(await ledger.pending()).toEqual([])
      })
  })
}
