import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import { redisLedger } from '../../src/redis/redisLedger.js'
import { ledgerContract, pendingFor, reservation } from '../support/ledgerContract.js'

// A real redis-server on a free loopback port, one for this file.
let server: RedisServer
const connections = new Set<Redis>()
function connect(): Redis {
  const redis = new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  connections.add(redis)
  return redis
}
const newPrefix = () => `test:${Math.random().toString(36).slice(2, 10)}:`

beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await Promise.all([...connections].map((redis) => redis.quit().catch(() => redis.disconnect())))
  await server?.stop()
})

ledgerContract({
  name: 'redisLedger',
  shared: true,
  create: async () => {
    const prefix = newPrefix()
    // Each instance has a connection of its own, as separate processes would.
    return { ledger: redisLedger({ redis: connect(), prefix }), reopen: async () => redisLedger({ redis: connect(), prefix }) }
  },
})

describe('redisLedger: a budget shared through Redis', () => {
  test('policy: four ledgers on four connections with one prefix share one budget: 4 × 50 concurrent reservations of 7 against 1000 → exactly 142', async () => {
    const prefix = newPrefix()
    const ledgers = Array.from({ length: 4 }, () => redisLedger({ redis: connect(), prefix }))
    const results = await Promise.all(ledgers.flatMap((ledger) => Array.from({ length: 50 }, () => ledger.reserve(reservation(7n, { windowMs: 86_400_000 })))))
    expect(results.filter((result) => result.ok)).toHaveLength(142)
    // Every ledger took part, and every ledger sees the same use.
    for (const ledger of ledgers) expect((await ledger.report([{ key: 'total', limit: 1000n, windowMs: 86_400_000 }])).budgets[0]?.used).toBe(994n)
  })

  test('behavior: ledgers with different prefixes on one Redis do not share anything', async () => {
    const redis = connect()
    const [a, b] = [redisLedger({ redis, prefix: newPrefix() }), redisLedger({ redis, prefix: newPrefix() })]
    const first = reservation(1000n)
    expect(await a.reserve(first)).toEqual({ ok: true })
    await a.savePending(pendingFor(first.id))
    expect(await b.reserve(reservation(1000n))).toEqual({ ok: true })
    expect(await b.pending()).toEqual([])
    expect((await b.report()).totals).toHaveLength(1)
  })

  test('behavior: the default prefix is payfetch: and every key the ledger writes starts with its prefix', async () => {
    const redis = connect()
    const before = new Set(await redis.keys('*'))
    const ledger = redisLedger({ redis })
    const entry = reservation(5n, { windowMs: 60_000, charges: [{ key: 'k@host', limit: 10n, amount: 5n, windowMs: 60_000 }] })
    await ledger.reserve(entry)
    await ledger.savePending(pendingFor(entry.id))
    const written = (await redis.keys('*')).filter((key) => !before.has(key)).sort()
    expect(written).toEqual(['payfetch:amount:k@host', 'payfetch:charge:k@host', 'payfetch:entries', 'payfetch:pending'])
    // A release leaves no trace in the budget's own keys.
    await ledger.release(entry.id)
    expect(await redis.zcard('payfetch:charge:k@host')).toBe(0)
    expect(await redis.hlen('payfetch:amount:k@host')).toBe(0)
    await redis.del(...written)
  })

  test('policy: amounts are stored and summed as decimal strings, beyond what a Lua number holds', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const amount = 123_456_789_012_345_678_901_234_567_890n
    await ledger.reserve(reservation(amount, { limit: 2n * amount }))
    await ledger.reserve(reservation(amount, { limit: 2n * amount }))
    expect(await redis.hvals(`${prefix}amount:total`)).toEqual([amount.toString(), amount.toString()])
    expect(await ledger.reserve(reservation(1n, { limit: 2n * amount }))).toEqual({ ok: false, key: 'total', used: 2n * amount, limit: 2n * amount })
  })

  test('behavior: a windowed budget drops expired spends from Redis as it checks', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const t0 = 1_700_000_000_000
    for (let i = 0; i < 5; i++) await ledger.reserve(reservation(100n, { windowMs: 1_000, time: t0 + i }))
    expect(await redis.zcard(`${prefix}charge:total`)).toBe(5)
    await ledger.reserve(reservation(100n, { windowMs: 1_000, time: t0 + 1_003 }))
    // t0 … t0+3 are out of the window; t0+4 and the new one stay.
    expect(await redis.zcard(`${prefix}charge:total`)).toBe(2)
    expect(await redis.hlen(`${prefix}amount:total`)).toBe(2)
  })
})
