import { describe, expect, test, vi } from 'vitest'
import { type Caps, callBounds, createPolicy } from '../../src/caps/policy.js'
import type { PayfetchError } from '../../src/errors/PayfetchError.js'
import { type Candidate, judgeOffers, pickOffer } from '../../src/fetch/chooseOffer.js'
import { bitcoinMainnet } from '../../src/index.js'
import type { Bolt11Request } from '../../src/methods/Bolt11.js'
import { type MethodKind, networkOf, type PaymentMethod } from '../../src/methods/PaymentMethod.js'
import type { Offer } from '../../src/offer/Offer.js'
import { x402 } from '../../src/protocols/x402/index.js'
import type { MethodPayer, Signer } from '../../src/signers/Signer.js'
import { offer } from '../support/offer.js'
import { thrownPayfetchError } from '../support/thrown.js'

// The shipped stablecoins all have 6 decimals; an 18-decimal one (DAI-like), listed in caps.assets
// and priced at $1 through caps.rates, proves offers are compared by value, not by atomic amount.
const dai = { network: 'eip155:1', asset: '0x6B175474E89094C44Da98b954EedeAC495271d0F', decimals: 18 }
const daiAtPar: Caps['rates'] = ({ asset }) => (asset.toLowerCase() === dai.asset.toLowerCase() ? '1' : undefined)
// Bitcoin over Lightning is known but not worth a dollar: without a rate it must not be compared
// with stablecoins at par (11 decimals: millisatoshis).
const lightningBtc = { network: bitcoinMainnet, asset: 'BTC' }

const baseUsdc = { network: 'eip155:8453', asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' }
const baseSepoliaUsdc = { network: 'eip155:84532', asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e' }
const solanaUsdc = {
  network: 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp',
  asset: 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v',
}
const unknownToken = { network: 'eip155:8453', asset: '0x1111111111111111111111111111111111111111' }

/** A signer that pays every method on the given networks; it is never asked to pay here. */
function signerFor(name: string, networks: readonly string[], maxFee?: (request: PaymentMethod) => bigint): Signer {
  const payer = <kind extends MethodKind>(): MethodPayer<kind> => ({
    refusal: (request) => (networks.includes(networkOf(request)) ? undefined : 'not my network'),
    ...(maxFee && { maxFee }),
    pay: () => Promise.reject(new Error('not called')),
  })
  return { name, methods: { eip3009: payer(), 'spl-transfer': payer(), bolt11: payer() } }
}

const evmSigner = signerFor('evm', ['eip155:1', 'eip155:8453', 'eip155:84532'])
const lightningSigner = signerFor('lightning', [bitcoinMainnet])

// USDC everywhere it is known, DAI priced at par, Lightning under its sats cap.
const defaultCaps: Caps = {
  perRequest: { usd: '1' },
  rates: daiAtPar,
  assets: [dai, baseUsdc, baseSepoliaUsdc, solanaUsdc, lightningBtc],
}

function judge(
  offers: Offer[],
  signers: Signer[] = [evmSigner],
  caps: Caps = defaultCaps,
  options: Parameters<typeof judgeOffers>[3] = {},
): Promise<Candidate[]> {
  return judgeOffers(
    offers.map((entry) => ({ offer: entry, protocol: x402 })),
    signers,
    createPolicy(caps),
    options,
  )
}

/** `network asset-prefix amount → refusal` lines: the order and the verdicts at a glance. */
const table = (candidates: Candidate[]) =>
  candidates.map(
    ({ offer: entry, signer, refusal }) =>
      `${entry.network} ${entry.asset.id.slice(0, 6)} ${entry.amount} → ${refusal?.code ?? `pay with ${signer?.name}`}`,
  )

const pickError = (candidates: Candidate[]): PayfetchError => thrownPayfetchError(() => pickOffer(candidates))

describe('judgeOffers', () => {
  test('behavior: payable offers come cheapest first in USD across stablecoins with different decimals', async () => {
    // 0.05 USDC, 0.04 DAI (18 decimals: a far larger atomic amount), 0.03 USDC on another chain.
    const candidates = await judge([
      offer(baseUsdc, 50_000n),
      offer(dai, 4n * 10n ** 16n),
      offer(baseSepoliaUsdc, 30_000n),
    ])
    expect(table(candidates)).toMatchInlineSnapshot(`
      [
        "eip155:84532 0x036C 30000 → pay with evm",
        "eip155:1 0x6B17 40000000000000000 → pay with evm",
        "eip155:8453 0x8335 50000 → pay with evm",
      ]
    `)
  })

  test('behavior: equal prices keep the server’s order', async () => {
    const candidates = await judge([offer(baseSepoliaUsdc, 10_000n), offer(dai, 10n ** 16n), offer(baseUsdc, 10_000n)])
    expect(candidates.map(({ offer: entry }) => entry.network)).toEqual(['eip155:84532', 'eip155:1', 'eip155:8453'])
  })

  test('behavior: offers in the same unknown asset compare by amount, whatever the address case', async () => {
    const caps = { assets: [{ ...unknownToken, maxAmount: 10n ** 30n }] }
    const shouting = { ...unknownToken, asset: unknownToken.asset.toUpperCase().replace('0X', '0x') }
    const candidates = await judge(
      [offer(unknownToken, 7n), offer(shouting, 5n), offer(unknownToken, 6n)],
      [evmSigner],
      caps,
    )
    expect(candidates.map(({ offer: entry }) => entry.amount)).toEqual([5n, 6n, 7n])
  })

  test('behavior: an offer in another asset between two stablecoin offers does not stop them being compared', async () => {
    const caps = { perRequest: { usd: '1' }, assets: [{ ...unknownToken, maxAmount: 10n }, baseUsdc, baseSepoliaUsdc] }
    const candidates = await judge(
      [offer(baseUsdc, 50_000n), offer(unknownToken, 1n), offer(baseSepoliaUsdc, 30_000n), offer(unknownToken, 2n)],
      [evmSigner],
      caps,
    )
    // The stablecoins are sorted within their own positions; the other asset keeps its positions.
    expect(table(candidates)).toEqual([
      'eip155:84532 0x036C 30000 → pay with evm',
      'eip155:8453 0x1111 1 → pay with evm',
      'eip155:8453 0x8335 50000 → pay with evm',
      'eip155:8453 0x1111 2 → pay with evm',
    ])
    expect(pickOffer(candidates).offer.amount).toBe(30_000n)
  })

  test('policy: refused offers come last, even when cheaper, with their refusal', async () => {
    const candidates = await judge(
      [
        offer(solanaUsdc, 1n),
        offer(baseUsdc, 2_000_000n),
        offer(baseUsdc, 900_000n),
        offer(unknownToken, 1n),
        offer(baseSepoliaUsdc, 500_000n),
      ],
      [evmSigner],
      { perRequest: { usd: '1' } },
    )
    expect(table(candidates)).toMatchInlineSnapshot(`
      [
        "eip155:84532 0x036C 500000 → pay with evm",
        "eip155:8453 0x8335 900000 → pay with evm",
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp EPjFWd 1 → NO_SIGNER",
        "eip155:8453 0x8335 2000000 → CAP_EXCEEDED",
        "eip155:8453 0x1111 1 → ASSET_NOT_ALLOWED",
      ]
    `)
    expect(
      candidates.slice(0, 2).every((candidate) => candidate.signer === evmSigner && candidate.refusal === undefined),
    ).toBe(true)
  })

  test('behavior: a known asset that is not a stablecoin is not compared with stablecoins at par', async () => {
    // No caps.assets: every known asset may be paid, Lightning under its (default) sats cap, and no rates.
    const caps = { perRequest: { usd: '1' } }
    // 1000 msat would be $0.00000001 at par; it keeps its place instead of jumping ahead.
    const candidates = await judge(
      [offer(baseUsdc, 50_000n), offer(lightningBtc, 1000n), offer(baseSepoliaUsdc, 30_000n)],
      [evmSigner, lightningSigner],
      caps,
    )
    expect(table(candidates)).toEqual([
      'eip155:84532 0x036C 30000 → pay with evm',
      'bip122:000000000019d6689c085ae165831e93 BTC 1000 → pay with lightning',
      'eip155:8453 0x8335 50000 → pay with evm',
    ])
    expect(candidates.map((candidate) => candidate.nanoUsd)).toEqual([30_000_000n, undefined, 50_000_000n])
  })

  test('behavior: the first signer that can pay an offer is chosen for it', async () => {
    const solana = signerFor('solana', [solanaUsdc.network])
    const both = signerFor('both', [solanaUsdc.network, baseUsdc.network])
    const candidates = await judge([offer(solanaUsdc, 10_000n), offer(baseUsdc, 20_000n)], [solana, both])
    expect(candidates.map((candidate) => candidate.signer?.name)).toEqual(['solana', 'both'])
  })

  test('policy: an offer no signer can pay is not checked against the caps', async () => {
    const policy = createPolicy()
    const spy = vi.spyOn(policy, 'judge')
    const candidates = await judgeOffers([{ offer: offer(solanaUsdc, 1n), protocol: x402 }], [evmSigner], policy)
    expect(candidates[0]?.refusal?.code).toBe('NO_SIGNER')
    expect(spy).not.toHaveBeenCalled()
  })
})

describe('judgeOffers: prefer, call limits and rates', () => {
  test('behavior: prefer ranks protocols before cost; unlisted protocols come after, cheapest first', async () => {
    const offers = [
      offer(baseUsdc, 10_000n, 'x402'),
      offer(baseUsdc, 90_000n, 'l402'),
      offer(baseUsdc, 50_000n, 'payment'),
      offer(baseUsdc, 40_000n, 'l402'),
    ]
    const candidates = await judge(offers, [evmSigner], defaultCaps, { prefer: ['l402', 'payment'] })
    expect(candidates.map(({ offer: entry }) => `${entry.protocol} ${entry.amount}`)).toEqual([
      'l402 40000',
      'l402 90000',
      'payment 50000',
      'x402 10000',
    ])
    // Without prefer, cost alone decides.
    const plain = await judge(offers)
    expect(plain.map(({ offer: entry }) => `${entry.protocol} ${entry.amount}`)).toEqual([
      'x402 10000',
      'l402 40000',
      'payment 50000',
      'l402 90000',
    ])
  })

  test('policy: authorization offers come before cheaper upfront and escrow ones; those need caps.flows', async () => {
    const offers: Offer[] = [
      { ...offer(baseUsdc, 10_000n), flow: 'upfront' },
      { ...offer(baseUsdc, 20_000n), flow: 'escrow' },
      offer(baseUsdc, 30_000n),
      { ...offer(baseUsdc, 40_000n), flow: 'authorization' },
    ]
    const flowOf = (candidates: Candidate[]) =>
      candidates.map(({ offer: entry, refusal }) => `${entry.flow ?? '-'} ${entry.amount} ${refusal?.code ?? 'ok'}`)
    expect(flowOf(await judge(offers))).toEqual([
      '- 30000 ok',
      'authorization 40000 ok',
      'upfront 10000 FLOW_NOT_ALLOWED',
      'escrow 20000 FLOW_NOT_ALLOWED',
    ])
    expect(flowOf(await judge(offers, [evmSigner], { ...defaultCaps, flows: ['upfront', 'escrow'] }))).toEqual([
      '- 30000 ok',
      'authorization 40000 ok',
      'upfront 10000 ok',
      'escrow 20000 ok',
    ])
    // Alone, an allowed upfront offer is paid; a refused one says why.
    expect(pickError(await judge([offers[0] as Offer])).code).toBe('FLOW_NOT_ALLOWED')
  })

  test('policy: a preferred protocol whose offer is refused does not outrank a payable one', async () => {
    const candidates = await judge(
      [offer(baseUsdc, 20_000n, 'x402'), offer(baseUsdc, 5_000_000n, 'l402')],
      [evmSigner],
      defaultCaps,
      { prefer: ['l402'] },
    )
    expect(table(candidates)).toEqual([
      'eip155:8453 0x8335 20000 → pay with evm',
      'eip155:8453 0x8335 5000000 → CAP_EXCEEDED',
    ])
  })

  test('policy: the call’s maxUsd reaches the policy and refuses offers above it', async () => {
    const offers = [offer(baseUsdc, 30_000n), offer(baseSepoliaUsdc, 20_000n)]
    const candidates = await judge(offers, [evmSigner], defaultCaps, { bounds: callBounds({ maxUsd: '0.025' }) })
    expect(table(candidates)).toEqual([
      'eip155:84532 0x036C 20000 → pay with evm',
      'eip155:8453 0x8335 30000 → CAP_EXCEEDED',
    ])
    expect(candidates[1]?.refusal?.message).toMatchInlineSnapshot(
      `"[CAP_EXCEEDED] Offer of $0.03 exceeds the call limit of $0.025."`,
    )
  })

  test('behavior: an asset valued through caps.rates is compared with stablecoins in USD', async () => {
    // $100 000 per BTC: 30 sats = 30 000 msat = $0.03, between the two USDC offers.
    const caps: Caps = { perRequest: { usd: '1' }, rates: ({ symbol }) => (symbol === 'BTC' ? '100000' : undefined) }
    const candidates = await judge(
      [offer(baseUsdc, 50_000n), offer(lightningBtc, 30_000n), offer(baseSepoliaUsdc, 20_000n)],
      [evmSigner, lightningSigner],
      caps,
    )
    expect(table(candidates)).toEqual([
      'eip155:84532 0x036C 20000 → pay with evm',
      'bip122:000000000019d6689c085ae165831e93 BTC 30000 → pay with lightning',
      'eip155:8453 0x8335 50000 → pay with evm',
    ])
    expect(candidates.map((candidate) => candidate.nanoUsd)).toEqual([20_000_000n, 30_000_000n, 50_000_000n])
  })
})

describe('judgeOffers: signer fees', () => {
  // A Lightning-like signer whose routing fee limit (msat) the test writes into each invoice.
  const withFees = signerFor('lightning-fees', [bitcoinMainnet], (request) =>
    request.kind === 'bolt11' ? BigInt(request.invoice.slice('fee:'.length)) : 0n,
  )
  const btcOffer = (amount: bigint, fee: bigint): Offer => {
    const base = offer(lightningBtc, amount)
    return { ...base, method: { ...(base.method as Bolt11Request), invoice: `fee:${fee}` } }
  }

  test('policy: the caps judge the amount plus the signer’s maxFee', async () => {
    const caps: Caps = { perRequest: { usd: '1' } }
    const candidates = await judge([btcOffer(95_000n, 5_000n), btcOffer(95_000n, 5_001n)], [withFees], caps)
    expect(candidates.map((candidate) => [candidate.cost, candidate.refusal?.code])).toEqual([
      [100_000n, undefined],
      [100_001n, 'CAP_EXCEEDED'],
    ])
    expect(candidates[1]?.refusal?.message).toMatchInlineSnapshot(
      `"[CAP_EXCEEDED] Offer of 100001 msat exceeds the per-request limit of 100 sats."`,
    )
  })

  test('behavior: offers in one asset are ordered by amount plus fee, not by amount', async () => {
    const candidates = await judge(
      [btcOffer(10_000n, 50_000n), btcOffer(30_000n, 0n), btcOffer(20_000n, 20_000n)],
      [withFees],
      { perRequest: { usd: '1' } },
    )
    expect(candidates.map((candidate) => candidate.cost)).toEqual([30_000n, 40_000n, 60_000n])
  })

  test('behavior: a signer without maxFee costs exactly the amount', async () => {
    const [candidate] = await judge([offer(baseUsdc, 12_345n)])
    expect([candidate?.cost, candidate?.nanoUsd]).toEqual([12_345n, 12_345_000n])
  })
})

describe('pickOffer', () => {
  test('behavior: picks the cheapest payable offer with its signer', async () => {
    const picked = pickOffer(
      await judge([offer(baseUsdc, 50_000n), offer(baseSepoliaUsdc, 30_000n), offer(solanaUsdc, 1n)]),
    )
    expect([picked.offer.network, picked.offer.amount, picked.signer.name, picked.refusal]).toEqual([
      'eip155:84532',
      30_000n,
      'evm',
      undefined,
    ])
  })

  test('error: when nothing is payable, the cap refusal wins over NO_SIGNER and the details list every offer', async () => {
    // The NO_SIGNER offer comes first in the server's order and is the cheapest.
    const candidates = await judge(
      [offer(solanaUsdc, 1n), offer(baseUsdc, 2_000_000n), offer(unknownToken, 5n)],
      [evmSigner],
      { perRequest: { usd: '1' } },
    )
    const error = pickError(candidates)
    expect({ code: error.code, message: error.message, details: error.details }).toMatchInlineSnapshot(`
      {
        "code": "CAP_EXCEEDED",
        "details": {
          "amount": "2000000",
          "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
          "limitUsd": "1",
          "network": "eip155:8453",
          "offers": [
            {
              "amount": "1",
              "asset": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
              "network": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
              "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
              "protocol": "x402",
              "refusal": "NO_SIGNER",
              "scheme": "exact",
            },
            {
              "amount": "2000000",
              "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
              "network": "eip155:8453",
              "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
              "protocol": "x402",
              "refusal": "CAP_EXCEEDED",
              "scheme": "exact",
            },
            {
              "amount": "5",
              "asset": "0x1111111111111111111111111111111111111111",
              "network": "eip155:8453",
              "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
              "protocol": "x402",
              "refusal": "ASSET_NOT_ALLOWED",
              "scheme": "exact",
            },
          ],
          "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
          "protocol": "x402",
          "scheme": "exact",
        },
        "message": "[CAP_EXCEEDED] Offer of $2 exceeds the per-request limit of $1.",
      }
    `)
  })

  test('error: NO_SIGNER when no signer can pay any offer', async () => {
    const error = pickError(await judge([offer(solanaUsdc, 10_000n), offer(solanaUsdc, 20_000n)]))
    expect(error.code).toBe('NO_SIGNER')
    expect(error.details.offers).toEqual([
      expect.objectContaining({ network: solanaUsdc.network, amount: '10000', refusal: 'NO_SIGNER' }),
      expect.objectContaining({ network: solanaUsdc.network, amount: '20000', refusal: 'NO_SIGNER' }),
    ])
  })

  test('error: CHALLENGE_INVALID when there is no offer at all', async () => {
    expect(pickError([])).toMatchObject({ code: 'CHALLENGE_INVALID', details: { offers: [] } })
  })
})
