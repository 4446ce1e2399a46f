import { Redis } from 'ioredis'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import { batchSettlement, evm } from '../../src/evm/index.js'
import { createPayingFetch, memoryLedger } from '../../src/index.js'
import { redisSessions } from '../../src/redis/index.js'
import { type ChannelServer, startChannelServer } from '../support/channelServer.js'

// Two paying fetches, each with its own Redis connection (as two processes would have), share one
// payment channel through Redis sessions and its lock.
let redis: RedisServer
let server: ChannelServer
const connections: Redis[] = []

beforeAll(async () => {
  redis = await startRedis()
  server = await startChannelServer()
})
afterAll(async () => {
  await Promise.all(connections.map((connection) => connection.quit().catch(() => connection.disconnect())))
  await server?.close()
  await redis?.stop()
})

describe('batch-settlement channels on Redis sessions', () => {
  test('behavior: two processes paying at once open one channel and never sign the same cumulative amount twice', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const prefix = `test:channels:${Math.random().toString(36).slice(2, 10)}:`
    const processes = [0, 1].map(() => {
      const connection = new Redis(redis.url, { maxRetriesPerRequest: 1 })
      connections.push(connection)
      return createPayingFetch({
        signers: [evm({ account, batchSettlement: batchSettlement() })],
        sessions: redisSessions({ redis: connection, prefix }),
        ledger: memoryLedger(),
      })
    })
    const calls = Array.from({ length: 6 }, (_, call) => processes[call % 2]?.(`${server.url}/weather`))
    const responses = await Promise.all(calls)
    expect(responses.map((response) => response?.status)).toEqual([200, 200, 200, 200, 200, 200])
    expect(server.payloads.filter((payload) => payload.type === 'deposit')).toHaveLength(1)
    const totals = server.payloads.map(
      (payload) => (payload.voucher as { maxClaimableAmount: string }).maxClaimableAmount,
    )
    expect(totals).toEqual(['1000', '2000', '3000', '4000', '5000', '6000'])
    // A third process, started later, continues where they stopped.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: 1 })
    connections.push(connection)
    const later = createPayingFetch({
      signers: [evm({ account, batchSettlement: batchSettlement() })],
      sessions: redisSessions({ redis: connection, prefix }),
    })
    expect((await later(`${server.url}/weather`)).status).toBe(200)
    expect(server.payloads.at(-1)).toMatchObject({ type: 'voucher', voucher: { maxClaimableAmount: '7000' } })
  })
})
