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
    return {
      ledger: redisLedger({ redis: connect(), prefix }),
      reopen: async () => redisLedger({ redis: connect(), prefix }),
    }
  },
})

describe('redisLedger: a budget shared through Redis', () => {
  test('policy: four ledgers on four connections with one prefix share one budget: 4 × 50 concurrent reservations of 7 against 1000 → exactly 142', async () => {
    const prefix = newPrefix()
    const ledgers = Array.from({ length: 4 }, () => redisLedger({ redis: connect(), prefix }))
    const results = await Promise.all(
      ledgers.flatMap((ledger) =>
        Array.from({ length: 50 }, () => ledger.reserve(reservation(7n, { windowMs: 86_400_000 }))),
      ),
    )
    expect(results.filter((result) => result.ok)).toHaveLength(142)
    // Every ledger took part, and every ledger sees the same use.
    for (const ledger of ledgers)
      expect((await ledger.report([{ key: 'total', limit: 1000n, windowMs: 86_400_000 }])).budgets[0]?.used).toBe(994n)
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
    const entry = reservation(5n, {
      windowMs: 60_000,
      charges: [{ key: 'k@host', limit: 10n, amount: 5n, windowMs: 60_000 }],
    })
    await ledger.reserve(entry)
    await ledger.savePending(pendingFor(entry.id))
    const written = (await redis.keys('*')).filter((key) => !before.has(key)).sort()
    expect(written).toEqual([
      'payfetch:amount:k@host',
      'payfetch:charge:k@host',
      'payfetch:entries',
      'payfetch:pending',
      'payfetch:sum:k@host',
    ])
    expect(await redis.get('payfetch:sum:k@host')).toBe('5')
    // A release leaves no trace in the budget's own keys.
    await ledger.release(entry.id)
    expect(await redis.zcard('payfetch:charge:k@host')).toBe(0)
    expect(await redis.hlen('payfetch:amount:k@host')).toBe(0)
    expect(await redis.exists('payfetch:sum:k@host')).toBe(0)
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
    expect(await redis.get(`${prefix}sum:total`)).toBe((2n * amount).toString())
    expect(await ledger.reserve(reservation(1n, { limit: 2n * amount }))).toEqual({
      ok: false,
      key: 'total',
      used: 2n * amount,
      limit: 2n * amount,
    })
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
    expect(await redis.get(`${prefix}sum:total`)).toBe('200')
  })

  // A budget as it stands in Redis, written directly: `count` spends of `amount` at t0, t0 + 1, ….
  const seed = async (redis: Redis, prefix: string, count: number, amount: bigint, sum?: string) => {
    for (let start = 0; start < count; start += 5_000) {
      const ids = Array.from({ length: Math.min(5_000, count - start) }, (_, index) => `seed-${start + index}`)
      await redis.zadd(`${prefix}charge:total`, ...ids.flatMap((id, index) => [t0 + start + index, id]))
      await redis.hset(`${prefix}amount:total`, Object.fromEntries(ids.map((id) => [id, amount.toString()])))
    }
    if (sum !== undefined) await redis.set(`${prefix}sum:total`, sum)
  }
  const t0 = 1_700_000_000_000

  test('behavior: a budget written by an older payfetch (no running sum) is added up once, then kept as a sum', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    await seed(redis, prefix, 3, 250n)
    expect(await ledger.reserve(reservation(251n, { time: t0 + 10 }))).toEqual({
      ok: false,
      key: 'total',
      used: 750n,
      limit: 1000n,
    })
    expect(await redis.get(`${prefix}sum:total`)).toBe('750')
    expect(await ledger.reserve(reservation(250n, { time: t0 + 10 }))).toEqual({ ok: true })
    expect(await redis.get(`${prefix}sum:total`)).toBe('1000')
  })

  test('behavior: a windowed budget written by an older payfetch is added up, then its expired spends come off', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    // t0 … t0+3 at 100 each; the window of 1000 at t0 + 1001 drops t0 and t0+1 (inclusive), keeps t0+2 and t0+3.
    await seed(redis, prefix, 4, 100n)
    expect(await ledger.reserve(reservation(801n, { windowMs: 1_000, time: t0 + 1_001 }))).toEqual({
      ok: false,
      key: 'total',
      used: 200n,
      limit: 1000n,
    })
    expect(await redis.get(`${prefix}sum:total`)).toBe('200')
    expect(await redis.zcard(`${prefix}charge:total`)).toBe(2)
  })

  test('behavior: 20 000 spends leaving a window in one reserve (past what Lua can unpack at once) all come off', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const amount = 10n ** 20n
    await seed(redis, prefix, 20_000, amount, (20_000n * amount).toString())
    const limit = 20_001n * amount
    expect(await ledger.reserve(reservation(2n * amount, { limit, windowMs: 60_000, time: t0 + 19_999 }))).toEqual({
      ok: false,
      key: 'total',
      used: 20_000n * amount,
      limit,
    })
    // At t0 + 79 999 every seeded spend is out of the window.
    expect(await ledger.reserve(reservation(limit, { limit, windowMs: 60_000, time: t0 + 79_999 }))).toEqual({
      ok: true,
    })
    expect(await redis.zcard(`${prefix}charge:total`)).toBe(1)
    expect(await redis.hlen(`${prefix}amount:total`)).toBe(1)
    expect(await redis.get(`${prefix}sum:total`)).toBe(limit.toString())
  })

  test('behavior: a sum that drifted below its amounts is clamped at zero, never negative, and reset once the budget is empty', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const [big, small] = [reservation(900n), reservation(50n)]
    for (const entry of [big, small]) expect(await ledger.reserve(entry)).toEqual({ ok: true })
    await redis.set(`${prefix}sum:total`, '100')
    await ledger.release(big.id)
    expect(await redis.get(`${prefix}sum:total`)).toBe('0')
    expect(await ledger.reserve(reservation(1000n))).toEqual({ ok: true })
    await redis.set(`${prefix}sum:total`, '7')
    await ledger.release(small.id)
    expect(await redis.get(`${prefix}sum:total`)).toBe('0')
  })

  test('behavior: the same budget twice in one reservation is stored once and counted once, as before running sums', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const twice = (amount: bigint) =>
      reservation(amount, {
        charges: [
          { key: 'total', limit: 1000n, amount },
          { key: 'total', limit: 1000n, amount },
        ],
      })
    const first = twice(600n)
    expect(await ledger.reserve(first)).toEqual({ ok: true })
    expect(await redis.get(`${prefix}sum:total`)).toBe('600')
    expect(await ledger.reserve(twice(401n))).toEqual({ ok: false, key: 'total', used: 600n, limit: 1000n })
    await ledger.release(first.id)
    expect(await redis.exists(`${prefix}sum:total`)).toBe(0)
  })
})
