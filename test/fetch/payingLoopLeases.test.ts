import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, type Ledger, memoryLedger, type PayfetchError } from '../../src/index.js'
import { startL402Merchant, tableWallet } from '../support/l402Merchant.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// What the paying loop asks of a ledger's leases and claims, in one process (the cross-process
// proofs with SIGKILL are test/e2e/leases.test.ts and crashResume.test.ts).
const account = privateKeyToAccount(generatePrivateKey())
let merchant: Merchant
let releaseHeld: () => void = () => {}
const held = new Promise<void>((resolve) => (releaseHeld = resolve))

beforeAll(async () => {
  merchant = await startMerchant(
    {
      '/item': async (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.end('item')),
      // The first proof settles and its answer is lost; the second (a resume) is held until the
      // test lets it go, then answered from the payment-identifier cache.
      '/held': (() => {
        let proofs = 0
        return async (request, response, self) => {
          if (request.headers['payment-signature'] && ++proofs === 2) await held
          await self.charge(request, response, [requirement()], () => response.end('held item'), {
            loseResponse: () => proofs === 1,
          })
        }
      })(),
    },
    { paymentIdentifier: { required: true } },
  )
})

afterAll(async () => {
  releaseHeld()
  await merchant?.close()
})

/** The ledger, recording each call by name (and the owner ids it is given). */
function recording(ledger: Ledger) {
  const calls: string[] = []
  const owners = new Set<string>()
  const wrapped: Ledger = {
    ...ledger,
    leaseMs: ledger.leaseMs,
    reserve: (reservation) => (
      calls.push('reserve'), owners.add(String(reservation.owner)), ledger.reserve(reservation)
    ),
    claim: (id, owner) => (calls.push('claim'), owners.add(owner), ledger.claim(id, owner)),
    savePending: (pending, owner) => (
      calls.push('savePending'), owners.add(String(owner)), ledger.savePending(pending, owner)
    ),
    commit: (id, settled) => (calls.push('commit'), ledger.commit(id, settled)),
    markUnknown: (id) => (calls.push('markUnknown'), ledger.markUnknown(id)),
    release: (id) => (calls.push('release'), ledger.release(id)),
  }
  return { ledger: wrapped, calls, owners }
}

describe('leases and claims in the paying loop', () => {
  test('behavior: an x402 payment reserves and saves its pending payment under one owner id, then commits', async () => {
    const { ledger, calls, owners } = recording(memoryLedger())
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], ledger })
    expect((await fetchPaid(`${merchant.url}/item`)).status).toBe(200)
    expect(calls).toEqual(['reserve', 'savePending', 'commit'])
    expect(owners.size).toBe(1)
    expect([...owners][0]).toMatch(/^pf_[0-9a-f]{32}$/)
  })

  test('policy: a Lightning payment is marked unknown and kept pending before the wallet is asked, so no lease can release money that may have moved', async () => {
    const lightning = await startL402Merchant(10)
    try {
      const { ledger, calls } = recording(memoryLedger())
      const wallet = tableWallet(lightning)
      const pay = wallet.methods.bolt11?.pay.bind(wallet.methods.bolt11) as NonNullable<
        typeof wallet.methods.bolt11
      >['pay']
      let seenWhenPaying: string[] = []
      const watched = {
        ...wallet,
        methods: {
          bolt11: {
            ...wallet.methods.bolt11,
            pay: (...args: Parameters<typeof pay>) => ((seenWhenPaying = [...calls]), pay(...args)),
          },
        },
      }
      const fetchPaid = createPayingFetch({ signers: [watched], ledger })
      expect((await fetchPaid(`${lightning.url}/report`)).status).toBe(200)
      // …and kept as pending (its challenge, no proof yet) before, so a crash in the wallet call cannot hide it.
      expect(seenWhenPaying).toEqual(['reserve', 'markUnknown', 'savePending'])
      expect(calls).toEqual(['reserve', 'markUnknown', 'savePending', 'savePending', 'commit'])
      expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ spent: 10_000n, unknown: 0n })])
    } finally {
      await lightning.close()
    }
  })

  test('policy: a second resume of a payment that a first resume is sending is refused with PAYMENT_IN_PROGRESS, and the proof goes out once more, not twice', async () => {
    const { ledger } = recording(memoryLedger())
    const fetchPaid = createPayingFetch({ signers: [evm({ account })], ledger })
    const lost = (await fetchPaid(`${merchant.url}/held`).catch((error: unknown) => error)) as PayfetchError
    expect(lost.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    const [pending] = await fetchPaid.pendingPayments()
    if (!pending) throw new Error('no pending payment')
    const proofs = () => merchant.seen.filter((entry) => entry.path === '/held' && entry.headers['payment-signature'])
    const first = fetchPaid.resume(pending)
    // The first resume's proof has reached the merchant (its answer is held): it holds the claim.
    while (proofs().length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
    await expect(fetchPaid.resume(pending)).rejects.toMatchObject({
      code: 'PAYMENT_IN_PROGRESS',
      details: { pendingId: pending.id, until: expect.any(Number) },
    })
    releaseHeld()
    expect(await (await first).text()).toBe('held item')
    expect(proofs()).toHaveLength(2)
    expect(merchant.replayed).toBe(1)
    expect(await fetchPaid.pendingPayments()).toEqual([])
    // Settled: a resume now finds nothing to send.
    await expect(fetchPaid.resume(pending)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' })
  })
})
