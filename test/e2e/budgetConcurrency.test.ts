import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Cluster, Redis } from 'ioredis'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { track, untrack } from '../../examples/local-stack/children.js'
import { type RedisCluster, type RedisServer, startRedis, startRedisCluster } from '../../examples/local-stack/redis.js'
import { ledgerKeyPrefix, redisLedger } from '../../src/redis/index.js'
import type { WorkerReport } from '../support/budgetWorker.js'
import { type Merchant, requirement, startMerchant } from '../support/merchant.js'

// The cross-process budget proof of issue 5: 4 Node processes × 250 concurrent paid requests, one
// Redis budget for 777 payments, one merchant that verifies every EIP-712 signature it settles. It
// runs on one redis-server and on a real 3-master Redis Cluster (issue 10), where every ledger
// script must declare its keys under one hash tag, and the same on Valkey (Debian's valkey-server,
// from bookworm-backports: .ci/run installs it).
const processes = 4
const callsEach = 250
const price = 10_000n // $0.01 in USDC atomic units
const budgetUsd = '7.77'
const budgetAtomic = 7_770_000n
const worker = fileURLToPath(new URL('../support/budgetWorker.ts', import.meta.url))

let redis: RedisServer
let cluster: RedisCluster
let valkey: RedisServer
let valkeyCluster: RedisCluster
let merchant: Merchant

beforeAll(async () => {
  ;[redis, cluster, valkey, valkeyCluster] = await Promise.all([
    startRedis(),
    startRedisCluster(3),
    startRedis({ server: 'valkey-server' }),
    startRedisCluster(3, 30_000, 'valkey-server'),
  ])
  merchant = await startMerchant({
    '/item': async (request, response, self) =>
      self.charge(request, response, [requirement({ amount: price.toString() })], () => response.end('item')),
  })
})

afterAll(async () => {
  await merchant?.close()
  await Promise.all([redis?.stop(), cluster?.stop(), valkey?.stop(), valkeyCluster?.stop()])
})

/** Starts one worker; resolves once it is warmed up and waiting for "go". */
async function startWorker(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; report: Promise<WorkerReport> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', worker], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  track(child)
  let stdout = ''
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4_000)))
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
      if (stdout.includes('ready\n')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${stderr}`)))
  })
  const report = new Promise<WorkerReport>((resolve, reject) => {
    // 'close', not 'exit': the last stdout chunk may arrive after the process has exited.
    child.once('close', (code) => {
      untrack(child)
      const line = stdout.split('\n').find((text) => text.startsWith('{'))
      if (code === 0 && line) resolve(JSON.parse(line) as WorkerReport)
      else reject(new Error(`worker exited (${code}):\n${stdout}\n${stderr}`))
    })
  })
  report.catch(() => {})
  await ready
  return { child, report }
}

type Server = 'redis' | 'valkey'
type Target = { name: string; server: Server; env: () => Record<string, string>; client: () => Redis | Cluster }
const one = (name: string, kind: Server, server: () => RedisServer): Target => ({
  name,
  server: kind,
  env: () => ({ REDIS_URL: server().url }),
  client: () => new Redis(server().url),
})
const joined = (name: string, kind: Server, nodes: () => RedisCluster): Target => ({
  name,
  server: kind,
  env: () => ({
    REDIS_CLUSTER: nodes()
      .nodes.map((node) => `${node.host}:${node.port}`)
      .join(','),
  }),
  client: () => new Cluster([...nodes().nodes]),
})
const targets: Target[] = [
  one('one redis-server', 'redis', () => redis),
  joined('a 3-master Redis Cluster', 'redis', () => cluster),
  one('one valkey-server', 'valkey', () => valkey),
  joined('a 3-master Valkey Cluster', 'valkey', () => valkeyCluster),
]

describe.each(targets)('a Redis budget shared by 4 processes on $name', (target) => {
  test('policy: 4 processes × 250 concurrent paid calls never pay past the budget by one atomic unit, lose nothing, and every refusal is BUDGET_EXHAUSTED', async () => {
    const prefix = `payfetch:test:${randomUUID()}:`
    const before = { settled: merchant.settled.length, total: merchant.settledTotal() }
    const env = {
      MERCHANT_URL: `${merchant.url}/item`,
      ...target.env(),
      LEDGER_PREFIX: prefix,
      BUDGET_USD: budgetUsd,
      CALLS: String(callsEach),
    }
    const workers = await Promise.all(
      Array.from({ length: processes }, () => startWorker({ ...env, PAYER_KEY: generatePrivateKey() })),
    )

    const started = performance.now()
    for (const { child } of workers) child.stdin?.end('go\n')
    const reports = await Promise.all(workers.map((entry) => entry.report))
    const wallMs = performance.now() - started

    const paid = reports.reduce((sum, report) => sum + report.paid, 0)
    const codes: Record<string, number> = {}
    for (const report of reports)
      for (const [code, count] of Object.entries(report.codes)) codes[code] = (codes[code] ?? 0) + count
    const expectedPaid = Number(budgetAtomic / price)
    const settled = merchant.settled.slice(before.settled)
    const settledTotal = merchant.settledTotal() - before.total

    // Failures first: when something other than the budget stopped a call, its cause is the story.
    expect(reports.flatMap((report) => report.others)).toEqual([])
    expect(codes).toEqual({ BUDGET_EXHAUSTED: processes * callsEach - expectedPaid })
    // The merchant's own count: what it verified and settled.
    expect(settledTotal).toBeLessThanOrEqual(budgetAtomic)
    expect(settledTotal).toBe(budgetAtomic)
    expect(settled).toHaveLength(expectedPaid)
    expect(new Set(settled.map((entry) => entry.nonce)).size).toBe(expectedPaid)
    // The agents' count agrees, and no refused call ever reached a signer or the merchant with a proof.
    expect(paid).toBe(expectedPaid)
    expect(reports.reduce((sum, report) => sum + report.signed, 0)).toBe(expectedPaid)
    // Every process took part in paying.
    for (const report of reports) expect(report.paid).toBeGreaterThan(0)

    // The ledger agrees: the whole budget committed, nothing reserved, unknown or pending.
    const client = target.client()
    try {
      const ledger = redisLedger({ redis: client, prefix })
      const report = await ledger.report()
      expect(report.totals).toEqual([expect.objectContaining({ spent: budgetAtomic, reserved: 0n, unknown: 0n })])
      expect(await ledger.pending()).toEqual([])
      // Every key the ledger wrote hashes to one slot: the prefix's hash tag.
      const keys = ['entries', 'sums', 'windows', 'totals'].map((name) => `${ledgerKeyPrefix(prefix)}${name}`)
      const slots = await Promise.all(keys.map((key) => client.call('CLUSTER', 'KEYSLOT', key).catch(() => 'off')))
      expect(new Set(slots).size).toBe(1)
      // And it ran where the name says: Valkey calls itself so in INFO (it also reports redis_version).
      const server = /server_name:(\w+)/.exec(String(await client.info('server')))?.[1] ?? 'redis'
      expect(server).toBe(target.server)
    } finally {
      await client.quit()
    }

    console.info(
      `e2e (${target.name}): ${processes} processes × ${callsEach} concurrent calls on one Redis budget of $${budgetUsd}: ${paid} paid, ${codes.BUDGET_EXHAUSTED} BUDGET_EXHAUSTED, ` +
        `settled ${settledTotal} atomic units; wall time ${wallMs.toFixed(0)} ms (per process: ${reports.map((report) => report.ms.toFixed(0)).join(', ')} ms)`,
    )
    // 1,000 calls and 777 signatures on one machine: minutes when it is shared, seconds when it is not.
  }, 240_000)
})
