import { describe, expect, test } from 'vitest'
import { type Budget, chargesFor, parseBudgets } from '../../src/caps/budgets.js'
import { createPolicy } from '../../src/caps/policy.js'
import { PayfetchError } from '../../src/errors/PayfetchError.js'
import type { Offer } from '../../src/offer/Offer.js'

const baseUsdc = { network: 'eip155:8453', asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' }
const baseSepoliaUsdc = { network: 'eip155:84532', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e' }
const solanaUsdc = {
  network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
  asset: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
}

/** The INVALID_OPTIONS `parseBudgets` throws for one budget, as `{ code, message }`. */
function rejection(budget: unknown): { code: string; message: string } {
  try {
    parseBudgets([budget as Budget])
  } catch (error) {
    if (!(error instanceof PayfetchError)) throw error
    return { code: error.code, message: error.message }
  }
  throw new Error(
    `parseBudgets accepted ${JSON.stringify(budget, (_, value) => (typeof value === 'bigint' ? `${value}n` : value))}`,
  )
}

type SpendInput = { network: string; asset: string; amount: bigint; url: URL; nanoUsd: bigint | undefined }
const spend = (overrides: Partial<SpendInput> = {}): SpendInput => ({
  ...baseUsdc,
  amount: 10_000n,
  url: new URL('https://api.example.com/report'),
  nanoUsd: 10_000_000n,
  ...overrides,
})
/** `key → amount` of every charge a spend makes. */
const charged = (budgets: Budget[], input: SpendInput) =>
  chargesFor(parseBudgets(budgets), input).map((charge) => `${charge.key} → ${charge.amount}`)

describe('parseBudgets', () => {
  test('error: every malformed budget is INVALID_OPTIONS at creation, naming the budget', () => {
    expect(
      [
        {},
        { usd: '1', amount: 1n, ...baseUsdc },
        { amount: 5n },
        { amount: 5n, network: baseUsdc.network },
        { amount: 5, ...baseUsdc },
        { amount: -1n, ...baseUsdc },
        { usd: '1', asset: baseUsdc.asset },
        { usd: '-1' },
        { usd: '1e3' },
        { usd: 5 },
      ].map(rejection),
    ).toMatchInlineSnapshot(`
      [
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0] needs exactly one of usd or amount.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0] needs exactly one of usd or amount.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].amount must be a bigint with network and asset.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].amount must be a bigint with network and asset.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].amount must be a bigint with network and asset.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].amount must be a bigint with network and asset.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].asset needs network.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].usd must be a decimal string like '0.10'.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].usd must be a decimal string like '0.10'.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].usd must be a decimal string like '0.10'.",
        },
      ]
    `)
  })

  test('error: a malformed window is INVALID_OPTIONS, strings and numbers alike', () => {
    expect([rejection({ usd: '1', window: '1y' }), rejection({ usd: '1', window: 0 })]).toMatchInlineSnapshot(`
      [
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].window must look like '1h', '1d' or '30d'.",
        },
        {
          "code": "INVALID_OPTIONS",
          "message": "[INVALID_OPTIONS] caps.budgets[0].window must be a positive number of milliseconds.",
        },
      ]
    `)
    for (const window of ['0h', '01h', '1.5h', '1H', ' 1h', '1h ', '', 'h', '1', '1000000d', '-1h', '1ms'])
      expect(rejection({ usd: '1', window }).code, JSON.stringify(window)).toBe('INVALID_OPTIONS')
    for (const window of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, null, true, {}])
      expect(rejection({ usd: '1', window }).code, String(window)).toBe('INVALID_OPTIONS')
  })

  test('error: the message names the position of the bad budget in the list', () => {
    expect(() =>
      parseBudgets([{ usd: '1' }, { usd: '2', window: '1d' }, { usd: '3', window: '2x' }]),
    ).toThrowErrorMatchingInlineSnapshot(
      `[PayfetchError: [INVALID_OPTIONS] caps.budgets[2].window must look like '1h', '1d' or '30d'.]`,
    )
    // And createPolicy fails at creation with the same error.
    expect(() => createPolicy({ budgets: [{ usd: '1' }, { amount: 1n }] })).toThrow(/caps\.budgets\[1\]\.amount/)
  })

  test('behavior: windows in s, m, h, d, w and plain milliseconds; none means in total', () => {
    const windows = parseBudgets(
      ['30s', '15m', '1h', '1d', '1w', '30d', '999999w', 2_500, 1].map((window) => ({ usd: '1', window })),
    ).map((rule) => rule.windowMs)
    expect(windows).toEqual([
      30_000,
      900_000,
      3_600_000,
      86_400_000,
      604_800_000,
      2_592_000_000,
      999_999 * 604_800_000,
      2_500,
      1,
    ])
    expect(parseBudgets([{ usd: '1' }])[0]?.windowMs).toBeUndefined()
  })

  test('behavior: limits are nano-dollars for usd budgets and atomic units for amount budgets', () => {
    const rules = parseBudgets([{ usd: '5' }, { usd: '0.000000001' }, { amount: 2n ** 70n, ...baseUsdc }])
    expect(rules.map((rule) => [rule.unit, rule.limit])).toEqual([
      ['nanoUsd', 5_000_000_000n],
      ['nanoUsd', 1n],
      ['atomic', 2n ** 70n],
    ])
  })

  test('behavior: keys are stable across parses (and so across processes) and ignore how a budget is spelled', () => {
    const budgets: Budget[] = [
      { usd: '5', window: '1d' },
      { usd: '1', window: '1h', perHost: true },
      { amount: 20_000_000n, ...baseUsdc },
    ]
    const first = parseBudgets(budgets).map((rule) => rule.key)
    const second = parseBudgets(budgets.map((budget) => ({ ...budget }))).map((rule) => rule.key)
    expect(second).toEqual(first)
    // Ledgers shared with processes running another build count under these exact keys.
    expect(first).toMatchInlineSnapshot(`
      [
        "["nanoUsd","5000000000",null,null,null,false,86400000]",
        "["nanoUsd","1000000000",null,null,null,true,3600000]",
        "["atomic","20000000","eip155:8453","0x833589fcd6edb6e08f4c7c32d4f71b54bda02913",null,false,null]",
      ]
    `)
    // The same budget written another way is the same budget: '5.00' is '5', 86400000 ms is '1d', an EVM address in any case.
    const [a, b, c] = parseBudgets([
      { usd: '5.00', window: 86_400_000 },
      { usd: '1', window: '60m', perHost: true },
      { amount: 20_000_000n, network: baseUsdc.network, asset: baseUsdc.asset.toLowerCase() },
    ]).map((rule) => rule.key)
    expect([a, b, c]).toEqual(first)
  })

  test('behavior: different budgets never share a key, even when their digits are the same', () => {
    const budgets: Budget[] = [
      { usd: '5' },
      { usd: '5', window: '1d' },
      { usd: '5', window: '1h' },
      { usd: '5', perHost: true },
      { usd: '5', host: 'api.example.com' },
      { usd: '5', network: baseUsdc.network },
      { usd: '5', ...baseUsdc },
      // 5 atomic units of USDC is not $5: it must be counted apart.
      { amount: 5n, ...baseUsdc },
      { amount: 5n, ...baseSepoliaUsdc },
      // Solana mints are case-sensitive: these are two different assets.
      { amount: 5n, network: solanaUsdc.network, asset: 'AbCdEfGhJkLmNpQrStUvWxYz123456789abcdefgh' },
      { amount: 5n, network: solanaUsdc.network, asset: 'abcdefghjkLmNpQrStUvWxYz123456789abcdefgh' },
    ]
    const keys = parseBudgets(budgets).map((rule) => rule.key)
    expect(new Set(keys).size).toBe(budgets.length)
  })
})

describe('chargesFor', () => {
  test('behavior: a USD budget charges the nano-dollar value, an amount budget the atomic amount, each with its window', () => {
    const rules = parseBudgets([
      { usd: '5', window: '1d' },
      { amount: 20_000_000n, ...baseUsdc },
    ])
    const charges = chargesFor(rules, spend({ amount: 12_345n, nanoUsd: 12_345_000n }))
    expect(charges).toEqual([
      { key: rules[0]?.key, limit: 5_000_000_000n, amount: 12_345_000n, windowMs: 86_400_000 },
      { key: rules[1]?.key, limit: 20_000_000n, amount: 12_345n, windowMs: undefined },
    ])
  })

  test('behavior: network and asset filters charge only matching payments; EVM addresses in any case', () => {
    const budgets: Budget[] = [
      { usd: '1', network: baseUsdc.network },
      { amount: 100n, network: baseUsdc.network, asset: baseUsdc.asset.toUpperCase().replace('0X', '0x') },
    ]
    expect(charged(budgets, spend())).toHaveLength(2)
    expect(charged(budgets, spend({ ...baseSepoliaUsdc }))).toEqual([])
    expect(charged(budgets, spend({ asset: '0x1111111111111111111111111111111111111111', nanoUsd: 1n }))).toHaveLength(
      1,
    )
    // Non-EVM asset ids compare exactly.
    const solana: Budget[] = [{ amount: 100n, network: solanaUsdc.network, asset: solanaUsdc.asset.toLowerCase() }]
    expect(charged(solana, spend({ ...solanaUsdc }))).toEqual([])
    expect(charged([{ amount: 100n, ...solanaUsdc }], spend({ ...solanaUsdc }))).toHaveLength(1)
  })

  test('behavior: host filters use the caps.hosts patterns', () => {
    const budgets = (host: string): Budget[] => [{ usd: '1', host }]
    const hits = (host: string, spendHost: string) =>
      charged(budgets(host), spend({ url: new URL(`https://${spendHost}/`) })).length
    expect([
      hits('api.example.com', 'api.example.com'),
      hits('api.example.com', 'api.example.com:8443'),
      hits('api.example.com', 'other.example.com'),
    ]).toEqual([1, 1, 0])
    expect([
      hits('*.example.com', 'a.b.example.com'),
      hits('*.example.com', 'example.com'),
      hits('*.example.com', 'example.com.evil.net'),
    ]).toEqual([1, 0, 0])
    expect([
      hits('api.example.com:8443', 'api.example.com:8443'),
      hits('api.example.com:8443', 'api.example.com:9443'),
    ]).toEqual([1, 0])
  })

  test('policy: a host budget with the default port counts the payments made on that port', () => {
    // https://api.example.com/ is api.example.com:443, as caps.hosts already sees it.
    const rules = parseBudgets([
      { usd: '1', host: 'api.example.com:443' },
      { usd: '1', host: 'api.example.com:80' },
    ])
    const policy = createPolicy({ budgets: rules.map((rule) => rule.budget) })
    const payment: Offer = {
      protocol: 'x402',
      scheme: 'exact',
      ...baseUsdc,
      asset: { id: baseUsdc.asset },
      amount: 1n,
      payTo: '0x',
      resource: '',
      raw: {},
    }
    const keys = (url: string) => policy.charges(payment, new URL(url), 1_000n).map((charge) => charge.key)
    expect(keys('https://api.example.com/report')).toEqual([rules[0]?.key])
    expect(keys('http://api.example.com/report')).toEqual([rules[1]?.key])
    expect(keys('https://api.example.com:8443/report')).toEqual([])
  })

  test('behavior: perHost budgets are charged under key@host, one budget per host and port', () => {
    const [rule] = parseBudgets([{ usd: '1', window: '1h', perHost: true }])
    const keyFor = (host: string) => chargesFor([rule!], spend({ url: new URL(`https://${host}/`) }))[0]?.key
    expect(keyFor('api.example.com')).toBe(`${rule?.key}@api.example.com`)
    expect(keyFor('api.example.com:8443')).toBe(`${rule?.key}@api.example.com:8443`)
    expect(new Set(['a.example.com', 'b.example.com', 'a.example.com'].map(keyFor)).size).toBe(2)
  })

  test('policy: a perHost budget is one budget whatever the spelling of its host (IPv4-mapped IPv6, a number, a root dot)', () => {
    const [rule] = parseBudgets([{ usd: '1', window: '1h', perHost: true }])
    const keyFor = (host: string) => chargesFor([rule!], spend({ url: new URL(`http://${host}/`) }))[0]?.key
    for (const spelling of ['[::ffff:127.0.0.1]:8080', '[::ffff:7f00:1]:8080', '2130706433:8080', '127.1:8080'])
      expect(keyFor(spelling)).toBe(`${rule?.key}@127.0.0.1:8080`)
    expect(keyFor('API.example.com.')).toBe(`${rule?.key}@api.example.com`)
    // Another address, or a plain IPv6 one, stays its own host.
    expect(keyFor('[::1]:8080')).toBe(`${rule?.key}@[::1]:8080`)
  })

  test('error: a USD budget that applies to a payment with no USD value is UNPRICEABLE', () => {
    const rules = parseBudgets([{ usd: '1', network: baseUsdc.network }])
    expect(() =>
      chargesFor(rules, spend({ asset: '0x1111111111111111111111111111111111111111', nanoUsd: undefined })),
    ).toThrowErrorMatchingInlineSnapshot(
      `[PayfetchError: [UNPRICEABLE] A USD budget applies but 0x1111111111111111111111111111111111111111 on eip155:8453 has no USD value; pass caps.rates.]`,
    )
    // A USD budget that does not apply (another network) does not need a value; an amount budget never does.
    expect(chargesFor(rules, spend({ ...baseSepoliaUsdc, nanoUsd: undefined }))).toEqual([])
    expect(charged([{ amount: 100n, ...baseUsdc }], spend({ nanoUsd: undefined }))).toHaveLength(1)
  })
})
