import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { encodeBase64Json } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, memoryLedger, type PayfetchError } from '../../src/index.js'
import { networkOf } from '../../src/methods/PaymentMethod.js'
import { countingSigner } from '../support/countingSigner.js'
import { type L402Merchant, startL402Merchant, tableWallet } from '../support/l402Merchant.js'
import { type Merchant, requirement, startMerchant, usdc } from '../support/merchant.js'

// Budgets, per-call limits and valuation, against loopback merchants that verify every proof.
const account = privateKeyToAccount(generatePrivateKey())
const baseUsdc = '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913'
const unknownToken = '0x1111111111111111111111111111111111111111'

let merchant: Merchant
let other: Merchant
let lightning: L402Merchant

const item =
  (self: Merchant) => async (request: Parameters<Merchant['charge']>[0], response: Parameters<Merchant['charge']>[1]) =>
    self.charge(request, response, [requirement()], () => response.end('item'))

beforeAll(async () => {
  merchant = await startMerchant({
    '/item': (request, response, self) => item(self)(request, response),
    '/item-base': async (request, response, self) =>
      self.charge(
        request,
        response,
        [requirement({ network: 'eip155:8453', asset: baseUsdc, extra: { name: 'USD Coin', version: '2' } })],
        () => response.end('item on base'),
      ),
    '/fifty-cents': async (request, response, self) =>
      self.charge(request, response, [requirement({ amount: '500000' })], () => response.end('pricey')),
    '/unknown-asset': async (request, response, self) =>
      self.charge(
        request,
        response,
        [requirement({ asset: unknownToken, extra: { name: 'Test', version: '1' } })],
        () => response.end('unknown paid'),
      ),
    // Takes the proof and refuses it: the server may still settle it, so it stays counted.
    '/refuses': async (request, response, self) => {
      if (!request.headers['payment-signature']) return self.charge(request, response, [requirement()], () => {})
      response.writeHead(402, {
        'payment-required': encodeBase64Json({ x402Version: 2, error: 'settlement failed', accepts: [requirement()] }),
        'payment-response': encodeBase64Json({
          success: false,
          errorReason: 'facilitator_unavailable',
          transaction: '',
          network: 'eip155:84532',
        }),
      })
      response.end('{}')
    },
  })
  other = await startMerchant({ '/item': (request, response, self) => item(self)(request, response) })
  lightning = await startL402Merchant(10)
})

afterAll(async () => {
  await Promise.all([merchant.close(), other.close(), lightning.close()])
})

const proofs = (target: Merchant, path = '/item') =>
  target.seen.filter((entry) => entry.path === path && entry.headers['payment-signature']).length
const failure = (call: Promise<unknown>) =>
  call.then(
    () => expect.unreachable('the call should have been refused'),
    (error: unknown) => error as PayfetchError,
  )

describe('budgets', () => {
  test('policy: a USD budget over a rolling window pays until used up, then BUDGET_EXHAUSTED with nothing signed', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer], caps: { budgets: [{ usd: '0.03', window: '1h' }] } })
    const before = proofs(merchant)
    for (let index = 0; index < 3; index++) expect(await (await fetchPaid(`${merchant.url}/item`)).text()).toBe('item')

    const error = await failure(fetchPaid(`${merchant.url}/item`))
    expect(error.code).toBe('BUDGET_EXHAUSTED')
    expect(error.details).toMatchObject({ used: '30000000', limit: '30000000', amount: '10000' })
    expect(signer.calls).toHaveLength(3)
    expect(proofs(merchant) - before).toBe(3)

    const report = await fetchPaid.spendReport()
    expect(report.budgets).toEqual([
      { key: error.details.budget, used: 30_000_000n, limit: 30_000_000n, windowMs: 3_600_000 },
    ])
    expect(report.totals).toEqual([
      {
        host: new URL(merchant.url).host,
        network: 'eip155:84532',
        asset: usdc,
        spent: 30_000n,
        reserved: 0n,
        unknown: 0n,
      },
    ])
  })

  test('behavior: a rolling window frees its room as payments age out of it, and not before', async () => {
    // The clock is the test's: only Date moves; timers and sockets run as ever.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    try {
      const fetchPaid = createPayingFetch({
        signers: [evm({ account })],
        caps: { budgets: [{ usd: '0.01', window: 800 }] },
      })
      expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
      expect((await failure(fetchPaid(`${merchant.url}/item`))).code).toBe('BUDGET_EXHAUSTED')
      vi.setSystemTime(Date.now() + 799)
      expect((await failure(fetchPaid(`${merchant.url}/item`))).code).toBe('BUDGET_EXHAUSTED')
      vi.setSystemTime(Date.now() + 1)
      expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
    } finally {
      vi.useRealTimers()
    }
  })

  test('policy: perHost gives every host a budget of its own', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({
      signers: [signer],
      caps: { budgets: [{ usd: '0.01', window: '1d', perHost: true }] },
    })
    expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
    expect((await failure(fetchPaid(`${merchant.url}/item`))).code).toBe('BUDGET_EXHAUSTED')
    expect((await fetchPaid(`${other.url}/item`)).status).toBe(200)
    expect((await failure(fetchPaid(`${other.url}/item`))).code).toBe('BUDGET_EXHAUSTED')
    expect(signer.calls).toHaveLength(2)
    const { budgets } = await fetchPaid.spendReport()
    expect(budgets.map(({ key, used }) => [key.slice(key.lastIndexOf('@') + 1), used])).toEqual(
      expect.arrayContaining([
        [new URL(merchant.url).host, 10_000_000n],
        [new URL(other.url).host, 10_000_000n],
      ]),
    )
  })

  test('policy: a host budget counts only payments to that host', async () => {
    const host = new URL(merchant.url).host
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], caps: { budgets: [{ usd: '0.01', host }] } })
    expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
    expect((await failure(fetchPaid(`${merchant.url}/item`))).code).toBe('BUDGET_EXHAUSTED')
    // Another port is another host: not counted.
    expect((await fetchPaid(`${other.url}/item`)).status).toBe(200)
    expect((await fetchPaid(`${other.url}/item`)).status).toBe(200)
  })

  test('policy: an asset budget in atomic units counts only its network and asset (EVM addresses in any case)', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({
      signers: [signer],
      caps: { budgets: [{ amount: 20_000n, network: 'eip155:84532', asset: usdc.toLowerCase() }] },
    })
    expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
    expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
    const error = await failure(fetchPaid(`${merchant.url}/item`))
    expect(error).toMatchObject({ code: 'BUDGET_EXHAUSTED', details: { used: '20000', limit: '20000' } })
    // USDC on Base mainnet is another asset: the budget does not apply.
    expect(await (await fetchPaid(`${merchant.url}/item-base`)).text()).toBe('item on base')
    expect(signer.calls.map(networkOf)).toEqual(['eip155:84532', 'eip155:84532', 'eip155:8453'])
  })

  test('policy: a total budget holds across paying fetches that share a ledger', async () => {
    const ledger = memoryLedger()
    const caps = { budgets: [{ usd: '0.02' }] }
    const first = createPayingFetch({ signers: [evm({ account })], caps, ledger })
    const second = createPayingFetch({ signers: [evm({ account })], caps, ledger })
    expect((await first(`${merchant.url}/item`)).status).toBe(200)
    expect((await second(`${other.url}/item`)).status).toBe(200)
    expect((await failure(first(`${merchant.url}/item`))).code).toBe('BUDGET_EXHAUSTED')
    expect((await failure(second(`${merchant.url}/item-base`))).code).toBe('BUDGET_EXHAUSTED')
    expect((await first.spendReport()).budgets).toEqual([
      expect.objectContaining({ used: 20_000_000n, limit: 20_000_000n }),
    ])
  })

  test('policy: 50 concurrent calls against a memory-ledger budget for exactly 10 pay exactly 10; 40 get BUDGET_EXHAUSTED', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer], caps: { budgets: [{ usd: '0.10', window: '1d' }] } })
    const settledBefore = merchant.settled.length
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => fetchPaid(`${merchant.url}/item`).then((response) => response.text())),
    )
    const paid = results.filter((result) => result.status === 'fulfilled')
    const refused = results.flatMap((result) =>
      result.status === 'rejected' ? [(result.reason as PayfetchError).code] : [],
    )
    expect(paid).toHaveLength(10)
    expect(paid.every((result) => result.value === 'item')).toBe(true)
    expect(refused).toEqual(Array(40).fill('BUDGET_EXHAUSTED'))
    expect(signer.calls).toHaveLength(10)
    expect(merchant.settled.length - settledBefore).toBe(10)
    expect((await fetchPaid.spendReport()).budgets).toEqual([
      expect.objectContaining({ used: 100_000_000n, limit: 100_000_000n }),
    ])
  })

  test('policy: a proof the server refused stays counted (refused), and keeps its share of the budget', async () => {
    const fetchPaid = createPayingFetch({
      signers: [evm({ account })],
      caps: { budgets: [{ usd: '0.01', window: '1d' }] },
    })
    const error = await failure(fetchPaid(`${merchant.url}/refuses`))
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED', details: { reason: 'facilitator_unavailable' } })
    const report = await fetchPaid.spendReport()
    // Refused payments are reported apart from what surely was spent: the server holds a valid authorization.
    expect(report.totals).toEqual([expect.objectContaining({ spent: 0n, reserved: 0n, unknown: 10_000n })])
    expect(report.budgets).toEqual([expect.objectContaining({ used: 10_000_000n })])
    expect(await fetchPaid.pendingPayments()).toEqual([])
    expect((await failure(fetchPaid(`${merchant.url}/item`))).code).toBe('BUDGET_EXHAUSTED')
  })

  test('behavior: a signer that fails before a proof exists frees its reservation', async () => {
    const broken = evm({
      account: { address: account.address, signTypedData: async () => Promise.reject(new Error('device locked')) },
    })
    const ledger = memoryLedger()
    const caps = { budgets: [{ usd: '0.01', window: '1d' }] }
    expect((await failure(createPayingFetch({ signers: [broken], caps, ledger })(`${merchant.url}/item`))).code).toBe(
      'PAYMENT_FAILED',
    )
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], caps, ledger })
    expect((await fetchPaid.spendReport()).totals).toEqual([])
    expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
  })
})

describe('per-call limits and valuation', () => {
  test('policy: withLimits can only lower the per-request cap, never raise it', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer] })
    // Default per-request cap $0.10: a call limit of $1 does not let $0.50 through.
    const raised = await failure(fetchPaid.withLimits({ maxUsd: '1' })(`${merchant.url}/fifty-cents`))
    expect(raised).toMatchObject({ code: 'CAP_EXCEEDED', details: { limitUsd: '0.10' } })
    // A lower call limit wins, and a later, higher one cannot undo it.
    const lowered = fetchPaid.withLimits({ maxUsd: '0.005' })
    await expect(lowered(`${merchant.url}/item`)).rejects.toThrowErrorMatchingInlineSnapshot(
      `[PayfetchError: [CAP_EXCEEDED] Offer of $0.01 exceeds the call limit of $0.005.]`,
    )
    expect((await failure(lowered.withLimits({ maxUsd: '5' })(`${merchant.url}/item`))).details).toMatchObject({
      limitUsd: '0.005',
    })
    expect(
      (
        await failure(
          createPayingFetch({ signers: [signer], caps: { perRequest: { usd: '0.005' } } }).withLimits({ maxUsd: '1' })(
            `${merchant.url}/item`,
          ),
        )
      ).code,
    ).toBe('CAP_EXCEEDED')
    expect(signer.calls).toHaveLength(0)
    // A limit equal to the price pays.
    expect(await (await fetchPaid.withLimits({ maxUsd: '0.01' })(`${merchant.url}/item`)).text()).toBe('item')
    expect(signer.calls).toHaveLength(1)
  })

  test('policy: an asset without a USD value is UNPRICEABLE under a USD call limit or a USD budget, though its own limit allows it', async () => {
    const signer = countingSigner(evm({ account }))
    const assets = [{ network: 'eip155:84532', asset: unknownToken, maxAmount: 10_000n }]
    const fetchPaid = createPayingFetch({ signers: [signer], caps: { assets } })
    expect((await failure(fetchPaid.withLimits({ maxUsd: '1' })(`${merchant.url}/unknown-asset`))).code).toBe(
      'UNPRICEABLE',
    )
    const budgeted = createPayingFetch({ signers: [signer], caps: { assets, budgets: [{ usd: '5', window: '1d' }] } })
    expect((await failure(budgeted(`${merchant.url}/unknown-asset`))).code).toBe('UNPRICEABLE')
    expect(signer.calls).toHaveLength(0)
    expect(await (await fetchPaid(`${merchant.url}/unknown-asset`)).text()).toBe('unknown paid')
  })

  test('policy: rates value sats, so a USD limit lets a Lightning payment through; without a rate it is UNPRICEABLE', async () => {
    const wallet = tableWallet(lightning)
    // 10 sats; BTC at $100 000 makes it $0.01.
    const unpriced = createPayingFetch({ signers: [wallet] }).withLimits({ maxUsd: '0.05' })
    expect((await failure(unpriced(`${lightning.url}/report`))).code).toBe('UNPRICEABLE')
    expect(wallet.calls).toBe(0)

    const seen: { asset: string; symbol?: string | undefined }[] = []
    const rates = (asset: { network: string; asset: string; symbol?: string | undefined }) => (
      seen.push(asset), asset.asset === 'BTC' ? '100000' : undefined
    )
    const priced = createPayingFetch({ signers: [wallet], caps: { rates } }).withLimits({ maxUsd: '0.05' })
    const response = await priced(`${lightning.url}/report`)
    expect(await response.text()).toBe('lightning paid')
    expect(getReceipt(response)).toMatchObject({ protocol: 'l402', asset: 'BTC', amount: 10_000n })
    expect(seen[0]).toMatchObject({ asset: 'BTC', symbol: 'BTC' })
    expect(wallet.calls).toBe(1)

    // The same rate makes it too dear for a lower limit; a rate that fails refuses (fail closed).
    expect(
      (
        await failure(
          createPayingFetch({ signers: [wallet], caps: { rates } }).withLimits({ maxUsd: '0.005' })(
            `${lightning.url}/report`,
          ),
        )
      ).code,
    ).toBe('CAP_EXCEEDED')
    const broken = () => Promise.reject(new Error('price feed down'))
    expect(
      (await failure(createPayingFetch({ signers: [wallet], caps: { rates: broken } })(`${lightning.url}/report`)))
        .code,
    ).toBe('UNPRICEABLE')
    expect(wallet.calls).toBe(1)
  })
})
