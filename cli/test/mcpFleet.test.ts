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
