import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, test } from 'vitest'
import { createPolicy } from '../../src/caps/policy.js'
import { memoryLedger } from '../../src/ledger/memoryLedger.js'
import type { Offer } from '../../src/offer/Offer.js'
import { ledgerContract, pendingFor, reservation, usdcBase } from '../support/ledgerContract.js'
import { testClock } from '../support/ledgerFixtures.js'

ledgerContract({
  name: 'memoryLedger',
  create: async (options = {}) => {
    const clock = testClock(options.now)
    return { ledger: memoryLedger({ leaseMs: options.leaseMs, now: clock.now }), setNow: clock.set }
  },
})

describe('memoryLedger with the charges of real caps', () => {
  const offer = (amount: bigint): Offer => ({
    protocol: 'x402',
    version: 2,
    scheme: 'exact',
    ...usdcBase,
    asset: { id: usdcBase.asset },
    amount,
    payTo: '0x',
    resource: '',
    raw: {},
  })

  test('policy: $1 a day in total and $0.25 an hour per host hold together; the report names each budget', async () => {
    const policy = createPolicy({
      budgets: [
        { usd: '1', window: '1d' },
        { usd: '0.25', window: '1h', perHost: true },
      ],
    })
    const ledger = memoryLedger()
    const pay = async (url: string, amount: bigint) => {
      const { nanoUsd } = await policy.judge(offer(amount))
      const result = await ledger.reserve({
        id: crypto.randomUUID(),
        time: Date.now(),
        spend: { ...usdcBase, amount, host: new URL(url).host, nanoUsd },
        charges: policy.charges(offer(amount), new URL(url), nanoUsd),
      })
      return result.ok ? 'paid' : 'refused'
    }
    // $0.10 each (6-decimal USDC): two per host fit the hourly $0.25, a third does not.
    expect([
      await pay('https://a.example.com/x', 100_000n),
      await pay('https://a.example.com/y', 100_000n),
      await pay('https://a.example.com/z', 100_000n),
    ]).toEqual(['paid', 'paid', 'refused'])
    expect([
      await pay('https://b.example.com/x', 100_000n),
      await pay('https://b.example.com:8443/x', 100_000n),
    ]).toEqual(['paid', 'paid'])
    expect([await pay('https://c.example.com/x', 100_000n), await pay('https://d.example.com/x', 100_000n)]).toEqual([
      'paid',
      'paid',
    ])
    // Six paid ($0.60): the daily $1 leaves room for four more, whatever the host.
    const others = ['e', 'f', 'g', 'h', 'i'].map((name) => `https://${name}.example.com/x`)
    const verdicts: string[] = []
    for (const url of others) verdicts.push(await pay(url, 100_000n))
    expect(verdicts).toEqual(['paid', 'paid', 'paid', 'paid', 'refused'])
    const report = await ledger.report(policy.rules)
    const [day, hour] = policy.rules
    expect(report.budgets.find((budget) => budget.key === day?.key)?.used).toBe(1_000_000_000n)
    expect(
      report.budgets
        .filter((budget) => budget.key.startsWith(`${hour?.key}@`))
        .map((budget) => [budget.key.slice(hour!.key.length + 1), budget.used]),
    ).toEqual([
      ['a.example.com', 200_000_000n],
      ['b.example.com', 100_000_000n],
      ['b.example.com:8443', 100_000_000n],
      ['c.example.com', 100_000_000n],
      ['d.example.com', 100_000_000n],
      ['e.example.com', 100_000_000n],
      ['f.example.com', 100_000_000n],
      ['g.example.com', 100_000_000n],
      ['h.example.com', 100_000_000n],
    ])
  })
})

describe('memoryLedger keeps running sums, not history', () => {
  // A full garbage collection on demand, to see what the ledger still holds.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const collect = async () => {
    // A WeakRef's target lives at least until the job that made it ends.
    await new Promise((resolve) => setTimeout(resolve, 0))
    gc()
  }
  const t0 = 1_700_000_000_000

  test('behavior: memory stays bounded: entries out of every window are folded into the totals and let go, pending ones are kept', async () => {
    const ledger = memoryLedger()
    const windowMs = 1_000
    const charges = (amount: bigint) => [
      { key: 'second', limit: 10n ** 12n, amount, windowMs },
      { key: 'total', limit: 10n ** 12n, amount },
    ]
    const held: WeakRef<object>[] = []
    let pendingId = ''
    for (let index = 0; index < 20_000; index++) {
      const entry = reservation(3n, { time: t0 + index, charges: charges(3n) })
      expect((await ledger.reserve(entry)).ok).toBe(true)
      if (index < 1_000) held.push(new WeakRef(entry.spend))
      if (index === 10) {
        pendingId = entry.id
        await ledger.savePending(pendingFor(entry.id))
        await ledger.markUnknown(entry.id)
      } else if (index % 4 === 0) await ledger.release(entry.id)
      else
        await (index % 4 === 1
          ? ledger.commit(entry.id)
          : index % 4 === 2
            ? ledger.markRefused(entry.id)
            : ledger.markUnknown(entry.id))
    }
    await collect()
    // Of the first thousand, only the pending one is still held.
    expect(held.filter((ref) => ref.deref() !== undefined)).toHaveLength(1)
    expect((await ledger.pending()).map((entry) => entry.id)).toEqual([pendingId])
    // The totals still count every spend: 5 000 released, the rest 3 each.
    const report = await ledger.report([{ key: 'total', limit: 10n ** 12n }])
    expect(report.totals).toEqual([
      { host: 'api.example.com', ...usdcBase, spent: 3n * 5_000n, reserved: 0n, unknown: 3n * 10_000n },
    ])
    expect(report.budgets[0]?.used).toBe(3n * 15_000n)
  })

  test('behavior: an entry folded out of every window is final: later state changes for its id are ignored', async () => {
    const ledger = memoryLedger()
    const first = reservation(100n, { windowMs: 1_000, time: t0 })
    expect(await ledger.reserve(first)).toEqual({ ok: true })
    await ledger.commit(first.id)
    expect(await ledger.reserve(reservation(1n, { windowMs: 1_000, time: t0 + 1_000 }))).toEqual({ ok: true })
    await ledger.release(first.id)
    await ledger.markUnknown(first.id)
    expect((await ledger.report()).totals).toEqual([
      { host: 'api.example.com', ...usdcBase, spent: 100n, reserved: 1n, unknown: 0n },
    ])
  })
})
