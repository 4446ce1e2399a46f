import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch } from '../../src/index.js'
import { redisLedger } from '../../src/redis/index.js'
import { countingSigner } from '../support/countingSigner.js'
import { reservation } from '../support/ledgerFixtures.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'
import { startWorker } from '../support/workers.js'

// Leases across processes sharing a Redis ledger, with real SIGKILLs: a payer that dies before its
// proof left frees its room one lease later; a payer that lives keeps it however long it waits; a
// pending payment is sent by one process at a time. Moments are read from the workers' own lines
// and the checking ledger runs on a clock set by hand, so nothing races the wall clock.
const worker = fileURLToPath(new URL('../support/leaseWorker.ts', import.meta.url))
const leaseMs = 900
const payerKey = generatePrivateKey()

let redis: RedisServer
let merchant: Merchant
let releaseHeld: () => void = () => {}
const held = new Promise<void>((resolve) => (releaseHeld = resolve))
const clients: Redis[] = []

beforeAll(async () => {
  redis = await startRedis()
  merchant = await startMerchant(
    {
      '/report': async (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.end('report')),
      // Settles the proof, then holds the answer until the test lets it go.
      '/held': async (request, response, self) =>
        self.charge(request, response, [requirement()], async () => {
          await held
          response.writeHead(200, { 'content-type': 'text/plain' }).end('held report')
        }),
    },
    { paymentIdentifier: { required: true } },
  )
})

afterAll(async () => {
  releaseHeld()
  await Promise.all(clients.map((client) => client.quit()))
  await merchant?.close()
  await redis?.stop()
})

/** A ledger on the same prefix whose clock reads `at()`. */
function checker(prefix: string, at: () => number) {
  const client = new Redis(redis.url)
  clients.push(client)
  return redisLedger({ redis: client, prefix, leaseMs, now: at })
}
const numberAfter = (line: string, index: number) => Number(line.split(' ')[index])

describe('leases across processes (Redis, SIGKILL)', () => {
  test('policy: a payer waiting in approve renews its lease and keeps its room past the first lease; killed with SIGKILL, its room is free one lease after its last renewal', async () => {
    const prefix = `payfetch:lease:${randomUUID()}:`
    const run = await startWorker(worker, {
      REDIS_URL: redis.url,
      LEDGER_PREFIX: prefix,
      LEASE_MS: String(leaseMs),
      PAYER_KEY: payerKey,
      MODE: 'approve',
      URL: `${merchant.url}/report`,
    })
    const reserved = await run.printed('reserved ')
    const firstLeaseEnd = numberAfter(reserved, 2)
    // Wait (on its output, not on a timer) until it has renewed past the first lease.
    const id = reserved.split(' ')[1]
    for (let count = 1; numberAfter(await run.nth(`renewed ${id} `, count), 2) <= firstLeaseEnd + 1; count++);
    // At a moment past its first lease but inside the renewed one, its 10 000 still count.
    const alive = checker(prefix, () => firstLeaseEnd + 1)
    const budget = (amount: bigint) => reservation(amount, { key: 'probe', limit: 10n ** 12n, charges: [] })
    expect(await alive.reserve(budget(0n))).toEqual({ ok: true })
    expect((await alive.report()).totals).toContainEqual(expect.objectContaining({ reserved: 10_000n }))

    await run.kill()
    expect((await run.exit).signal).toBe('SIGKILL')
    // Dead, it renews nothing more: one lease after any renewal it could have made, its room is free.
    const lastRenewal = Math.max(
      ...run
        .output()
        .split('\n')
        .filter((line) => line.startsWith('renewed '))
        .map((line) => numberAfter(line, 2)),
    )
    const later = checker(prefix, () => Date.now() + 10 * leaseMs)
    expect(Date.now() + 10 * leaseMs).toBeGreaterThan(lastRenewal)
    expect(await later.reserve(budget(0n))).toEqual({ ok: true })
    expect((await later.report()).totals.filter((total) => total.host === new URL(merchant.url).host)).toEqual([])
    expect(merchant.settled).toHaveLength(0)
  })

  test('policy: a pending payment is sent by one process at a time: while its sender lives another is refused with PAYMENT_IN_PROGRESS; after a SIGKILL it is resumed once, one lease later', async () => {
    const prefix = `payfetch:lease:${randomUUID()}:`
    const run = await startWorker(worker, {
      REDIS_URL: redis.url,
      LEDGER_PREFIX: prefix,
      LEASE_MS: String(leaseMs),
      PAYER_KEY: payerKey,
      MODE: 'pay',
      URL: `${merchant.url}/held`,
    })
    await run.printed('pending ')
    await merchant.whenSettled(1)
    // The sender waits for the held answer, renewing its claim.
    const pendingLine = await run.printed('renewed ')
    const signer = countingSigner(evm({ account: privateKeyToAccount(payerKey) }))
    const now = () => numberAfter(pendingLine, 2) - 1
    const other = createPayingFetch({ signers: [signer], ledger: checker(prefix, now) })
    const [pending] = await other.pendingPayments()
    await expect(other.resume(pending as NonNullable<typeof pending>)).rejects.toMatchObject({
      code: 'PAYMENT_IN_PROGRESS',
      details: { pendingId: pending?.id },
    })
    await run.kill()
    releaseHeld()
    const later = createPayingFetch({
      signers: [signer],
      ledger: checker(prefix, () => Date.now() + 10 * leaseMs),
    })
    const response = await later.resume(pending as NonNullable<typeof pending>)
    expect(await response.text()).toBe('held report')
    // Settled once; the resumed proof is answered from the server's payment-identifier cache.
    expect(merchant.settled).toHaveLength(1)
    expect(merchant.replayed).toBe(1)
    expect(signer.calls).toHaveLength(0)
    expect(await later.pendingPayments()).toEqual([])
    expect((await later.spendReport()).totals).toEqual([expect.objectContaining({ spent: 10_000n, reserved: 0n })])
  })
})
