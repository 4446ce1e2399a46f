// The fleet soak of issue 10: PROCESSES workers × CALLS paid calls (x402 and L402 mixed) on one
// Redis ledger, Redis sessions and one budget, while this process SIGKILLs random workers at random
// moments (and starts them again) and restarts redis-server once (AOF on, fsync always). The
// merchants run here, outside the workers, and keep their own record of what they settled.
// Afterwards it resumes whatever is still pending and checks: every payment a merchant settled is
// committed in the ledger exactly once, nothing settled twice, the budget held, nothing pending.
// Every wait is bounded: a worker that prints nothing for STALL_MS is killed and restarted (a
// violation), and at DEADLINE_MS the run stops. Exits 1 on any violation. Writes bench/soak.md (or SOAK_OUT).
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
import { soakWallet } from './soak/soakWallet.js'
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
// A worker silent this long is stuck (every wait inside it is bounded well below); the run as a whole stops at DEADLINE_MS.
const stallMs = Number(process.env.STALL_MS ?? 240_000)
const deadlineMs = Number(process.env.DEADLINE_MS ?? 3_600_000)
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
// The 1-minute load average every 10 s while the workers run.
const loadSamples: number[] = []
const sampler = setInterval(() => loadSamples.push(loadavg()[0] ?? 0), 10_000)
/** `promise`, or a rejection naming `what` once `ms` have passed. */
const within = <T>(ms: number, promise: Promise<T>, what: string) =>
  Promise.race([
    promise,
    sleep(ms).then(() => Promise.reject(new Error(`${what} took longer than ${ms} ms`))),
  ]) as Promise<T>

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
  /** When the current worker last printed a line. */
  lastLine: number
}
const slots: Slot[] = Array.from({ length: processes }, (_, index) => ({
  index,
  payerKey: generatePrivateKey(),
  generation: 0,
  outcomes: new Map(),
  killing: false,
  finished: false,
  reports: [],
  lastLine: 0,
}))
const figures = { kills: 0, restarts: 0, stalls: 0, lastingUnknown: 0, redisDownMs: 0, redisAt: 0 }
// How the payments restarted workers found pending ended: an HTTP status, or rejected, failed, gone, unknown, timeout.
const resumedBy: Record<string, number> = {}
const errors: string[] = []
const violations: string[] = []
let stopped = false
const doneCount = () => slots.reduce((sum, slot) => sum + slot.outcomes.size, 0)

async function runSlot(slot: Slot): Promise<void> {
  for (;;) {
    const doneFile = join(dir, `done-${slot.index}.json`)
    await writeFile(doneFile, JSON.stringify([...slot.outcomes.keys()]))
    slot.lastLine = performance.now()
    const worker = await startWorker<SoakWorkerReport>(workerScript, {
      ...baseEnv,
      WORKER: String(slot.index),
      GENERATION: String(slot.generation),
      PAYER_KEY: slot.payerKey,
      DONE_FILE: doneFile,
    })
    let partial = ''
    const onLine = (line: string) => {
      slot.lastLine = performance.now()
      const [kind, index, ...rest] = line.split(' ')
      if (kind === 'done') slot.outcomes.set(Number(index), rest.join(' '))
      else if (kind === 'resumed') {
        const status = `${rest[0]} ${rest[1]}`
        resumedBy[status] = (resumedBy[status] ?? 0) + 1
      } else if (kind === 'unknown') figures.lastingUnknown++
      else if (kind === 'error' && errors.length < 20) errors.push(`worker ${slot.index}: ${line}`)
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
    if (stopped) return
    slot.generation++
    figures.restarts++
  }
}

// SIGKILLs a random live worker every few seconds, restarts redis-server once, 40 % in, kills (and
// restarts) a worker that stalled, and stops the run at its deadline.
async function chaos(): Promise<void> {
  const total = processes * callsEach
  const deadline = performance.now() + deadlineMs
  let nextKill = performance.now() + killEveryMs * (0.5 + Math.random())
  while (!slots.every((slot) => slot.finished)) {
    await sleep(250)
    const now = performance.now()
    if (now > deadline) {
      stopped = true
      const live = slots.filter((slot) => slot.current && !slot.finished)
      violations.push(`${live.length} workers were still running at the deadline (${deadlineMs / 1000} s); stopped`)
      for (const slot of live) slot.killing = true
      await Promise.all(live.map((slot) => slot.current?.kill()))
      for (const slot of slots) slot.finished = true
      return
    }
    for (const slot of slots) {
      if (!slot.current || slot.finished || slot.killing || now - slot.lastLine < stallMs) continue
      figures.stalls++
      violations.push(`worker ${slot.index} (generation ${slot.generation}) printed nothing for ${stallMs / 1000} s`)
      slot.killing = true
      await slot.current.kill()
    }
    if (now < nextKill) continue
    nextKill = now + killEveryMs * (0.5 + Math.random())
    const progress = doneCount() / total
    if (!figures.redisAt && progress >= 0.4) {
      figures.redisAt = progress
      const down = performance.now()
      await within(30_000, redis.restart(redisSignal), 'restarting redis-server')
      figures.redisDownMs = performance.now() - down
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
clearInterval(sampler)

// Whatever is still pending now has no live owner: resume it once its lease ends.
const client = new Redis(redis.url)
const ledger = redisLedger({ redis: client, prefix, leaseMs })
const resumer = createPayingFetch({
  signers: [
    evm({ account: privateKeyToAccount(generatePrivateKey()) }),
    // Resuming never pays again: it looks payments up at the node; a wallet asked to pay is a bug.
    lightning({ wallet: soakWallet(lightningMerchant.nodeUrl, { pays: false }), networks: ['regtest'], maxFeeSats: 1 }),
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
    for (let tries = 1; ; tries++) {
      try {
        const response = await within(120_000, resumer.resume(pending), 'a resume')
        await response.arrayBuffer()
        finalPass[String(response.status)] = (finalPass[String(response.status)] ?? 0) + 1
        return
      } catch (error) {
        const code = isPayfetchError(error) ? error.code : 'OTHER'
        const until = (error as PayfetchError).details?.until
        const again = code === 'PAYMENT_IN_PROGRESS' || (code === 'PAYMENT_OUTCOME_UNKNOWN' && tries < 5)
        if (!again || Date.now() > deadline) {
          finalPass[code] = (finalPass[code] ?? 0) + 1
          return
        }
        await sleep(typeof until === 'number' ? until - Date.now() + 50 : 250 * tries)
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
// A lookup is the node's last word on a hash: a payment asked after it reported failed means a
// resumer judged a payment whose payer could still pay it.
if (lightningMerchant.payAfterFailed)
  violations.push(`the node was asked ${lightningMerchant.payAfterFailed} times to pay after a lookup said failed`)

// Every settled payment, Lightning too (kept pending with its payment hash before the wallet is
// asked), must be committed exactly once.
const idsByRef = new Map<string, string[]>()
for (const [id, { ref }] of sent) idsByRef.set(ref, [...(idsByRef.get(ref) ?? []), id])
let committedOnce = 0
for (const ref of settledRefs.keys()) {
  const ids = idsByRef.get(ref) ?? []
  const committed = ids.filter((id) => entries.get(id)?.state === 'committed')
  if (committed.length === 1) committedOnce++
  else if (committed.length > 1) violations.push(`${ref} is committed ${committed.length} times`)
  else {
    const seen = ids.map((id) => entries.get(id)?.state ?? 'missing').join(',') || 'no entry'
    violations.push(`${ref} was settled but the ledger has it as ${seen}`)
  }
}
// A worker killed after its entry was marked unknown and before the payment was kept leaves an
// entry nothing names: the wallet was never asked (counted for its window, never spent).
const unknownNeverPaid = [...entries.values()].filter(
  (entry) => entry.state === 'unknown' && !saved.has(entry.id) && entry.spend.asset === 'BTC',
).length
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
if (spentL402 !== l402Total) violations.push(`ledger spent ${spentL402} msat, the node settled ${l402Total}`)

const usd = (nano: bigint) => `$${(Number(nano) / 1e9).toFixed(2)}`
const loads = (values: number[]) => values.map((value) => value.toFixed(1)).join(', ')
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(values.length, 1)
const settings = [
  'PROCESSES',
  'CALLS',
  'CONCURRENCY',
  'LEASE_MS',
  'KILLS',
  'KILL_EVERY_MS',
  'REDIS_SIGNAL',
  'BUDGET_USD',
  'STALL_MS',
  'DEADLINE_MS',
]
  .flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : []))
  .join(' ')
const title = `## ${processes} processes × ${callsEach.toLocaleString('en-US')} calls, up to ${maxKills} SIGKILLs, redis-server restarted with ${redisSignal}`
const lines = [
  title,
  '',
  `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}, redis-server 7.0.15`,
  '(`--appendonly yes --appendfsync always`), on a machine shared with other jobs:',
  `load average (1, 5, 15 min) ${loads(loadAtStart)} at the start, ${loads(loadavg())} at the end; 1-minute`,
  `load sampled every 10 s while the workers ran: mean ${mean(loadSamples).toFixed(1)}, ${Math.min(...loadSamples).toFixed(1)}–${Math.max(...loadSamples).toFixed(1)}.`,
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
  `| L402 requests refused (402) with a token that had served its 3 requests | ${lightningMerchant.usedUp} |`,
  `| SIGKILLs (and restarts) | ${figures.kills} (${figures.restarts}) |`,
  `| redis-server restart (${redisSignal}) | at ${(figures.redisAt * 100).toFixed(0)} % of the calls, down ${figures.redisDownMs.toFixed(0)} ms |`,
  `| pending payments resumed by restarted workers, by protocol and outcome | ${JSON.stringify(resumedBy)} |`,
  `| pending L402 payments looked up at the node: paid; failed (released) | ${lightningMerchant.lookups.paid}; ${lightningMerchant.lookups.failed} |`,
  `| node asked to pay after a lookup said failed (refused) | ${lightningMerchant.payAfterFailed} |`,
  `| resumes still PAYMENT_OUTCOME_UNKNOWN after 5 tries (left pending) | ${figures.lastingUnknown} |`,
  `| workers stalled (silent ${stallMs / 1000} s; killed and restarted) | ${figures.stalls} |`,
  `| pending left when every worker was done; resolved by the final pass | ${leftPending.length}; ${JSON.stringify(finalPass)} |`,
  `| pending after the final pass | ${stillPending.length} |`,
  `| settled payments committed in the ledger exactly once | ${committedOnce.toLocaleString('en-US')} of ${settledRefs.size.toLocaleString('en-US')} |`,
  `| unknown entries with no pending record (killed before the payment was kept; never paid) | ${unknownNeverPaid} |`,
  `| ledger entries by state | ${JSON.stringify(entryStates)} |`,
  `| budget used / limit | ${budget ? `${usd(budget.used)} / ${usd(budget.limit)}` : '—'} |`,
  `| ledger spent vs merchant settled (USDC units) | ${spentX402} / ${x402Total} |`,
  `| ledger spent vs node settled (msat) | ${spentL402} / ${l402Total} |`,
  `| wall time | ${(wallMs / 1000).toFixed(1)} s |`,
  `| violations | ${violations.length} |`,
  '',
  'A Lightning payment is kept pending, with its challenge and payment hash, before the wallet is asked. A worker',
  "killed during the wallet call leaves that pending payment; a restarted worker claims it once the dead one's lease",
  'has passed and asks the node by hash: paid (the proof is built from the preimage and sent) or failed (released;',
  'the node then refuses that invoice for good). A worker killed after the entry was marked unknown and before the',
  'payment was kept leaves an unknown entry the wallet never paid: counted against the budget for its window,',
  'never spent. Every payment a merchant or the node settled must be committed exactly once, nothing may be',
  "committed that nobody settled, and the ledger's spending must equal what both settled.",
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
