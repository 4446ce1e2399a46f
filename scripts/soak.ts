// The fleet soak of issue 10: PROCESSES workers × CALLS paid calls (x402 and L402 mixed) on one
// Redis ledger, Redis sessions and one budget, while this process SIGKILLs random workers at random
// moments (and starts them again) and restarts redis-server once (AOF on, fsync always). The
// merchants run here, outside the workers, and keep their own record of what they settled.
// Afterwards it resumes whatever is still pending and checks: every payment a merchant settled is
// committed in the ledger exactly once, nothing settled twice, the budget held, nothing pending.
// Exits 1 on any violation. Writes bench/soak.md (or SOAK_OUT).
//
//   npm run soak
//   PROCESSES=2 CALLS=200 npm run soak
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startRedis } from '../examples/local-stack/redis.js'
import { evm } from '../src/evm/index.js'
import { createPayingFetch, isPayfetchError, type PayfetchError, type PendingPayment } from '../src/index.js'
import { lightning } from '../src/lightning/index.js'
import { ledgerKeyPrefix, redisLedger, redisSessions } from '../src/redis/index.js'
import { requirement, startMerchant } from '../test/support/merchant.js'
import { startWorker, type Worker } from '../test/support/workers.js'
import { startLightningMerchant } from './soak/lightningMerchant.js'
import type { SoakWorkerReport } from './soak/soakWorker.js'

const processes = Number(process.env.PROCESSES ?? 4)
const callsEach = Number(process.env.CALLS ?? 2_500)
const concurrency = Number(process.env.CONCURRENCY ?? 12)
const leaseMs = Number(process.env.LEASE_MS ?? 5_000)
const maxKills = Number(process.env.KILLS ?? 12)
// Kills come every KILL_EVERY_MS on average (between half and one and a half of it).
const killEveryMs = Number(process.env.KILL_EVERY_MS ?? 3_250)
// SIGTERM stops redis-server cleanly; SIGKILL tests the append-only file alone.
const redisSignal = process.env.REDIS_SIGNAL === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM'
const out = process.env.SOAK_OUT ?? 'bench/soak.md'
// $0.01 a call either way: 10 000 atomic USDC, or 10 sats at $100 000 a bitcoin.
const priceAtomic = 10_000n
const sats = 10
const btcUsd = '100000'
// Below what the calls would cost (L402 tokens serve 3 calls each: about $0.0083 a call), so the
// budget stops the last ones.
const budgetUsd = process.env.BUDGET_USD ?? ((processes * callsEach * 0.8) / 100).toFixed(2)
const workerScript = fileURLToPath(new URL('./soak/soakWorker.ts', import.meta.url))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const loadAtStart = loadavg()

const redis = await startRedis({ appendOnly: true })
const merchant = await startMerchant(
  {
    '/item': async (request, response, self) =>
      self.charge(request, response, [requirement({ amount: priceAtomic.toString() })], () => response.end('item')),
  },
  // Retries with the same payment id and payload get the first answer, settled once, as x402 servers do.
  { paymentIdentifier: { required: true } },
)
const lightningMerchant = await startLightningMerchant({ origins: 4, sats, uses: 3 })
const dir = await mkdtemp(join(tmpdir(), 'payfetch-soak-'))
const run = crypto.randomUUID()
const prefix = `soak:${run}:`
const sentKey = `soak:${run}:sent`
const baseEnv = {
  REDIS_URL: redis.url,
  LEDGER_PREFIX: prefix,
  SESSION_PREFIX: `soak:${run}:session:`,
  SENT_KEY: sentKey,
  LEASE_MS: String(leaseMs),
  BUDGET_USD: budgetUsd,
  BTC_USD: btcUsd,
  CALLS: String(callsEach),
  CONCURRENCY: String(concurrency),
  X402_URL: merchant.url,
  L402_URLS: lightningMerchant.origins.join(','),
  NODE_URL: lightningMerchant.nodeUrl,
}

/** One worker across its restarts: the calls it saw finish, and how. */
type Slot = {
  index: number
  payerKey: `0x${string}`
  generation: number
  outcomes: Map<number, string>
  current?: Worker<SoakWorkerReport> | undefined
  killing: boolean
  finished: boolean
  reports: SoakWorkerReport[]
}
const slots: Slot[] = Array.from({ length: processes }, (_, index) => ({
  index,
  payerKey: generatePrivateKey(),
  generation: 0,
  outcomes: new Map(),
  killing: false,
  finished: false,
  reports: [],
}))
const figures = { kills: 0, restarts: 0, resumed: 0, resumedPaid: 0, redisDownMs: 0, redisAt: 0 }
const errors: string[] = []
const doneCount = () => slots.reduce((sum, slot) => sum + slot.outcomes.size, 0)

async function runSlot(slot: Slot): Promise<void> {
  for (;;) {
    const doneFile = join(dir, `done-${slot.index}.json`)
    await writeFile(doneFile, JSON.stringify([...slot.outcomes.keys()]))
    const worker = await startWorker<SoakWorkerReport>(workerScript, {
      ...baseEnv,
      WORKER: String(slot.index),
      GENERATION: String(slot.generation),
      PAYER_KEY: slot.payerKey,
      DONE_FILE: doneFile,
    })
    let partial = ''
    const onLine = (line: string) => {
      const [kind, index, ...rest] = line.split(' ')
      if (kind === 'done') slot.outcomes.set(Number(index), rest.join(' '))
      else if (kind === 'resumed') {
        figures.resumed++
        if (rest[1] === '200') figures.resumedPaid++
      } else if (kind === 'error' && errors.length < 20) errors.push(`worker ${slot.index}: ${line}`)
    }
    worker.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) onLine(line)
    })
    // The 'ready' line and any before it were read by startWorker already.
    for (const line of worker.output().split('\n').slice(0, -1)) onLine(line)
    partial = worker.output().endsWith('\n') ? '' : (worker.output().split('\n').at(-1) ?? '')
    slot.current = worker
    const { code } = await worker.exit
    slot.current = undefined
    if (code === 0) {
      slot.reports.push(await worker.report)
      slot.finished = true
      return
    }
    if (!slot.killing) throw new Error(`worker ${slot.index} died on its own:\n${worker.output().slice(-2_000)}`)
    slot.killing = false
    slot.generation++
    figures.restarts++
  }
}

// SIGKILLs a random live worker every few seconds, and restarts redis-server once, 40 % in.
async function chaos(): Promise<void> {
  const total = processes * callsEach
  while (!slots.every((slot) => slot.finished)) {
    await sleep(killEveryMs * (0.5 + Math.random()))
    const progress = doneCount() / total
    if (!figures.redisAt && progress >= 0.4) {
      figures.redisAt = progress
      const stopped = performance.now()
      await redis.restart(redisSignal)
      figures.redisDownMs = performance.now() - stopped
      continue
    }
    if (figures.kills >= maxKills || progress > 0.95) continue
    const live = slots.filter((slot) => slot.current && !slot.finished && !slot.killing)
    const victim = live[Math.floor(Math.random() * live.length)]
    if (!victim?.current) continue
    victim.killing = true
    figures.kills++
    await victim.current.kill()
  }
}

const started = performance.now()
await Promise.all([...slots.map(runSlot), chaos()])
const wallMs = performance.now() - started

// Whatever is still pending now has no live owner: resume it once its lease ends.
const client = new Redis(redis.url)
const ledger = redisLedger({ redis: client, prefix, leaseMs })
const resumer = createPayingFetch({
  signers: [
    evm({ account: privateKeyToAccount(generatePrivateKey()) }),
    // Resuming never pays again: a wallet that is asked is a bug.
    lightning({
      wallet: {
        payInvoice: () => Promise.reject(new Error('the final pass must not pay')),
      },
      networks: ['regtest'],
      maxFeeSats: 1,
    }),
  ],
  ledger,
  sessions: redisSessions({ redis: client, prefix: baseEnv.SESSION_PREFIX }),
  caps: { budgets: [{ usd: budgetUsd, window: '1d' }], rates: ({ symbol }) => (symbol === 'BTC' ? btcUsd : undefined) },
})
const leftPending = await ledger.pending()
const finalPass: Record<string, number> = {}
await Promise.all(
  leftPending.map(async (pending: PendingPayment) => {
    const deadline = Date.now() + 4 * leaseMs + 10_000
    for (;;) {
      try {
        const response = await resumer.resume(pending)
        await response.arrayBuffer()
        finalPass[String(response.status)] = (finalPass[String(response.status)] ?? 0) + 1
        return
      } catch (error) {
        const code = isPayfetchError(error) ? error.code : 'OTHER'
        const until = (error as PayfetchError).details?.until
        if (code !== 'PAYMENT_IN_PROGRESS' || Date.now() > deadline) {
          finalPass[code] = (finalPass[code] ?? 0) + 1
          return
        }
        await sleep(typeof until === 'number' ? until - Date.now() + 50 : 250)
      }
    }
  }),
)
const stillPending = await ledger.pending()
const report = await resumer.spendReport()

// The ledger's entries (all inside the one-day window, so none folded yet) and what each payment was known by.
const keys = ledgerKeyPrefix(prefix)
type EntryJson = { id: string; state: string; spend: { asset: string; amount: string } }
const entries = new Map(
  Object.entries(await client.hgetall(`${keys}entries`)).map(([id, json]) => [id, JSON.parse(json) as EntryJson]),
)
const sent = new Map(
  Object.entries(await client.hgetall(sentKey)).map(([id, json]) => [id, JSON.parse(json) as { ref: string }]),
)
const saved = new Set(Object.keys(await client.hgetall(`${sentKey}:saved`)))
await client.quit()

const violations: string[] = []
const settled = [
  ...merchant.settled.map((entry) => ({ ref: `x402:${entry.nonce}`, amount: BigInt(entry.value) })),
  ...lightningMerchant.settled.map((entry) => ({ ref: `l402:${entry.paymentHash}`, amount: entry.msat })),
]
const settledRefs = new Map<string, number>()
for (const { ref } of settled) settledRefs.set(ref, (settledRefs.get(ref) ?? 0) + 1)
const twice = [...settledRefs].filter(([, count]) => count > 1)
if (twice.length) violations.push(`${twice.length} payments settled more than once by a merchant`)
if (lightningMerchant.payAgain)
  violations.push(`the node was asked ${lightningMerchant.payAgain} times to pay an invoice again`)

const idsByRef = new Map<string, string[]>()
for (const [id, { ref }] of sent) idsByRef.set(ref, [...(idsByRef.get(ref) ?? []), id])
let committedOnce = 0
let l402Unrecorded = 0
for (const ref of settledRefs.keys()) {
  const ids = idsByRef.get(ref) ?? []
  const committed = ids.filter((id) => entries.get(id)?.state === 'committed')
  if (committed.length === 1) committedOnce++
  else if (committed.length > 1) violations.push(`${ref} is committed ${committed.length} times`)
  else if (ids.length === 0 || ids.every((id) => !saved.has(id) && entries.get(id)?.state === 'unknown')) {
    if (ref.startsWith('l402:')) l402Unrecorded++
    else violations.push(`${ref} was settled but never reached the ledger`)
  } else {
    const seen = ids.map((id) => entries.get(id)?.state ?? 'missing').join(',')
    violations.push(`${ref} was settled but the ledger has it as ${seen}`)
  }
}
// A Lightning wallet pays before the proof exists to be kept: a worker killed between the two
// leaves an entry counted as unknown with nothing pending, and a settled invoice nobody recorded.
const unknownWithoutRecord = [...entries.values()].filter(
  (entry) => entry.state === 'unknown' && !saved.has(entry.id) && entry.spend.asset === 'BTC',
).length
// Each of those invoices needs its unknown entry; an unknown entry more is a kill before the wallet
// paid: counted, never spent (the safe side).
if (l402Unrecorded > unknownWithoutRecord)
  violations.push(
    `${l402Unrecorded} invoices were paid without a pending record, but only ${unknownWithoutRecord} ledger entries are unknown without one`,
  )
const committedEntries = [...entries.values()].filter((entry) => entry.state === 'committed')
const committedUnsettled = committedEntries.filter((entry) => !settledRefs.has(sent.get(entry.id)?.ref ?? '')).length
if (committedUnsettled) violations.push(`${committedUnsettled} committed entries no merchant settled`)
const entryStates: Record<string, number> = {}
for (const entry of entries.values()) entryStates[entry.state] = (entryStates[entry.state] ?? 0) + 1
const budget = report.budgets[0]
if (!budget || budget.used > budget.limit) violations.push(`budget over: ${budget?.used} > ${budget?.limit}`)
if (stillPending.length) violations.push(`${stillPending.length} payments still pending after the final pass`)

const outcomes: Record<string, number> = {}
for (const slot of slots) for (const outcome of slot.outcomes.values()) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
const calls = slots.reduce((sum, slot) => sum + slot.outcomes.size, 0)
if (calls !== processes * callsEach) violations.push(`${processes * callsEach - calls} calls never finished`)
const x402Total = merchant.settledTotal()
const l402Total = lightningMerchant.settled.reduce((sum, entry) => sum + entry.msat, 0n)
const spentX402 = report.totals.filter((total) => total.asset !== 'BTC').reduce((sum, total) => sum + total.spent, 0n)
const spentL402 = report.totals.filter((total) => total.asset === 'BTC').reduce((sum, total) => sum + total.spent, 0n)
if (spentX402 !== x402Total) violations.push(`ledger spent ${spentX402} USDC units, the merchant settled ${x402Total}`)

const usd = (nano: bigint) => `$${(Number(nano) / 1e9).toFixed(2)}`
const settings = [
  'PROCESSES',
  'CALLS',
  'CONCURRENCY',
  'LEASE_MS',
  'KILLS',
  'KILL_EVERY_MS',
  'REDIS_SIGNAL',
  'BUDGET_USD',
]
  .flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : []))
  .join(' ')
const title = `## ${processes} processes × ${callsEach.toLocaleString('en-US')} calls, up to ${maxKills} SIGKILLs, redis-server restarted with ${redisSignal}`
const lines = [
  title,
  '',
  `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, redis-server 7.0.15`,
  '(`--appendonly yes --appendfsync always`), on a machine shared with other jobs:',
  `1-minute load average ${loadAtStart[0]?.toFixed(1)} at the start, ${loadavg()[0]?.toFixed(1)} at the end.`,
  `Produced by \`${settings ? `${settings} ` : ''}npm run soak\` (\`scripts/soak.ts\`).`,
  '',
  `${processes} worker processes × ${callsEach.toLocaleString('en-US')} calls, ${concurrency} at a time each; every fourth call goes to one of`,
  `${lightningMerchant.origins.length} L402 origins (real v2 macaroons, real signed regtest BOLT11 invoices, paid at the merchant's own node,`,
  `a token serving 3 requests), the others to an x402 merchant that verifies every EIP-712 signature and declares`,
  '`payment-identifier`. Each call costs $0.01. One Redis ledger, Redis sessions, one budget of',
  `$${budgetUsd} a day for all (below what the calls would cost), leases of ${leaseMs / 1000} s. The merchants run in the parent`,
  'process and keep their own list of what they settled; workers are SIGKILLed at random moments and started again;',
  'a restarted worker first resumes the payments its predecessors left pending, then makes its remaining calls.',
  '',
  '| figure | value |',
  '| --- | ---: |',
  `| calls finished | ${calls.toLocaleString('en-US')} of ${(processes * callsEach).toLocaleString('en-US')} |`,
  ...Object.entries(outcomes)
    .sort()
    .map(([outcome, count]) => `| — ${outcome} | ${count.toLocaleString('en-US')} |`),
  `| x402 payments settled (merchant) | ${merchant.settled.length.toLocaleString('en-US')} |`,
  `| x402 answers replayed from the payment-id cache | ${merchant.replayed} |`,
  `| x402 payment-id conflicts (409) | ${merchant.conflicts} |`,
  `| L402 invoices settled (node) | ${lightningMerchant.settled.length.toLocaleString('en-US')} |`,
  `| L402 requests served with a token | ${lightningMerchant.served.toLocaleString('en-US')} |`,
  `| SIGKILLs (and restarts) | ${figures.kills} (${figures.restarts}) |`,
  `| redis-server restart (${redisSignal}) | at ${(figures.redisAt * 100).toFixed(0)} % of the calls, down ${figures.redisDownMs.toFixed(0)} ms |`,
  `| pending payments resumed by restarted workers | ${figures.resumed} (${figures.resumedPaid} answered 200) |`,
  `| pending left when every worker was done; resolved by the final pass | ${leftPending.length}; ${JSON.stringify(finalPass)} |`,
  `| pending after the final pass | ${stillPending.length} |`,
  `| settled payments committed in the ledger exactly once | ${committedOnce.toLocaleString('en-US')} of ${settledRefs.size.toLocaleString('en-US')} |`,
  `| settled invoices counted as unknown (killed between wallet and savePending) | ${l402Unrecorded} |`,
  `| unknown entries the node never settled (killed before the wallet paid) | ${unknownWithoutRecord - l402Unrecorded} |`,
  `| ledger entries by state | ${JSON.stringify(entryStates)} |`,
  `| budget used / limit | ${budget ? `${usd(budget.used)} / ${usd(budget.limit)}` : '—'} |`,
  `| ledger spent vs merchant settled (USDC units) | ${spentX402} / ${x402Total} |`,
  `| ledger spent vs node settled (msat) | ${spentL402} / ${l402Total} |`,
  `| wall time | ${(wallMs / 1000).toFixed(1)} s |`,
  `| violations | ${violations.length} |`,
  '',
  'A Lightning wallet pays before there is a proof to keep: a worker killed between its wallet paying and',
  '`savePending` leaves an entry counted as `unknown` (in the budget, nothing pending, nothing to resume) and an',
  'invoice the node settled that no pending record names. That is the designed outcome ("keep counted when the outcome',
  'is unknown"); the soak counts those apart and checks that each such invoice has its unknown entry. A worker',
  'killed after the entry was marked unknown but before its wallet reached the node leaves an unknown entry that',
  'was never paid: counted against the budget for its window, never spent. Everything else a merchant settled must',
  'be committed exactly once, and nothing may be committed that no merchant settled.',
  '',
  ...(violations.length ? ['Violations:', '', ...violations.slice(0, 30).map((text) => `- ${text}`), ''] : []),
  ...(errors.length ? ['Calls that failed:', '', ...errors.map((text) => `- \`${text}\``), ''] : []),
]
console.info(lines.join('\n'))
// A run of other settings keeps the sections of earlier runs.
const kept = (await readFile(out, 'utf8').catch(() => ''))
  .split(/^## /m)
  .slice(1)
  .filter((section) => !`## ${section}`.startsWith(title))
  .map((section) => `## ${section.trimEnd()}\n`)
const heading = ['# Soak: a fleet on one Redis ledger, under SIGKILL and a redis-server restart', '']
await writeFile(out, `${[...heading, ...lines, ...kept].join('\n').trimEnd()}\n`)
await merchant.close()
await lightningMerchant.close()
await redis.stop()
await rm(dir, { recursive: true, force: true })
process.exit(violations.length ? 1 : 0)
