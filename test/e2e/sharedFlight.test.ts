import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type LightningStack, startLightningStack, walletSecrets } from '../../examples/local-stack/lightningStack.js'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import type { FlightReport } from '../support/flightWorker.js'
import { startWorker } from '../support/workers.js'

// Cross-process single flight: processes sharing Redis sessions that meet the same L402 challenge
// pay once; the others wait on the lock and reuse the token.
const worker = fileURLToPath(new URL('../support/flightWorker.ts', import.meta.url))
let stack: LightningStack
let redis: RedisServer

beforeAll(async () => {
  ;[stack, redis] = await Promise.all([startLightningStack(), startRedis()])
})

afterAll(async () => {
  await stack?.stop()
  await redis?.stop()
})

describe('one L402 payment for a fleet', () => {
  test('policy: 4 processes × 25 concurrent calls that all meet the same L402 challenge make exactly one wallet payment, and every call is served with its token', async () => {
    // Every first request waits 300 ms for its challenge, so all 100 are out before any token exists.
    const server = await stack.l402Server({ challengeDelayMs: 300 })
    const wallet = await stack.lnd()
    const env = {
      URL: server.url,
      LND_URL: wallet.url,
      LND_MACAROON: walletSecrets.lndMacaroon,
      REDIS_URL: redis.url,
      LEDGER_PREFIX: `payfetch:flight:${randomUUID()}:`,
      SESSION_PREFIX: `payfetch:flight:${randomUUID()}:session:`,
      CALLS: '25',
    }
    const workers = await Promise.all(Array.from({ length: 4 }, () => startWorker<FlightReport>(worker, env)))
    const settled = stack.node.settled.length
    for (const { child } of workers) child.stdin?.end('go\n')
    const reports = await Promise.all(workers.map((entry) => entry.report))

    expect(reports.map((report) => report.codes)).toEqual([{}, {}, {}, {}])
    expect(reports.reduce((sum, report) => sum + report.ok, 0)).toBe(100)
    // Every call met the challenge; one wallet, in one process, paid once.
    expect(server.stats.challenges).toBe(100)
    expect(reports.reduce((sum, report) => sum + report.walletCalls, 0)).toBe(1)
    expect(stack.node.settled.length - settled).toBe(1)
    expect(server.stats.accepted).toBe(100)
    expect(new Set(server.authorizations).size).toBe(1)
    // Four tsx processes start and 100 calls wait on one lock: at a load of 25 on two cores that
    // alone passed the default 60 s.
  }, 240_000)
})
