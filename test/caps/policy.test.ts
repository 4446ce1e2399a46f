import { describe, expect, test } from 'vitest'
import { type Caps, createPolicy } from '../../src/caps/policy.js'
import type { PayfetchError } from '../../src/errors/PayfetchError.js'
import { offer } from '../support/offer.js'
import { thrownPayfetchError } from '../support/thrown.js'

// Every stablecoin payfetch ships with has 6 decimals; an 18-decimal one (DAI-like), listed in
// caps.assets and priced at $1 through caps.rates, proves the USD arithmetic does not assume 6.
const dai = { network: 'eip155:1', asset: '0x6B175474E89094C44Da98b954EedeAC495271d0F', decimals: 18 }
const daiAtPar: Caps['rates'] = ({ network, asset }) =>
  network === dai.network && asset.toLowerCase() === dai.asset.toLowerCase() ? '1' : undefined
const baseUsdc = { network: 'eip155:8453', asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' }
const baseSepoliaUsdc = { network: 'eip155:84532', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e' }
const solanaUsdc = {
  network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
  asset: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
}
const unknownToken = { network: 'eip155:8453', asset: '0x1111111111111111111111111111111111111111' }

/** The refusal code for `amount` of `where` under `caps`, or `'ok'`. */
async function verdict(
  caps: Caps,
  where: { network: string; asset: string; decimals?: number },
  amount: bigint,
): Promise<string> {
  return (await createPolicy(caps).judge(offer(where, amount))).refusal?.code ?? 'ok'
}

/** The refusal `caps` give `amount` of `where`, if any. */
async function refusal(
  caps: Caps,
  where: { network: string; asset: string; decimals?: number },
  amount: bigint,
): Promise<PayfetchError | undefined> {
  return (await createPolicy(caps).judge(offer(where, amount))).refusal
}

const summary = (error: PayfetchError | undefined) =>
  error && { code: error.code, message: error.message, details: error.details }

const creationError = (caps: Caps): PayfetchError => thrownPayfetchError(() => createPolicy(caps))

describe('createPolicy', () => {
  test('policy: the default per-request cap is $0.10: 100000 atomic USDC passes, 100001 is refused', async () => {
    const policy = createPolicy()
    expect(await policy.judge(offer(baseUsdc, 100_000n))).toEqual({ nanoUsd: 100_000_000n })
    expect(summary((await policy.judge(offer(baseUsdc, 100_001n))).refusal)).toMatchInlineSnapshot(`
      {
        "code": "CAP_EXCEEDED",
        "details": {
          "amount": "100001",
          "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
          "limitUsd": "0.10",
          "network": "eip155:8453",
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "scheme": "exact",
        },
        "message": "[CAP_EXCEEDED] Offer of $0.100001 exceeds the per-request limit of $0.10.",
      }
    `)
  })

  test('policy: the default cap applies to every known USDC, Solana included', async () => {
    const verdicts = await Promise.all(
      [baseSepoliaUsdc, solanaUsdc].map(async (where) => [
        await verdict({}, where, 100_000n),
        await verdict({}, where, 100_001n),
      ]),
    )
    expect(verdicts).toEqual([
      ['ok', 'CAP_EXCEEDED'],
      ['ok', 'CAP_EXCEEDED'],
    ])
  })

  test('policy: pathUSD is a known stablecoin at par on Tempo mainnet and Moderato, and unknown on any other chain', async () => {
    const pathUsd = '0x20C0000000000000000000000000000000000000'
    const verdicts = await Promise.all(
      ['eip155:4217', 'eip155:42431', 'eip155:1337'].map(async (network) => [
        await verdict({}, { network, asset: pathUsd }, 100_000n),
        await verdict({}, { network, asset: pathUsd }, 100_001n),
      ]),
    )
    expect(verdicts).toEqual([
      ['ok', 'CAP_EXCEEDED'],
      ['ok', 'CAP_EXCEEDED'],
      ['ASSET_NOT_ALLOWED', 'ASSET_NOT_ALLOWED'],
    ])
  })

  test('policy: a custom perRequest.usd replaces the default', async () => {
    const caps = { perRequest: { usd: '2.5' } }
    expect([await verdict(caps, baseUsdc, 2_500_000n), await verdict(caps, baseUsdc, 2_500_001n)]).toEqual([
      'ok',
      'CAP_EXCEEDED',
    ])
    expect((await refusal(caps, baseUsdc, 3_000_000n))?.message).toMatchInlineSnapshot(
      `"[CAP_EXCEEDED] Offer of $3 exceeds the per-request limit of $2.5."`,
    )
    expect([
      await verdict({ perRequest: { usd: '0' } }, baseUsdc, 1n),
      await verdict({ perRequest: { usd: '0.000001' } }, baseUsdc, 1n),
    ]).toEqual(['CAP_EXCEEDED', 'ok'])
  })

  test('policy: USD math is exact for 6 decimals, down to the last atomic unit', async () => {
    const caps = { perRequest: { usd: '0.3' } }
    expect([await verdict(caps, baseUsdc, 300_000n), await verdict(caps, baseUsdc, 300_001n)]).toEqual([
      'ok',
      'CAP_EXCEEDED',
    ])
    // Beyond 2^53 a float cannot tell these two amounts apart.
    const large = { perRequest: { usd: '123456789012.345678' } }
    expect([
      await verdict(large, baseUsdc, 123_456_789_012_345_678n),
      await verdict(large, baseUsdc, 123_456_789_012_345_679n),
    ]).toEqual(['ok', 'CAP_EXCEEDED'])
  })

  test('policy: USD math is exact for 18 decimals at nano-dollar resolution, rounding the offer up', async () => {
    const listed = { assets: [dai, baseUsdc], rates: daiAtPar }
    // 10^17 + 1 is the same float as 10^17: only integer arithmetic tells them apart.
    expect([await verdict(listed, dai, 10n ** 17n), await verdict(listed, dai, 10n ** 17n + 1n)]).toEqual([
      'ok',
      'CAP_EXCEEDED',
    ])
    // Limits count in nano-dollars: $0.000000001 is 10^9 DAI atoms; one atom more rounds up to 2 nano-dollars.
    const tiny = { ...listed, perRequest: { usd: '0.000000001' } }
    expect([
      await verdict(tiny, dai, 10n ** 9n),
      await verdict(tiny, dai, 10n ** 9n + 1n),
      await verdict(tiny, baseUsdc, 1n),
    ]).toEqual(['ok', 'CAP_EXCEEDED', 'CAP_EXCEEDED'])
    const huge = { ...listed, perRequest: { usd: '1000000000000' } }
    expect([await verdict(huge, dai, 10n ** 30n), await verdict(huge, dai, 10n ** 30n + 1n)]).toEqual([
      'ok',
      'CAP_EXCEEDED',
    ])
    expect((await refusal(listed, dai, 10n ** 17n + 1n))?.message).toMatchInlineSnapshot(
      `"[CAP_EXCEEDED] Offer of $0.100000001 exceeds the per-request limit of $0.10."`,
    )
  })

  test('policy: an unknown asset is refused with ASSET_NOT_ALLOWED', async () => {
    expect(summary(await refusal({}, unknownToken, 1n))).toMatchInlineSnapshot(`
      {
        "code": "ASSET_NOT_ALLOWED",
        "details": {
          "amount": "1",
          "asset": "0x1111111111111111111111111111111111111111",
          "network": "eip155:8453",
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "scheme": "exact",
        },
        "message": "[ASSET_NOT_ALLOWED] Asset 0x1111111111111111111111111111111111111111 on eip155:8453 is not allowed; list it in caps.assets.",
      }
    `)
    // A rate for it does not make it allowed: only caps.assets does.
    expect(await verdict({ rates: () => '1' }, { ...unknownToken, decimals: 6 }, 1n)).toBe('ASSET_NOT_ALLOWED')
  })

  test('policy: USDC’s address on a chain where it is not USDC is an unknown asset', async () => {
    expect(await verdict({}, { network: 'eip155:10', asset: baseUsdc.asset }, 1n)).toBe('ASSET_NOT_ALLOWED')
  })

  test('policy: a listed unknown asset passes up to its maxAmount, without a USD limit', async () => {
    const caps = { assets: [{ ...unknownToken, maxAmount: 10n ** 24n }] }
    expect([await verdict(caps, unknownToken, 10n ** 24n), await verdict(caps, unknownToken, 10n ** 24n + 1n)]).toEqual(
      ['ok', 'CAP_EXCEEDED'],
    )
    expect(await createPolicy(caps).judge(offer(unknownToken, 10n ** 24n))).toEqual({})
    expect(summary(await refusal(caps, unknownToken, 10n ** 24n + 1n))).toMatchInlineSnapshot(`
      {
        "code": "CAP_EXCEEDED",
        "details": {
          "amount": "1000000000000000000000001",
          "asset": "0x1111111111111111111111111111111111111111",
          "limit": "1000000000000000000000000",
          "network": "eip155:8453",
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "scheme": "exact",
        },
        "message": "[CAP_EXCEEDED] Offer of 1000000000000000000000001 atomic units exceeds the asset limit of 1000000000000000000000000.",
      }
    `)
  })

  test('policy: EVM assets in caps.assets match case-insensitively, others exactly', async () => {
    const evmCaps = {
      assets: [{ ...unknownToken, asset: unknownToken.asset.toUpperCase().replace('0X', '0x'), maxAmount: 5n }],
    }
    expect(await verdict(evmCaps, unknownToken, 5n)).toBe('ok')
    const mint = {
      network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
      asset: 'So11111111111111111111111111111111111111112',
    }
    const solanaCaps = { assets: [{ ...mint, asset: mint.asset.toLowerCase(), maxAmount: 5n }] }
    expect(await verdict(solanaCaps, mint, 5n)).toBe('ASSET_NOT_ALLOWED')
    expect(await verdict({ assets: [{ ...mint, maxAmount: 5n }] }, mint, 5n)).toBe('ok')
  })

  test('error: a listed unknown asset without a bigint maxAmount or caps.rates is INVALID_OPTIONS at creation', () => {
    expect(summary(creationError({ assets: [unknownToken] }))).toMatchInlineSnapshot(`
      {
        "code": "INVALID_OPTIONS",
        "details": {
          "asset": "0x1111111111111111111111111111111111111111",
          "network": "eip155:8453",
        },
        "message": "[INVALID_OPTIONS] An asset payfetch cannot value in USD needs a maxAmount (bigint, atomic units) or caps.rates.",
      }
    `)
    expect(
      summary(creationError({ assets: [{ ...unknownToken, maxAmount: 1000 as unknown as bigint }] })),
    ).toMatchInlineSnapshot(`
      {
        "code": "INVALID_OPTIONS",
        "details": {
          "asset": "0x1111111111111111111111111111111111111111",
          "network": "eip155:8453",
        },
        "message": "[INVALID_OPTIONS] caps.assets[].maxAmount must be a bigint of atomic units.",
      }
    `)
    expect(creationError({ assets: [{ ...unknownToken, maxAmount: -1n }] }).code).toBe('INVALID_OPTIONS')
    // With a price source, the listing is valid and the USD limit applies.
    expect(() => createPolicy({ assets: [unknownToken], rates: () => undefined })).not.toThrow()
  })

  test('policy: a known stablecoin listed without maxAmount keeps the USD limit', async () => {
    const caps = { assets: [baseUsdc] }
    expect([await verdict(caps, baseUsdc, 100_000n), await verdict(caps, baseUsdc, 100_001n)]).toEqual([
      'ok',
      'CAP_EXCEEDED',
    ])
  })

  test('policy: a known stablecoin with a maxAmount is held to the lower of both limits', async () => {
    const lower = { assets: [{ ...baseUsdc, maxAmount: 50_000n }] }
    expect([await verdict(lower, baseUsdc, 50_000n), await verdict(lower, baseUsdc, 50_001n)]).toEqual([
      'ok',
      'CAP_EXCEEDED',
    ])
    expect((await refusal(lower, baseUsdc, 50_001n))?.details).toMatchObject({ limit: '50000' })
    const higher = { assets: [{ ...baseUsdc, maxAmount: 10n ** 9n }] }
    expect((await refusal(higher, baseUsdc, 100_001n))?.details).toMatchObject({ limitUsd: '0.10' })
  })

  test('policy: when assets is given, only listed assets pass, even known USDC elsewhere', async () => {
    const caps = { assets: [baseSepoliaUsdc] }
    expect([
      await verdict(caps, baseSepoliaUsdc, 1n),
      await verdict(caps, baseUsdc, 1n),
      await verdict(caps, solanaUsdc, 1n),
    ]).toEqual(['ok', 'ASSET_NOT_ALLOWED', 'ASSET_NOT_ALLOWED'])
    expect(await verdict({ assets: [] }, baseUsdc, 1n)).toBe('ASSET_NOT_ALLOWED')
  })

  test('policy: networks outside caps.networks are refused with NETWORK_NOT_ALLOWED', async () => {
    const caps = { networks: ['eip155:8453'] }
    expect([await verdict(caps, baseUsdc, 1n), await verdict(caps, baseSepoliaUsdc, 1n)]).toEqual([
      'ok',
      'NETWORK_NOT_ALLOWED',
    ])
    expect(summary(await refusal(caps, baseSepoliaUsdc, 1n))).toMatchInlineSnapshot(`
      {
        "code": "NETWORK_NOT_ALLOWED",
        "details": {
          "amount": "1",
          "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
          "network": "eip155:84532",
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "scheme": "exact",
        },
        "message": "[NETWORK_NOT_ALLOWED] Network eip155:84532 is not in caps.networks.",
      }
    `)
  })

  test('policy: the network is checked before the asset and the amount', async () => {
    expect(await verdict({ networks: ['eip155:1'] }, unknownToken, 10n ** 30n)).toBe('NETWORK_NOT_ALLOWED')
  })

  test('policy: authorization offers always pass; upfront and escrow only when caps.flows lists them', async () => {
    const judge = async (caps: Caps, flow?: 'authorization' | 'upfront' | 'escrow') =>
      (await createPolicy(caps).judge({ ...offer(baseUsdc, 10_000n), flow })).refusal?.code ?? 'ok'
    expect(await judge({})).toBe('ok')
    expect(await judge({}, 'authorization')).toBe('ok')
    expect(await judge({}, 'upfront')).toBe('FLOW_NOT_ALLOWED')
    expect(await judge({}, 'escrow')).toBe('FLOW_NOT_ALLOWED')
    expect(await judge({ flows: ['upfront'] }, 'upfront')).toBe('ok')
    expect(await judge({ flows: ['upfront'] }, 'escrow')).toBe('FLOW_NOT_ALLOWED')
    expect(await judge({ flows: ['escrow'] }, 'escrow')).toBe('ok')
    // An allowed flow is still held to every other limit.
    expect(
      (await createPolicy({ flows: ['upfront'] }).judge({ ...offer(baseUsdc, 100_001n), flow: 'upfront' })).refusal
        ?.code,
    ).toBe('CAP_EXCEEDED')
  })

  test('policy: a FLOW_NOT_ALLOWED refusal names the flow and the offer', async () => {
    const refused = (await createPolicy().judge({ ...offer(baseUsdc, 10_000n), flow: 'escrow' })).refusal
    expect(summary(refused)).toMatchInlineSnapshot(`
      {
        "code": "FLOW_NOT_ALLOWED",
        "details": {
          "amount": "10000",
          "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
          "flow": "escrow",
          "network": "eip155:8453",
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "scheme": "exact",
        },
        "message": "[FLOW_NOT_ALLOWED] The offer's payment flow is escrow: it settles before the server does the work; allow it in caps.flows.",
      }
    `)
  })

  test('error: caps.flows with an unknown flow is INVALID_OPTIONS at creation', () => {
    expect(creationError({ flows: ['later' as 'upfront'] }).code).toBe('INVALID_OPTIONS')
  })

  test('error: a perRequest.usd that is not a plain decimal string is INVALID_OPTIONS', () => {
    expect(summary(creationError({ perRequest: { usd: '$0.10' } }))).toMatchInlineSnapshot(`
      {
        "code": "INVALID_OPTIONS",
        "details": {
          "value": "$0.10",
        },
        "message": "[INVALID_OPTIONS] caps.perRequest.usd must be a decimal string like '0.10'.",
      }
    `)
    for (const usd of ['0,10', '-1', '1e-2', '.5', '5.', '', ' 0.1', '0.1 ', 'NaN', 'Infinity', '0x10', '1'.repeat(31)])
      expect(creationError({ perRequest: { usd } }).code, usd).toBe('INVALID_OPTIONS')
    expect(creationError({ perRequest: { usd: 0.1 as unknown as string } }).code).toBe('INVALID_OPTIONS')
  })
})

describe('createPolicy: checkHost', () => {
  const allowed = (caps: Caps['hosts'], url: string) =>
    createPolicy({ hosts: caps }).checkHost(new URL(url)) === undefined

  test('policy: without caps.hosts every host may be paid', () => {
    expect(allowed(undefined, 'https://anything.example.net/x')).toBe(true)
    expect(allowed({}, 'http://127.0.0.1:8080/x')).toBe(true)
  })

  test('policy: a plain host matches that host on any port, case-insensitively, and nothing else', () => {
    const hosts = { allow: ['API.example.com'] }
    expect(
      ['https://api.example.com/r', 'http://api.example.com:8443/r', 'https://API.EXAMPLE.COM/r'].map((url) =>
        allowed(hosts, url),
      ),
    ).toEqual([true, true, true])
    expect(
      ['https://example.com/r', 'https://sub.api.example.com/r', 'https://api.example.com.evil.net/r'].map((url) =>
        allowed(hosts, url),
      ),
    ).toEqual([false, false, false])
  })

  test('policy: *.example.com matches any subdomain but not example.com itself or a lookalike', () => {
    const hosts = { allow: ['*.example.com'] }
    expect(['https://api.example.com/', 'https://a.b.example.com:8443/'].map((url) => allowed(hosts, url))).toEqual([
      true,
      true,
    ])
    expect(
      ['https://example.com/', 'https://notexample.com/', 'https://example.com.evil.net/'].map((url) =>
        allowed(hosts, url),
      ),
    ).toEqual([false, false, false])
  })

  test('policy: host:port matches only that port, the scheme’s default port included', () => {
    const hosts = { allow: ['api.example.com:8443'] }
    expect(
      ['https://api.example.com:8443/', 'https://api.example.com/', 'http://api.example.com:8080/'].map((url) =>
        allowed(hosts, url),
      ),
    ).toEqual([true, false, false])
    expect([
      allowed({ allow: ['api.example.com:443'] }, 'https://api.example.com/'),
      allowed({ allow: ['api.example.com:443'] }, 'http://api.example.com/'),
    ]).toEqual([true, false])
    expect(allowed({ allow: ['[::1]:8080'] }, 'http://[::1]:8080/')).toBe(true)
  })

  test('policy: a host list matches every spelling of an address: IPv4-mapped IPv6, decimal and short IPv4, IDN', () => {
    const deny = { deny: ['127.0.0.1', 'bücher.example', '[::1]'] }
    expect(
      [
        'http://[::ffff:127.0.0.1]:8080/',
        'http://[::ffff:7f00:1]/',
        'http://2130706433/',
        'http://127.1/',
        'http://0x7f.0.0.1/',
        'https://xn--bcher-kva.example/',
        'https://BÜCHER.example./',
        'http://[0:0:0:0:0:0:0:1]/',
        'http://127.0.0.2/',
      ].map((url) => allowed(deny, url)),
    ).toEqual([false, false, false, false, false, false, false, false, true])
    expect(allowed({ allow: ['[::ffff:127.0.0.1]'] }, 'http://127.0.0.1:9000/')).toBe(true)
    expect(allowed({ allow: ['*.xn--bcher-kva.example'] }, 'https://shop.bücher.example/')).toBe(true)
  })

  test('policy: deny wins over allow, with HOST_NOT_ALLOWED', () => {
    const policy = createPolicy({ hosts: { allow: ['*.example.com'], deny: ['evil.example.com'] } })
    expect(policy.checkHost(new URL('https://good.example.com/'))).toBeUndefined()
    expect(summary(policy.checkHost(new URL('https://evil.example.com:8443/')))).toMatchInlineSnapshot(`
      {
        "code": "HOST_NOT_ALLOWED",
        "details": {
          "host": "evil.example.com:8443",
        },
        "message": "[HOST_NOT_ALLOWED] Paying evil.example.com:8443 is not allowed by caps.hosts.",
      }
    `)
  })

  test('policy: a deny entry cannot be sidestepped with an explicit default port or a root dot', () => {
    const hosts = { deny: ['evil.example.com:443', 'bad.example.com'] }
    expect(
      [
        'https://evil.example.com/',
        'https://evil.example.com:443/',
        'https://bad.example.com./',
        'https://BAD.example.com:444/',
      ].map((url) => allowed(hosts, url)),
    ).toEqual([false, false, false, false])
    expect(allowed(hosts, 'https://evil.example.com:8443/')).toBe(true)
  })

  test('policy: an empty allow list allows nothing', () => {
    expect(allowed({ allow: [] }, 'https://api.example.com/')).toBe(false)
  })
})
