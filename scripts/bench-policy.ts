// The overhead of spend policy + ledger on a paid call, and of the ledger operations alone.
//
//   npx tsx scripts/bench-policy.ts            (writes bench/policy.md)
//   BENCH_CALLS=100 BENCH_LEDGER_OPS=500 BENCH_LONG_OPS=2000 npx tsx scripts/bench-policy.ts
//
// The part of bench/policy.md from a '## Before' heading on is kept as it is: earlier numbers to
// compare with.
// Paid calls go to the loopback x402 merchant of test/support (it verifies every EIP-712
// signature), one at a time, the configurations interleaved round-robin so drift, GC and JIT
// warm-up fall on all of them alike. Redis is a real redis-server on loopback.
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startRedis } from '../examples/local-stack/redis.js'
import { evm } from '../src/evm/index.js'
import {
  type Budget,
  createPayingFetch,
  type Ledger,
  memoryLedger,
  type PayingFetch,
  type PendingPayment,
  type Reservation,
} from '../src/index.js'
import { fileLedger } from '../src/node/index.js'
import { redisLedger } from '../src/redis/index.js'
import { requirement, startMerchant, usdc } from '../test/support/merchant.js'

const calls = Number(process.env.BENCH_CALLS ?? 300)
const warmup = Math.max(10, Math.round(calls / 10))
const ledgerOps = Number(process.env.BENCH_LEDGER_OPS ?? 2000)
const longOps = Number(process.env.BENCH_LONG_OPS ?? 20_000)
const reportFile = new URL('../bench/policy.md', import.meta.url)

type Stats = { mean: number; p50: number; p95: number }
const stats = (samples: number[]): Stats => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return { mean: samples.reduce((sum, value) => sum + value, 0) / samples.length, p50: at(0.5), p95: at(0.95) }
}
const ms = (value: number) => value.toFixed(3)

const loadAtStart = loadavg()[0] ?? 0
const dir = await mkdtemp(join(tmpdir(), 'payfetch-bench-'))
const redisServer = await startRedis()
const redis = new Redis(redisServer.url)
const merchant = await startMerchant({
  '/item': async (request, response, self) =>
    self.charge(request, response, [requirement()], () => response.end('item')),
})
const url = `${merchant.url}/item`
const signers = [evm({ account: privateKeyToAccount(generatePrivateKey()) })]

try {
  // Three budgets of the kinds users ask for, all far from exhausted: a daily USD total, an hourly
  // USD budget per host, and a total in atomic units of one asset.
  const budgets: Budget[] = [
    { usd: '1000', window: '1d' },
    { usd: '1000', window: '1h', perHost: true },
    { network: 'eip155:84532', asset: usdc, amount: 10n ** 12n },
  ]
  const configs: { name: string; fetchPaid: PayingFetch }[] = [
    {
      name: '(a) default caps, no budgets, memory ledger',
      fetchPaid: createPayingFetch({ signers, ledger: memoryLedger() }),
    },
    {
      name: '(b) 3 budgets, memory ledger',
      fetchPaid: createPayingFetch({ signers, ledger: memoryLedger(), caps: { budgets } }),
    },
    {
      name: '(c) 3 budgets, Redis ledger',
      fetchPaid: createPayingFetch({ signers, ledger: redisLedger({ redis, prefix: 'bench:c:' }), caps: { budgets } }),
    },
    {
      name: '(d) 3 budgets, file ledger',
      fetchPaid: createPayingFetch({ signers, ledger: await fileLedger(join(dir, 'calls.jsonl')), caps: { budgets } }),
    },
  ]
  const samples = configs.map(() => [] as number[])
  for (let round = 0; round < warmup + calls; round++) {
    for (const [index, { fetchPaid }] of configs.entries()) {
      const started = performance.now()
      const response = await fetchPaid(url)
      await response.arrayBuffer()
      const elapsed = performance.now() - started
      if (response.status !== 200) throw new Error(`unexpected ${response.status}`)
      if (round >= warmup) samples[index]?.push(elapsed)
    }
  }
  const base = stats(samples[0] as number[])
  const callRows = configs.map(({ name }, index) => {
    const row = stats(samples[index] as number[])
    return `| ${name} | ${ms(row.mean)} | ${ms(row.p50)} | ${ms(row.p95)} | ${(row.mean / base.mean).toFixed(3)} | ${(row.p50 / base.p50).toFixed(3)} | ${ms(row.mean - base.mean)} |`
  })

  // The ledger alone: reserve (3 charges) + savePending (a real-sized proof) + commit, per payment.
  const proof = { 'payment-signature': 'A'.repeat(1_400), 'idempotency-key': `pf_${'0'.repeat(32)}` }
  const charges = (host: string) =>
    budgets.map((budget, index) => ({
      key: `bench-${index}${budget.perHost ? `@${host}` : ''}`,
      limit: budget.amount ?? 10n ** 15n,
      amount: budget.amount ? 10_000n : 10_000_000n,
      windowMs: budget.window === '1d' ? 86_400_000 : budget.window === '1h' ? 3_600_000 : undefined,
    }))
  const ledgers: { name: string; ledger: Ledger }[] = [
    { name: 'memory', ledger: memoryLedger() },
    { name: 'file (fsync per record)', ledger: await fileLedger(join(dir, 'ops.jsonl')) },
    { name: 'Redis', ledger: redisLedger({ redis, prefix: 'bench:ops:' }) },
  ]
  // One payment after another; reserve timed alone too. A ledger that fails stops its run, reported.
  const run = async (name: string, ledger: Ledger, count: number) => {
    const perPayment: number[] = []
    const reserveOnly: number[] = []
    let failure: string | undefined
    for (let index = 0; index < count && !failure; index++) {
      const id = `bench_${name}_${count}_${index}`
      const reservation: Reservation = {
        id,
        time: Date.now(),
        spend: { network: 'eip155:84532', asset: usdc, amount: 10_000n, host: '127.0.0.1:1', nanoUsd: 10_000_000n },
        charges: charges('127.0.0.1:1'),
      }
      const pending: PendingPayment = {
        id,
        idempotencyKey: proof['idempotency-key'],
        protocol: 'x402',
        url,
        method: 'GET',
        headers: {},
        proof,
        network: 'eip155:84532',
        asset: usdc,
        amount: '10000',
        payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
        time: Date.now(),
      }
      try {
        const started = performance.now()
        const result = await ledger.reserve(reservation)
        const reserved = performance.now()
        if (!result.ok) throw new Error('bench budget exhausted')
        await ledger.savePending(pending)
        await ledger.commit(id)
        const done = performance.now()
        perPayment.push(done - started)
        reserveOnly.push(reserved - started)
      } catch (error) {
        failure = `failed at payment ${index + 1}: ${error instanceof Error ? error.message : String(error)}`
      }
    }
    const tenth = Math.max(1, Math.floor(count / 10))
    return {
      all: stats(perPayment),
      first: stats(reserveOnly.slice(0, tenth)),
      last: stats(reserveOnly.slice(-tenth)),
      failure,
    }
  }
  const opRows: string[] = []
  for (const { name, ledger } of ledgers) {
    const { all, first, last, failure } = await run(name, ledger, ledgerOps)
    opRows.push(
      failure
        ? `| ${name} | ${failure} | | | | |`
        : `| ${name} | ${ms(all.mean)} | ${ms(all.p50)} | ${ms(all.p95)} | ${ms(first.mean)} | ${ms(last.mean)} |`,
    )
  }
  // A long run on fresh memory and Redis ledgers: does reserve grow with history? (The file ledger
  // is a journal and keeps every entry by design; it is left out.)
  const longRows: string[] = []
  for (const { name, ledger } of [
    { name: 'memory', ledger: memoryLedger() },
    { name: 'Redis', ledger: redisLedger({ redis, prefix: 'bench:long:' }) },
  ]) {
    const { all, first, last, failure } = await run(`long-${name}`, ledger, longOps)
    longRows.push(
      failure ? `| ${name} | ${failure} | | |` : `| ${name} | ${ms(all.mean)} | ${ms(first.mean)} | ${ms(last.mean)} |`,
    )
  }

  const redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim().split(' ')[2]
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, Redis ${redisVersion}, ${process.platform}`
  const current = [
    '# Policy + ledger overhead on a paid call',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}.`,
    `Produced by \`npx tsx scripts/bench-policy.ts\` (BENCH_CALLS=${calls}, BENCH_LEDGER_OPS=${ledgerOps}, BENCH_LONG_OPS=${longOps}).`,
    'One run on a shared machine',
    `(1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end): read the ratios and the growth, not the third decimal.`,
    '',
    '## Paid calls',
    '',
    `${calls} paid x402 calls per configuration after ${warmup} warm-up calls each, one at a time, configurations interleaved. A call is the`,
    'unpaid request, the 402, policy, ledger, an EIP-712 signature, the paid replay and the merchant verifying the signature, all on loopback.',
    'Budgets: $1000/day in total, $1000/hour per host, 10^12 atomic units of the asset in total.',
    '',
    '| configuration | mean ms | p50 ms | p95 ms | mean ÷ (a) | p50 ÷ (a) | mean − (a) ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...callRows,
    '',
    '## Ledger operations alone',
    '',
    `${ledgerOps} payments per ledger: reserve (3 budget charges) + savePending (a 1.4 KB proof) + commit, one after another.`,
    'The last two columns show how reserve grows with the number of entries inside the windows (first and last tenth of the run).',
    '',
    '| ledger | mean ms / payment | p50 ms | p95 ms | reserve mean ms, first tenth | reserve mean ms, last tenth |',
    '|---|---:|---:|---:|---:|---:|',
    ...opRows,
    '',
    '## A long run: reserve against history',
    '',
    `${longOps} payments on a fresh memory and a fresh Redis ledger, the same three charges each, all inside their windows.`,
    '',
    '| ledger | mean ms / payment | reserve mean ms, first tenth | reserve mean ms, last tenth |',
    '|---|---:|---:|---:|',
    ...longRows,
    '',
    '## Reading',
    '',
    '- (b) − (a) is what policy and budgets cost with the memory ledger; (c) − (b) adds three Redis round trips per payment',
    '  (the reserve script, the pending record, the commit script); (d) adds three locked, fsynced journal appends.',
    '- The memory and Redis ledgers keep a running sum per budget: reserve reads it and takes off only the spends a window',
    '  has just passed over, so its cost does not grow with history (first tenth ≈ last tenth, in both runs). In Redis the',
    '  script runs inside the single-threaded server, which every process of a fleet waits on. The memory ledger also',
    '  folds entries that left every window into per-host totals, so a long-running agent does not grow with its history.',
    '- The file ledger is a journal: it keeps every entry in memory and re-sums them, and pays mostly for the lock and fsync.',
    '',
  ].join('\n')
  // Earlier numbers kept below the new ones, from a '## Before' heading on.
  const previous = await readFile(reportFile, 'utf8').catch(() => '')
  const before = previous.indexOf('\n## Before')
  const report = before < 0 ? current : `${current}\n${previous.slice(before + 1)}`
  console.log(report)
  await mkdir(new URL('../bench/', import.meta.url), { recursive: true })
  await writeFile(reportFile, report)
} finally {
  await redis.quit()
  await merchant.close()
  await redisServer.stop()
  await rm(dir, { recursive: true, force: true })
}
