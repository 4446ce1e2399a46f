import fc from 'fast-check'
import { describe, expect, test, vi } from 'vitest'
import { type Caps, callBounds, createPolicy, formatNanoUsd } from '../../src/caps/policy.js'
import { type Rates, toNanoUsd, valueInNanoUsd } from '../../src/caps/valuation.js'
import { PayfetchError } from '../../src/errors/PayfetchError.js'
// From the public entry, so the test follows the constants wherever they live inside src.
import { bitcoinMainnet, bitcoinRegtest } from '../../src/index.js'
import type { Offer } from '../../src/offer/Offer.js'
import { parseDecimal } from '../../src/utils/decimal.js'

const baseUsdc = { network: 'eip155:8453', asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' }
const solanaUsdc = {
  network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
  asset: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
}
// Lightning amounts are millisatoshis: 10^11 per BTC.
const btc = { network: bitcoinMainnet, asset: 'BTC' }
// An 18-decimal token payfetch does not know (WETH-like), valued only through caps.rates.
const weth = {
  network: 'eip155:8453',
  asset: '0x4200000000000000000000000000000000000006',
  decimals: 18,
  symbol: 'WETH',
}

function offer(where: { network: string; asset: string; decimals?: number; symbol?: string }, amount: bigint): Offer {
  const asset = {
    id: where.asset,
    ...(where.decimals === undefined ? {} : { decimals: where.decimals }),
    ...(where.symbol === undefined ? {} : { symbol: where.symbol }),
  }
  return {
    protocol: 'x402',
    version: 2,
    scheme: 'exact',
    network: where.network,
    asset,
    amount,
    payTo: 'payee',
    resource: 'https://api.example.com/r',
    raw: {},
  }
}

const nano = (text: string) => toNanoUsd(parseDecimal(text, 'test'))
const summary = (error: PayfetchError | undefined) => error && { code: error.code, message: error.message }
const btcAt =
  (rate: string): Rates =>
  ({ asset }) =>
    asset === 'BTC' ? rate : undefined

describe('toNanoUsd', () => {
  test('behavior: USD decimals become nano-dollars exactly, up to 9 decimals', () => {
    expect(
      ['0', '5', '0.10', '0.1', '0.000001', '0.000000001', '123456789012.345678901', '1'.repeat(30)].map(nano),
    ).toEqual([
      0n,
      5_000_000_000n,
      100_000_000n,
      100_000_000n,
      1_000n,
      1n,
      123_456_789_012_345_678_901n,
      BigInt('1'.repeat(30)) * 10n ** 9n,
    ])
  })

  test('policy: a limit finer than a nano-dollar is rounded down, never up', () => {
    expect(['0.0000000019', '0.0000000009', '0.1000000009999'].map(nano)).toEqual([1n, 0n, 100_000_000n])
  })

  test('behavior: formatNanoUsd writes the short decimal back', () => {
    expect([100_000_000n, 5_000_000_000n, 1n, 0n, 97_000_500n, 12_345_678_901_234n].map(formatNanoUsd)).toEqual([
      '0.1',
      '5',
      '0.000000001',
      '0',
      '0.0970005',
      '12345.678901234',
    ])
  })
})

describe('valueInNanoUsd', () => {
  test('behavior: known stablecoins are valued at par without asking rates, exactly for 6 decimals', async () => {
    const rates = vi.fn<Rates>(() => '2')
    expect(await valueInNanoUsd(offer(baseUsdc, 1n), rates)).toBe(1_000n)
    expect(await valueInNanoUsd(offer(solanaUsdc, 123_456_789n), rates)).toBe(123_456_789_000n)
    // Above 2^64 atomic units, still exact.
    expect(await valueInNanoUsd(offer(baseUsdc, 2n ** 64n + 7n), undefined)).toBe((2n ** 64n + 7n) * 1_000n)
    expect(rates).not.toHaveBeenCalled()
  })

  test('behavior: BTC over Lightning (11 decimals) is valued through rates like 97000.5, exactly', async () => {
    // 100 sats = 100 000 msat = 0.000001 BTC = $0.0970005.
    expect(await valueInNanoUsd(offer(btc, 100_000n), btcAt('97000.5'))).toBe(97_000_500n)
    // 1 sat at $97 000.5 = $0.000970005, exactly 970 005 nano-dollars.
    expect(await valueInNanoUsd(offer(btc, 1_000n), btcAt('97000.5'))).toBe(970_005n)
    // The rate function is told what it prices, with the known symbol.
    const rates = vi.fn<Rates>(() => '97000')
    await valueInNanoUsd(offer({ network: bitcoinRegtest, asset: 'BTC' }, 1n), rates)
    expect(rates).toHaveBeenCalledWith({ network: bitcoinRegtest, asset: 'BTC', symbol: 'BTC' })
  })

  test('behavior: an 18-decimal asset is valued from the offer’s decimals and the rate, exactly', async () => {
    // 10^18 atoms = 1 WETH at $3123.456789 = 3 123 456 789 000 nano-dollars.
    const rates: Rates = async ({ symbol }) => (symbol === 'WETH' ? '3123.456789' : undefined)
    expect(await valueInNanoUsd(offer(weth, 10n ** 18n), rates)).toBe(3_123_456_789_000n)
    // 10^17 + 1 atoms at $1: a float would say exactly $0.1.
    expect(await valueInNanoUsd(offer(weth, 10n ** 17n + 1n), () => '1')).toBe(100_000_001n)
  })

  test('policy: values are rounded up to the next nano-dollar, never down', async () => {
    // 1 msat at $97 000.5 is 970.005 nano-dollars.
    expect(await valueInNanoUsd(offer(btc, 1n), btcAt('97000.5'))).toBe(971n)
    // One WETH atom at $1 is 10^-9 nano-dollars.
    expect(await valueInNanoUsd(offer(weth, 1n), () => '1')).toBe(1n)
    expect(await valueInNanoUsd(offer(weth, 10n ** 9n), () => '1')).toBe(1n)
    expect(await valueInNanoUsd(offer(weth, 10n ** 9n + 1n), () => '1')).toBe(2n)
  })

  test('policy: the value is the least nano-dollar amount at or above the true value, for any amount, decimals and rate', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.bigInt({ min: 1n, max: 2n ** 100n }),
        fc.integer({ min: 0, max: 30 }),
        fc.stringMatching(/^[0-9]{1,12}(\.[0-9]{1,12})?$/).filter((rate) => /[1-9]/.test(rate)),
        async (amount, decimals, rate) => {
          const value = await valueInNanoUsd(
            offer({ network: 'eip155:1', asset: '0xabc', decimals }, amount),
            () => rate,
          )
          const price = parseDecimal(rate, 'rate')
          // true value in nano-dollars = amount × units × 10^9 / 10^(decimals + scale)
          const exact = amount * price.units * 10n ** 9n
          const scale = 10n ** BigInt(decimals + price.scale)
          expect(value! * scale >= exact).toBe(true)
          expect(value === 0n || (value! - 1n) * scale < exact).toBe(true)
        },
      ),
      { numRuns: 500 },
    )
  })

  test('behavior: no value without decimals or without a rate', async () => {
    expect(
      await valueInNanoUsd(
        offer({ network: 'eip155:8453', asset: '0x1111111111111111111111111111111111111111' }, 1n),
        () => '1',
      ),
    ).toBeUndefined()
    expect(await valueInNanoUsd(offer(weth, 1n), undefined)).toBeUndefined()
    expect(await valueInNanoUsd(offer(weth, 1n), () => undefined)).toBeUndefined()
    expect(await valueInNanoUsd(offer(btc, 1n), undefined)).toBeUndefined()
  })
})

describe('createPolicy: rates', () => {
  const listedWeth: Caps = { assets: [weth], perRequest: { usd: '10' } }

  test('policy: a listed asset priced through caps.rates is held to the USD per-request limit', async () => {
    const policy = createPolicy({ ...listedWeth, rates: () => '2000' })
    // $10 at $2000 per WETH is 0.005 WETH = 5 × 10^15 atoms.
    expect(await policy.judge(offer(weth, 5n * 10n ** 15n))).toEqual({ nanoUsd: 10_000_000_000n })
    expect(summary((await policy.judge(offer(weth, 5n * 10n ** 15n + 1n))).refusal)).toMatchInlineSnapshot(`
      {
        "code": "CAP_EXCEEDED",
        "message": "[CAP_EXCEEDED] Offer of $10.000000001 exceeds the per-request limit of $10.",
      }
    `)
  })

  test('error: a rate function that throws or rejects makes the offer UNPRICEABLE, keeping the cause', async () => {
    const boom = new Error('price feed down')
    for (const rates of [
      () => {
        throw boom
      },
      () => Promise.reject(boom),
    ]) {
      const { refusal, nanoUsd } = await createPolicy({ ...listedWeth, rates }).judge(offer(weth, 1n))
      expect(nanoUsd).toBeUndefined()
      expect(summary(refusal)).toMatchInlineSnapshot(`
        {
          "code": "UNPRICEABLE",
          "message": "[UNPRICEABLE] The rate for 0x4200000000000000000000000000000000000006 on eip155:8453 could not be read.",
        }
      `)
      expect(refusal?.cause).toBe(boom)
    }
  })

  test('error: a rate that is not a positive decimal string makes the offer UNPRICEABLE', async () => {
    const garbage: unknown[] = [
      2000,
      2000n,
      null,
      {},
      ['1'],
      '',
      ' 1',
      '1e3',
      '-1',
      '0x10',
      'NaN',
      'Infinity',
      '1,5',
      '$1',
      '1'.repeat(31),
      '0',
      '0.000',
    ]
    for (const value of garbage) {
      const { refusal } = await createPolicy({ ...listedWeth, rates: () => value as string }).judge(offer(weth, 1n))
      expect(refusal?.code, String(value)).toBe('UNPRICEABLE')
    }
  })

  test('error: a listed asset with caps.rates but no price for it is UNPRICEABLE, unless it has a maxAmount', async () => {
    expect(
      summary((await createPolicy({ ...listedWeth, rates: () => undefined }).judge(offer(weth, 1n))).refusal),
    ).toMatchInlineSnapshot(`
      {
        "code": "UNPRICEABLE",
        "message": "[UNPRICEABLE] 0x4200000000000000000000000000000000000006 on eip155:8453 has no USD value; pass caps.rates or a maxAmount.",
      }
    `)
    const capped = createPolicy({ assets: [{ ...weth, maxAmount: 10n ** 18n }], rates: () => undefined })
    expect(await capped.judge(offer(weth, 10n ** 18n))).toEqual({})
    expect((await capped.judge(offer(weth, 10n ** 18n + 1n))).refusal?.code).toBe('CAP_EXCEEDED')
  })

  test('policy: a rate applies only to what is allowed: caps.assets still decides', async () => {
    const policy = createPolicy({ rates: () => '1' })
    expect((await policy.judge(offer(weth, 1n))).refusal?.code).toBe('ASSET_NOT_ALLOWED')
  })
})

describe('createPolicy: Lightning sats cap', () => {
  test('policy: BTC over Lightning is capped by perRequest.sats, 100 by default, without any rate', async () => {
    const policy = createPolicy()
    expect(await policy.judge(offer(btc, 100_000n))).toEqual({})
    expect(summary((await policy.judge(offer(btc, 100_001n))).refusal)).toMatchInlineSnapshot(`
      {
        "code": "CAP_EXCEEDED",
        "message": "[CAP_EXCEEDED] Offer of 100001 msat exceeds the per-request limit of 100 sats.",
      }
    `)
    expect((await policy.judge(offer(btc, 100_001n))).refusal?.details).toMatchObject({ limitSats: '100' })
  })

  test('policy: perRequest.sats takes a number or a bigint; 0 refuses every payment', async () => {
    for (const sats of [5, 5n]) {
      const policy = createPolicy({ perRequest: { sats } })
      expect([
        (await policy.judge(offer(btc, 5_000n))).refusal?.code,
        (await policy.judge(offer(btc, 5_001n))).refusal?.code,
      ]).toEqual([undefined, 'CAP_EXCEEDED'])
    }
    expect((await createPolicy({ perRequest: { sats: 0 } }).judge(offer(btc, 1n))).refusal?.code).toBe('CAP_EXCEEDED')
    // The sats cap is BTC's own: it does not touch USDC.
    expect((await createPolicy({ perRequest: { sats: 0 } }).judge(offer(baseUsdc, 1n))).refusal).toBeUndefined()
  })

  test('error: perRequest.sats that is not a whole, non-negative number of sats is INVALID_OPTIONS', () => {
    expect(() => createPolicy({ perRequest: { sats: 1.5 } })).toThrowErrorMatchingInlineSnapshot(
      `[PayfetchError: [INVALID_OPTIONS] caps.perRequest.sats must be a whole number of sats.]`,
    )
    for (const sats of [-1, -1n, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '100']) {
      expect(() => createPolicy({ perRequest: { sats: sats as number } }), String(sats)).toThrow(PayfetchError)
    }
  })

  test('policy: with a rate, BTC must pass both the sats cap and the USD limit', async () => {
    // 100 sats at $97 000.5 is $0.0970005: under the default $0.10.
    const priced = createPolicy({ rates: btcAt('97000.5') })
    expect(await priced.judge(offer(btc, 100_000n))).toEqual({ nanoUsd: 97_000_500n })
    // At $200 000, 60 sats are $0.12: within the sats cap, over the USD limit.
    const dear = createPolicy({ rates: btcAt('200000') })
    expect(summary((await dear.judge(offer(btc, 60_000n))).refusal)).toMatchInlineSnapshot(`
      {
        "code": "CAP_EXCEEDED",
        "message": "[CAP_EXCEEDED] Offer of $0.12 exceeds the per-request limit of $0.10.",
      }
    `)
    // A generous USD limit does not lift the sats cap.
    expect(
      (await createPolicy({ perRequest: { usd: '1000' }, rates: btcAt('1') }).judge(offer(btc, 100_001n))).refusal
        ?.code,
    ).toBe('CAP_EXCEEDED')
  })

  test('policy: Lightning may be the only allowed asset, under its sats cap', async () => {
    const policy = createPolicy({ assets: [btc] })
    expect(await policy.judge(offer(btc, 100_000n))).toEqual({})
    expect((await policy.judge(offer(btc, 100_001n))).refusal?.code).toBe('CAP_EXCEEDED')
    expect((await policy.judge(offer(baseUsdc, 1n))).refusal?.code).toBe('ASSET_NOT_ALLOWED')
  })
})

describe('createPolicy: per-call limits', () => {
  test('policy: maxUsd below the per-request limit lowers it for that call, with its own message', async () => {
    const policy = createPolicy({ perRequest: { usd: '0.10' } })
    expect(await policy.judge(offer(baseUsdc, 50_000n), { bounds: callBounds({ maxUsd: '0.05' }) })).toEqual({
      nanoUsd: 50_000_000n,
    })
    expect(
      summary((await policy.judge(offer(baseUsdc, 50_001n), { bounds: callBounds({ maxUsd: '0.05' }) })).refusal),
    ).toMatchInlineSnapshot(`
      {
        "code": "CAP_EXCEEDED",
        "message": "[CAP_EXCEEDED] Offer of $0.050001 exceeds the call limit of $0.05.",
      }
    `)
    expect((await policy.judge(offer(baseUsdc, 1n), { bounds: callBounds({ maxUsd: '0' }) })).refusal?.code).toBe(
      'CAP_EXCEEDED',
    )
  })

  test('policy: maxUsd above the per-request limit cannot raise it', async () => {
    const policy = createPolicy({ perRequest: { usd: '0.10' } })
    expect(
      summary((await policy.judge(offer(baseUsdc, 100_001n), { bounds: callBounds({ maxUsd: '1000' }) })).refusal),
    ).toMatchInlineSnapshot(`
      {
        "code": "CAP_EXCEEDED",
        "message": "[CAP_EXCEEDED] Offer of $0.100001 exceeds the per-request limit of $0.10.",
      }
    `)
    expect(await policy.judge(offer(baseUsdc, 100_000n), { bounds: callBounds({ maxUsd: '0.10' }) })).toEqual({
      nanoUsd: 100_000_000n,
    })
  })

  test('policy: maxUsd refuses what cannot be valued in USD, even under its own cap', async () => {
    // BTC without a rate passes the sats cap alone, but a USD call limit cannot be checked.
    const policy = createPolicy({ assets: [btc, { ...weth, maxAmount: 10n ** 18n }] })
    expect(await policy.judge(offer(btc, 1_000n))).toEqual({})
    expect((await policy.judge(offer(btc, 1_000n), { bounds: callBounds({ maxUsd: '1000' }) })).refusal?.code).toBe(
      'UNPRICEABLE',
    )
    expect((await policy.judge(offer(weth, 1n), { bounds: callBounds({ maxUsd: '1000' }) })).refusal?.code).toBe(
      'UNPRICEABLE',
    )
    // With a rate, the call limit applies to BTC as to anything else.
    const priced = createPolicy({ rates: btcAt('100000') })
    expect(
      (await priced.judge(offer(btc, 10_000n), { bounds: callBounds({ maxUsd: '0.01' }) })).refusal,
    ).toBeUndefined()
    expect((await priced.judge(offer(btc, 10_001n), { bounds: callBounds({ maxUsd: '0.01' }) })).refusal?.code).toBe(
      'CAP_EXCEEDED',
    )
  })

  test('error: a maxUsd that is not a decimal string is INVALID_OPTIONS', async () => {
    expect(() => callBounds({ maxUsd: '-1' })).toThrowErrorMatchingInlineSnapshot(
      `[PayfetchError: [INVALID_OPTIONS] maxUsd must be a decimal string like '0.10'.]`,
    )
    expect(() => callBounds({ maxUsd: 0.05 as unknown as string })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    )
    expect(() => callBounds({ maxSats: 1.5 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
  })
})
