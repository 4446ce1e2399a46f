import { createServer, type Socket, connect as tcpConnect } from 'node:net'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import { type Merchant, requirement, startMerchant } from '../../test/support/merchant.js'
import { connectMcp, type McpSession } from './support/mcpClient.js'

// Two `payfetch mcp` processes with PAYFETCH_REDIS_URL share one budget (a real redis-server on
// loopback); the merchant verifies every signature it settles.
let redis: RedisServer
let merchant: Merchant
const sessions: McpSession[] = []

beforeAll(async () => {
  redis = await startRedis()
  merchant = await startMerchant({
    '/report': (request, response, self) => self.charge(request, response, [requirement()], () => response.end('ok')),
  })
})

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.close().catch(() => {})))
  await merchant?.close()
  await redis?.stop()
})

describe('MCP: a fleet on one Redis budget', () => {
  test('policy: two servers share PAYFETCH_BUDGET_USD: the second payment past it is BUDGET_EXHAUSTED and nothing moves', async () => {
    const env = {
      PAYFETCH_REDIS_URL: redis.url,
      PAYFETCH_BUDGET_USD: '0.015',
      PAYFETCH_STATE_DIR: '/tmp/payfetch-unused',
    }
    const [first, second] = await Promise.all([
      connectMcp({ ...env, PAYFETCH_EVM_PRIVATE_KEY: generatePrivateKey() }),
      connectMcp({ ...env, PAYFETCH_EVM_PRIVATE_KEY: generatePrivateKey() }),
    ])
    sessions.push(first!, second!)
    const settled = merchant.settled.length
    expect((await first!.call('pay_fetch', { url: `${merchant.url}/report` })).value).toMatchObject({ paid: true })
    expect(await second!.call('pay_fetch', { url: `${merchant.url}/report` })).toMatchObject({
      isError: true,
      value: { code: 'BUDGET_EXHAUSTED', paid: false },
    })
    expect(merchant.settled.length).toBe(settled + 1)
    const report = await second!.call('spend_report')
    expect(report.value.budgets).toEqual([expect.objectContaining({ used: '10000000', limit: '15000000' })])
  })
})

/** A TCP relay to `port` that can stop passing anything on: a Redis that accepts and never answers. */
async function relayTo(port: number) {
  let frozen = false
  const sockets: Socket[] = []
  const server = createServer((client) => {
    const upstream = tcpConnect(port, '127.0.0.1')
    sockets.push(client, upstream)
    client.on('data', (chunk) => frozen || upstream.write(chunk))
    upstream.on('data', (chunk) => frozen || client.write(chunk))
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: relayPort } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${relayPort}`,
    freeze: () => {
      frozen = true
    },
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('MCP: a Redis that is not there, or stops answering', () => {
  const env = { PAYFETCH_STATE_DIR: '/tmp/payfetch-unused', PAYFETCH_EVM_PRIVATE_KEY: generatePrivateKey() }

  test('error: PAYFETCH_REDIS_URL on a closed port, or on a server that accepts and never answers, is SETTINGS_INVALID naming it; nothing paid', async () => {
    const relay = await relayTo(redis.port)
    relay.freeze()
    try {
      const settled = merchant.settled.length
      for (const url of ['redis://127.0.0.1:1', relay.url]) {
        const session = await connectMcp({ ...env, PAYFETCH_REDIS_URL: url })
        sessions.push(session)
        const result = await session.call('pay_fetch', { url: `${merchant.url}/report` })
        expect(result, url).toMatchObject({ isError: true, value: { code: 'SETTINGS_INVALID', paid: false } })
        expect(result.text, url).toContain('PAYFETCH_REDIS_URL: Redis could not be reached')
        // ioredis's own reports (with stack traces) never reach the host's log.
        expect(session.stderr(), url).not.toContain('[ioredis]')
        await session.close()
      }
      expect(merchant.settled.length).toBe(settled)
    } finally {
      await relay.close()
    }
  })

  test('policy: a Redis that stops answering mid-run ends pay_fetch STORE_FAILED, paid false, in bounded time; nothing paid', async () => {
    const relay = await relayTo(redis.port)
    try {
      const session = await connectMcp({ ...env, PAYFETCH_REDIS_URL: relay.url })
      sessions.push(session)
      expect((await session.call('spend_report')).isError).toBe(false)
      const settled = merchant.settled.length
      relay.freeze()
      expect(await session.call('pay_fetch', { url: `${merchant.url}/report` })).toMatchObject({
        isError: true,
        value: { code: 'STORE_FAILED', paid: false },
      })
      expect(merchant.settled.length).toBe(settled)
      expect(session.stderr()).not.toContain('[ioredis]')
    } finally {
      await relay.close()
    }
  })
})
