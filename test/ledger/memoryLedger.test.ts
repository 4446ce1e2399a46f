import { describe, expect, test } from 'vitest'
import { createPolicy } from '../../src/caps/policy.js'
import { memoryLedger } from '../../src/ledger/memoryLedger.js'
import type { Offer } from '../../src/offer/Offer.js'
import { ledgerContract, usdcBase } from '../support/ledgerContract.js'

ledgerContract({ name: 'memoryLedger', create: async () => ({ ledger: memoryLedger() }) })

describe('memoryLedger with the charges of real caps', () => {
  const offer = (amount: bigint): Offer => ({ protocol: 'x402', version: 2, scheme: 'exact', ...usdcBase, asset: { id: usdcBase.asset }, amount, payTo: '0x', resource: '', extra: {}, raw: {} })

  test('policy: $1 a day in total and $0.25 an hour per host hold together; the report names each budget', async () => {
    const policy = createPolicy({ budgets: [{ usd: '1', window: '1d' }, { usd: '0.25', window: '1h', perHost: true }] })
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
    expect([await pay('https://a.example.com/x', 100_000n), await pay('https://a.example.com/y', 100_000n), await pay('https://a.example.com/z', 100_000n)]).toEqual(['paid', 'paid', 'refused'])
    expect([await pay('https://b.example.com/x', 100_000n), await pay('https://b.example.com:8443/x', 100_000n)]).toEqual(['paid', 'paid'])
    expect([await pay('https://c.example.com/x', 100_000n), await pay('https://d.example.com/x', 100_000n)]).toEqual(['paid', 'paid'])
    // Six paid ($0.60): the daily $1 leaves room for four more, whatever the host.
    const others = ['e', 'f', 'g', 'h', 'i'].map((name) => `https://${name}.example.com/x`)
    const verdicts: string[] = []
    for (const url of others) verdicts.push(await pay(url, 100_000n))
    expect(verdicts).toEqual(['paid', 'paid', 'paid', 'paid', 'refused'])
    const report = await ledger.report(policy.rules)
    const [day, hour] = policy.rules
    expect(report.budgets.find((budget) => budget.key === day?.key)?.used).toBe(1_000_000_000n)
    expect(report.budgets.filter((budget) => budget.key.startsWith(`${hour?.key}@`)).map((budget) => [budget.key.slice(hour!.key.length + 1), budget.used])).toEqual([
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
