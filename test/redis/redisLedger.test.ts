import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import { ledgerKeyPrefix, redisLedger } from '../../src/redis/redisLedger.js'
import { ledgerContract, pendingFor, reservation, usdcBase } from '../support/ledgerContract.js'
import { t0, testClock } from '../support/ledgerFixtures.js'

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
  create: async (options = {}) => {
    const prefix = newPrefix()
    const clock = testClock(options.now)
    // Each instance has a connection of its own, as separate processes would.
    const open = async () => redisLedger({ redis: connect(), prefix, leaseMs: options.leaseMs, now: clock.now })
    return { ledger: await open(), reopen: open, setNow: clock.set }
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

  test('policy: every key of a ledger shares one hash tag made from its prefix, so its scripts run in one Redis Cluster slot', async () => {
    expect(ledgerKeyPrefix('payfetch:')).toBe('{payfetch}:')
    expect(ledgerKeyPrefix('app:eu:')).toBe('{app:eu}:')
    expect(ledgerKeyPrefix('ledger')).toBe('{ledger}')
    // A prefix that already holds a hash tag keeps it (and its slot).
    expect(ledgerKeyPrefix('{tenant-7}:payfetch:')).toBe('{tenant-7}:payfetch:')
    expect(ledgerKeyPrefix('a{}b:')).toBe('{a{}b}:')
    expect(() => ledgerKeyPrefix('')).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))

    const redis = connect()
    const before = new Set(await redis.keys('*'))
    const ledger = redisLedger({ redis })
    const entry = {
      ...reservation(5n, { charges: [{ key: 'k@host', limit: 10n, amount: 5n, windowMs: 60_000 }] }),
      owner: 'me',
    }
    await ledger.reserve(entry)
    const pendingOne = { ...reservation(1n), owner: 'me' }
    await ledger.reserve(pendingOne)
    await ledger.savePending(pendingFor(pendingOne.id), 'me')
    await ledger.report([{ key: 'k', limit: 10n, perHost: true }])
    const written = (await redis.keys('*')).filter((key) => !before.has(key)).sort()
    expect(written).toEqual([
      '{payfetch}:entries',
      '{payfetch}:leases',
      '{payfetch}:pending',
      '{payfetch}:sums',
      '{payfetch}:totals',
      '{payfetch}:windows',
    ])
    expect(await redis.hget('{payfetch}:sums', 'k@host')).toBe('5')
    // A release leaves no trace but a budget at zero.
    await ledger.release(entry.id)
    await ledger.release(pendingOne.id)
    expect(await redis.zcard('{payfetch}:windows')).toBe(0)
    expect(await redis.hlen('{payfetch}:entries')).toBe(0)
    expect(await redis.hlen('{payfetch}:pending')).toBe(0)
    expect(await redis.zcard('{payfetch}:leases')).toBe(0)
    expect(await redis.hlen('{payfetch}:totals')).toBe(0)
    expect(await redis.hget('{payfetch}:sums', 'k@host')).toBe('0')
    await redis.del(...written)
  })

  test('policy: amounts are stored and summed as decimal strings, beyond what a Lua number holds', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const amount = 123_456_789_012_345_678_901_234_567_890n
    await ledger.reserve(reservation(amount, { limit: 2n * amount }))
    await ledger.reserve(reservation(amount, { limit: 2n * amount }))
    expect(await redis.hget(`${ledgerKeyPrefix(prefix)}sums`, 'total')).toBe((2n * amount).toString())
    expect(await ledger.reserve(reservation(1n, { limit: 2n * amount }))).toEqual({
      ok: false,
      key: 'total',
      used: 2n * amount,
      limit: 2n * amount,
    })
  })

  test('behavior: windows drop expired charges from Redis as it checks; entries that left every window and settled are dropped, their amounts kept in sums and totals', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const keys = ledgerKeyPrefix(prefix)
    const ledger = redisLedger({ redis, prefix })
    const charges = (amount: bigint) => [
      { key: 'second', limit: 10n ** 12n, amount, windowMs: 1_000 },
      { key: 'total', limit: 10n ** 12n, amount },
    ]
    for (let index = 0; index < 1_000; index++) {
      const entry = reservation(3n, { time: t0 + index * 10, charges: charges(3n) })
      await ledger.reserve(entry)
      await (index % 2 ? ledger.commit(entry.id) : ledger.markRefused(entry.id))
    }
    // What is left is the last second's hundred: the rest left its window and was dropped.
    expect(await redis.zcard(`${keys}windows`)).toBe(100)
    expect(await redis.hlen(`${keys}entries`)).toBe(100)
    expect(await redis.hget(`${keys}sums`, 'second')).toBe('300')
    expect(await redis.hget(`${keys}sums`, 'total')).toBe('3000')
    const report = await ledger.report([{ key: 'total', limit: 10n ** 12n }])
    expect(report).toEqual({
      budgets: [{ key: 'total', used: 3_000n, limit: 10n ** 12n, windowMs: undefined }],
      totals: [{ host: 'api.example.com', ...usdcBase, spent: 1_500n, reserved: 0n, unknown: 1_500n }],
    })
  })

  // Commands Redis ran (inside scripts too) while `work` ran; nothing else uses this server meanwhile.
  const commandsDuring = async (redis: Redis, work: () => Promise<unknown>) => {
    await redis.config('RESETSTAT')
    await work()
    const stats = String(await redis.info('commandstats'))
    const counted = [...stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].filter(([, name]) => name !== 'config')
    return counted.reduce((sum, [, , calls]) => sum + Number(calls), 0) - 1 // the INFO itself
  }

  test('policy: reserve and report touch as many Redis keys and commands after 3 000 payments as after 30 (O(charges) and O(budgets), not O(history))', async () => {
    const redis = connect()
    const prefix = newPrefix()
    let count = 0
    // The report's "now" is the time of the latest payment: nothing is out of a window yet.
    const ledger = redisLedger({ redis, prefix, now: () => t0 + count })
    const hosts = ['a.example.com', 'b.example.com', 'c.example.com']
    const charges = (amount: bigint, host: string) => [
      { key: 'day', limit: 10n ** 15n, amount, windowMs: 86_400_000 },
      { key: `hour@${host}`, limit: 10n ** 15n, amount, windowMs: 3_600_000 },
      { key: 'total', limit: 10n ** 15n, amount },
    ]
    const rules = [
      { key: 'day', limit: 10n ** 15n, windowMs: 86_400_000 },
      { key: 'hour', limit: 10n ** 15n, windowMs: 3_600_000, perHost: true },
      { key: 'total', limit: 10n ** 15n },
    ]
    const pay = async () => {
      const host = hosts[count % 3] as string
      const entry = reservation(7n, { host, time: t0 + count++, charges: charges(7n, host) })
      await ledger.reserve(entry)
      await ledger.commit(entry.id)
    }
    const measure = async () => ({
      reserve: await commandsDuring(redis, pay),
      report: await commandsDuring(redis, () => ledger.report(rules)),
    })
    for (let index = 0; index < 30; index++) await pay()
    const early = await measure()
    await Promise.all(Array.from({ length: 3_000 }, pay))
    const late = await measure()
    expect(late).toEqual(early)
    expect((await ledger.report(rules)).budgets[0]?.used).toBe(7n * BigInt(count))
  })

  test('behavior: 20 000 charges leaving a window in one reserve (past what Lua can unpack at once) all come off', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const amount = 10n ** 20n
    const limit = 20_001n * amount
    await Promise.all(
      Array.from({ length: 20_000 }, (_, index) =>
        ledger.reserve(reservation(amount, { limit, windowMs: 60_000, time: t0 + index })),
      ),
    )
    expect(await ledger.reserve(reservation(2n * amount, { limit, windowMs: 60_000, time: t0 + 19_999 }))).toEqual({
      ok: false,
      key: 'total',
      used: 20_000n * amount,
      limit,
    })
    // At t0 + 79 999 every one of them is out of the window.
    expect(await ledger.reserve(reservation(limit, { limit, windowMs: 60_000, time: t0 + 79_999 }))).toEqual({
      ok: true,
    })
    expect(await redis.zcard(`${ledgerKeyPrefix(prefix)}windows`)).toBe(1)
    expect(await redis.hget(`${ledgerKeyPrefix(prefix)}sums`, 'total')).toBe(limit.toString())
  })

  test('behavior: a sum that drifted below its amounts is clamped at zero, never negative', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const [big, small] = [reservation(900n), reservation(50n)]
    for (const entry of [big, small]) expect(await ledger.reserve(entry)).toEqual({ ok: true })
    await redis.hset(`${ledgerKeyPrefix(prefix)}sums`, 'total', '100')
    await ledger.release(big.id)
    expect(await redis.hget(`${ledgerKeyPrefix(prefix)}sums`, 'total')).toBe('0')
    expect(await ledger.reserve(reservation(1000n))).toEqual({ ok: true })
  })

  test('behavior: the same budget twice in one reservation is stored once and counted once', async () => {
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
    expect(await redis.hget(`${ledgerKeyPrefix(prefix)}sums`, 'total')).toBe('600')
    expect(await ledger.reserve(twice(401n))).toEqual({ ok: false, key: 'total', used: 600n, limit: 1000n })
    await ledger.release(first.id)
    expect(await redis.hget(`${ledgerKeyPrefix(prefix)}sums`, 'total')).toBe('0')
  })

  test('behavior: a state change sent twice (resent after a reconnect) changes nothing more', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const ledger = redisLedger({ redis, prefix })
    const entry = reservation(600n, { windowMs: 60_000 })
    await ledger.reserve(entry)
    const settled = { spend: { ...entry.spend, amount: 500n }, charges: [{ ...entry.charges[0]!, amount: 500n }] }
    await ledger.commit(entry.id, settled)
    await ledger.commit(entry.id, settled)
    await ledger.release(entry.id)
    await ledger.release(entry.id)
    const report = await ledger.report([{ key: 'total', limit: 1000n, windowMs: 60_000 }])
    expect(report.budgets[0]?.used).toBe(0n)
    expect(report.totals).toEqual([])
  })
})
