// How the ledgers grow with history: PAYMENTS payments (reserve → savePending → commit) on a
// fresh memory, file and Redis ledger, time moving 100 ms per payment on the ledgers' own clock,
// three budgets each (1 h in total, 1 h per host over 10 hosts, and one without a window). Every
// BLOCK payments it records the mean and p99 reserve time of that block, the time of one
// spendReport, and what the ledger holds (heap and RSS after a full GC; the journal's size; Redis's
// used_memory and its entries). Writes bench/ledger-growth.md (or BENCH_OUT).
//
//   node --expose-gc --import tsx scripts/bench-ledger-growth.ts
//   LEDGERS=file PAYMENTS=200000 node --expose-gc --import tsx scripts/bench-ledger-growth.ts
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { startRedis } from '../examples/local-stack/redis.js'
import type { Ledger, PendingPayment } from '../src/index.js'
import { memoryLedger } from '../src/index.js'
import { fileLedger } from '../src/node/index.js'
import { ledgerKeyPrefix, redisLedger } from '../src/redis/index.js'

const payments = Number(process.env.PAYMENTS ?? 1_000_000)
const block = Number(process.env.BLOCK ?? 100_000)
const ledgers = (process.env.LEDGERS ?? 'memory,redis,file').split(',')
const out = process.env.BENCH_OUT ?? 'bench/ledger-growth.md'
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc')

const t0 = 1_700_000_000_000
const stepMs = 100
const hour = 3_600_000
const hosts = Array.from({ length: 10 }, (_, index) => `api${index}.example.com`)
const limit = 10n ** 30n
const rules = [
  { key: 'hour', limit, windowMs: hour },
  { key: 'host-hour', limit, windowMs: hour, perHost: true },
  { key: 'total', limit },
]

type Row = {
  payments: number
  reserveMeanUs: number
  reserveP99Us: number
  reportMs: number
  heapMiB: number
  rssMiB: number
  store: string
}

/** One ledger run: `open` gives the ledger on a clock `now`, `held` describes what its store holds. */
async function run(
  name: string,
  open: (now: () => number) => Promise<Ledger & { close?: () => Promise<void> }>,
  held: () => Promise<string>,
  count: number,
): Promise<Row[]> {
  let index = 0
  const ledger = await open(() => t0 + index * stepMs)
  const rows: Row[] = []
  let samples: number[] = []
  const started = performance.now()
  for (; index < count; index++) {
    const host = hosts[index % hosts.length] as string
    const id = `g${index}`
    const amount = 1_000n + BigInt(index % 7)
    const reservation = {
      id,
      time: t0 + index * stepMs,
      owner: 'bench',
      spend: { network: 'eip155:8453', asset: '0xusdc', amount, host, nanoUsd: amount * 1000n },
      charges: [
        { key: 'hour', limit, amount, windowMs: hour },
        { key: `host-hour@${host}`, limit, amount, windowMs: hour },
        { key: 'total', limit, amount },
      ],
    }
    const before = performance.now()
    const result = await ledger.reserve(reservation)
    samples.push(performance.now() - before)
    if (!result.ok) throw new Error(`refused at ${index}`)
    await ledger.savePending(pendingFor(id, host, amount), 'bench')
    await ledger.commit(id)
    if ((index + 1) % block === 0 || index + 1 === count) {
      const reportStarted = performance.now()
      const report = await ledger.report(rules)
      const reportMs = performance.now() - reportStarted
      if (report.budgets.length !== 12) throw new Error('unexpected report')
      gc?.()
      const memory = process.memoryUsage()
      samples.sort((a, b) => a - b)
      rows.push({
        payments: index + 1,
        reserveMeanUs: (samples.reduce((sum, value) => sum + value, 0) / samples.length) * 1000,
        reserveP99Us: (samples[Math.floor(samples.length * 0.99)] ?? 0) * 1000,
        reportMs,
        heapMiB: memory.heapUsed / 2 ** 20,
        rssMiB: memory.rss / 2 ** 20,
        store: await held(),
      })
      samples = []
      const row = rows[rows.length - 1] as Row
      console.info(
        `${name} ${row.payments}: reserve ${row.reserveMeanUs.toFixed(1)} µs (p99 ${row.reserveP99Us.toFixed(1)}), report ${row.reportMs.toFixed(2)} ms, heap ${row.heapMiB.toFixed(1)} MiB, rss ${row.rssMiB.toFixed(0)} MiB, ${row.store}; ${((performance.now() - started) / 1000).toFixed(0)} s`,
      )
    }
  }
  // The file ledger holds its journal open until closed.
  await ledger.close?.()
  return rows
}

function pendingFor(id: string, host: string, amount: bigint): PendingPayment {
  return {
    id,
    idempotencyKey: `pf_${id.padStart(32, '0')}`,
    protocol: 'x402',
    url: `https://${host}/report`,
    method: 'GET',
    headers: { accept: 'application/json' },
    proof: { 'payment-signature': 'e'.repeat(400), 'idempotency-key': `pf_${id.padStart(32, '0')}` },
    network: 'eip155:8453',
    asset: '0xusdc',
    amount: amount.toString(),
    payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
    time: t0,
  }
}

const results: Record<string, { rows: Row[]; count: number; seconds: number; load?: string }> = {}
const loadAtStart = loadavg()[0] ?? 0
const limitFor = (name: string) => Number(process.env[`${name.toUpperCase()}_PAYMENTS`] ?? payments)

for (const name of ledgers) {
  const count = limitFor(name)
  const started = performance.now()
  const loadBefore = loadavg()[0] ?? 0
  if (name === 'memory') {
    results[name] = {
      rows: await run(
        name,
        async (now) => memoryLedger({ now }),
        async () => '—',
        count,
      ),
      count,
      seconds: 0,
    }
  } else if (name === 'file') {
    const dir = await mkdtemp(join(tmpdir(), 'payfetch-growth-'))
    const path = join(dir, 'ledger.jsonl')
    try {
      results[name] = {
        rows: await run(
          name,
          (now) => fileLedger(path, { now }),
          async () => {
            const { size } = await stat(path)
            const lines = (await readFile(path, 'utf8')).split('\n').length - 1
            return `journal ${(size / 2 ** 20).toFixed(1)} MiB, ${lines} records`
          },
          count,
        ),
        count,
        seconds: 0,
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  } else if (name === 'redis') {
    const server = await startRedis()
    const client = new Redis(server.url)
    const prefix = 'growth:'
    const keys = ledgerKeyPrefix(prefix)
    try {
      results[name] = {
        rows: await run(
          name,
          async (now) => redisLedger({ redis: client, prefix, now }),
          async () => {
            const info = String(await client.info('memory'))
            const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0)
            const [entries, windows, pending] = await Promise.all([
              client.hlen(`${keys}entries`),
              client.zcard(`${keys}windows`),
              client.hlen(`${keys}pending`),
            ])
            return `used_memory ${(used / 2 ** 20).toFixed(1)} MiB, ${entries} entries, ${windows} windowed charges, ${pending} pending`
          },
          count,
        ),
        count,
        seconds: 0,
      }
    } finally {
      await client.quit()
      await server.stop()
    }
  }
  const result = results[name]
  if (result) {
    result.seconds = (performance.now() - started) / 1000
    // Each section says its own load: runs of some ledgers keep the sections of earlier runs.
    result.load = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, 1-minute load average ${loadBefore.toFixed(1)} at its start, ${(loadavg()[0] ?? 0).toFixed(1)} at its end.`
  }
}

const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
const lines = [
  '# Ledger growth: reserve and memory against history',
  '',
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, Redis 7.0.15, linux,`,
  `a machine shared with other jobs (1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end).`,
  'Produced by `node --expose-gc --import tsx scripts/bench-ledger-growth.ts`.',
  '',
  `Each payment is reserve → savePending (a 0.5 KB proof) → commit, one after another, time moving ${stepMs} ms per payment`,
  "on the ledger's own clock (so a million payments span 27.8 hours). Three budgets: 1 hour in total, 1 hour per host",
  '(10 hosts) and one without a window. A block is the payments since the previous row; reserve times are of that block.',
  "Heap and RSS are after a full GC, in the process that runs the ledger (for Redis: the client; the server's own",
  'memory is `used_memory`). "report" is one `spendReport` with the three rules (12 budgets) at the end of the block.',
  '',
]
for (const [name, { rows, count, seconds, load }] of Object.entries(results)) {
  lines.push(`## ${name} (${count.toLocaleString('en-US')} payments, ${(seconds / 60).toFixed(1)} min)`, '')
  if (load) lines.push(`Run ${load}`, '')
  lines.push('| payments | reserve mean µs | reserve p99 µs | report ms | heap MiB | RSS MiB | store |')
  lines.push('| -------: | --------------: | -------------: | --------: | -------: | ------: | ----- |')
  for (const row of rows)
    lines.push(
      `| ${row.payments.toLocaleString('en-US')} | ${row.reserveMeanUs.toFixed(1)} | ${row.reserveP99Us.toFixed(1)} | ${row.reportMs.toFixed(2)} | ${row.heapMiB.toFixed(1)} | ${row.rssMiB.toFixed(0)} | ${row.store} |`,
    )
  lines.push('')
}
const previous = await readFile(out, 'utf8').catch(() => '')
// A run of some ledgers keeps the other sections of an earlier run (other ledgers, the reading).
const kept = previous
  .split(/^## /m)
  .slice(1)
  .filter((section) => !ledgers.some((name) => section.startsWith(`${name} (`)))
  .map((section) => `## ${section.trimEnd()}\n`)
await writeFile(out, `${[...lines, ...kept].join('\n').trimEnd()}\n`)
console.info(`wrote ${out}`)
