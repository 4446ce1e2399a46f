import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import { redisSessions } from '../../src/redis/redisSessions.js'
import { credential, origin, sessionContract } from '../sessions/sessionContract.js'

let server: RedisServer
const connections = new Set<Redis>()
function connect(): Redis {
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 })
  connections.add(redis)
  return redis
}
const newPrefix = () => `test:session:${Math.random().toString(36).slice(2, 10)}:`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await Promise.all([...connections].map((redis) => redis.quit().catch(() => redis.disconnect())))
  await server?.stop()
})

sessionContract({
  name: 'redisSessions',
  locks: 'ttl',
  shared: true,
  create: async () => {
    const prefix = newPrefix()
    return {
      store: redisSessions({ redis: connect(), prefix }),
      reopen: async () => redisSessions({ redis: connect(), prefix }),
    }
  },
})

describe('redisSessions', () => {
  test('behavior: a credential with expiresAt gets a Redis TTL to that moment, and Redis drops it on time', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const store = redisSessions({ redis, prefix })
    // Our clock stands still while the TTL is computed: it is exactly the 400 ms left.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    try {
      await store.set(origin, credential('ttl', Date.now() + 400))
    } finally {
      vi.useRealTimers()
    }
    const ttl = await redis.pttl(prefix + origin)
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(400)
    // Gone from Redis itself, not only filtered on read (polled: Redis's clock, not one this test races).
    for (let tries = 0; tries < 100 && (await redis.exists(prefix + origin)) === 1; tries++) await sleep(50)
    expect(await redis.exists(prefix + origin)).toBe(0)
    expect(await store.get(origin)).toBeUndefined()
  })

  test('behavior: a credential without expiresAt has no TTL; a new one with expiresAt sets one', async () => {
    const redis = connect()
    const prefix = newPrefix()
    const store = redisSessions({ redis, prefix })
    await store.set(origin, credential('forever'))
    expect(await redis.pttl(prefix + origin)).toBe(-1)
    await store.set(origin, credential('later', Date.now() + 60_000))
    expect(await redis.pttl(prefix + origin)).toBeGreaterThan(59_000)
    await store.set(origin, credential('forever again'))
    expect(await redis.pttl(prefix + origin)).toBe(-1)
  })

  test('behavior: processes sharing a prefix share credentials; other prefixes do not see them', async () => {
    const prefix = newPrefix()
    const [a, b, other] = [
      redisSessions({ redis: connect(), prefix }),
      redisSessions({ redis: connect(), prefix }),
      redisSessions({ redis: connect(), prefix: newPrefix() }),
    ]
    await a.set(origin, credential('fleet'))
    expect(await b.get(origin)).toEqual(credential('fleet'))
    expect(await other.get(origin)).toBeUndefined()
    await b.delete(origin)
    expect(await a.get(origin)).toBeUndefined()
  })

  test('behavior: the default prefix is payfetch:session:', async () => {
    const redis = connect()
    await redisSessions({ redis }).set(origin, credential('default'))
    expect(JSON.parse((await redis.get(`payfetch:session:${origin}`)) ?? 'null')).toEqual(credential('default'))
    await redis.del(`payfetch:session:${origin}`)
  })

  test('behavior: an expiresAt that is not a whole millisecond still stores the credential', async () => {
    const store = redisSessions({ redis: connect(), prefix: newPrefix() })
    const expiresAt = Date.now() + 60_000.5
    await store.set(origin, credential('fractional', expiresAt))
    expect(await store.get(origin)).toEqual(credential('fractional', expiresAt))
  })
})
