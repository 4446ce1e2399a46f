// One agent process of the soak (scripts/soak.ts): CALLS paid calls, every fourth to an L402 origin
// and the others to the x402 merchant, CONCURRENCY at a time, on a Redis ledger and Redis sessions
// shared with the other workers. Its parent SIGKILLs it at random moments and starts it again with
// the calls it saw finish (DONE_FILE): the new process first resumes the payments its predecessors
// left pending, then makes the calls that remain. It prints one line per finished call
// (`done <index> <outcome>`), and a JSON summary when it ends.
import { readFile } from 'node:fs/promises'
import { Redis } from 'ioredis'
import { privateKeyToAccount } from 'viem/accounts'
import { evm } from '../../src/evm/index.js'
import {
  createPayingFetch,
  isPayfetchError,
  type Ledger,
  type PayfetchError,
  type PendingPayment,
} from '../../src/index.js'
import { lightning } from '../../src/lightning/index.js'
import { redisLedger, redisSessions } from '../../src/redis/index.js'
import { callIndex, callKey, paymentRef } from './soakKeys.js'
import { soakWallet } from './soakWallet.js'

export type SoakWorkerReport = { worker: number; generation: number; resumed: number; calls: number; ms: number }

const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}
const worker = Number(env('WORKER'))
const generation = Number(env('GENERATION'))
const calls = Number(env('CALLS'))
const concurrency = Number(env('CONCURRENCY'))
const l402Urls = env('L402_URLS').split(',')
const leaseMs = Number(env('LEASE_MS'))
// Every wait is bounded: a call (its payment and answer), a call's tries, a resume's tries.
const callTimeoutMs = Number(process.env.CALL_TIMEOUT_MS ?? 180_000)
const maxTries = 10
// A resume that finds the outcome still unknown this many times is reported as such and left pending.
const maxUnknown = 5
const say = (line: string) => process.stdout.write(`${line}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const redis = new Redis(env('REDIS_URL'))
const sentKey = env('SENT_KEY')
const inner = redisLedger({ redis, prefix: env('LEDGER_PREFIX'), leaseMs })
// What the merchant will see of each payment (its nonce or payment hash), recorded before the
// proof can leave, so the soak can match the merchant's settlements to the ledger's entries.
const ledger: Ledger = {
  ...inner,
  async savePending(pending, owner) {
    await redis.hset(sentKey, pending.id, JSON.stringify({ ref: paymentRef(pending), key: pending.idempotencyKey }))
    await inner.savePending(pending, owner)
    // Kept: from here on the ledger must hold it until it settles (a kill before this line may lose it).
    await redis.hset(`${sentKey}:saved`, pending.id, '1')
  },
}
const fetchPaid = createPayingFetch({
  signers: [
    evm({ account: privateKeyToAccount(env('PAYER_KEY') as `0x${string}`) }),
    lightning({ wallet: soakWallet(env('NODE_URL'), { pays: true }), networks: ['regtest'], maxFeeSats: 1 }),
  ],
  ledger,
  sessions: redisSessions({ redis, prefix: env('SESSION_PREFIX') }),
  caps: {
    budgets: [{ usd: env('BUDGET_USD'), window: '1d' }],
    rates: ({ symbol }) => (symbol === 'BTC' ? env('BTC_USD') : undefined),
  },
})

const done = new Set<number>(JSON.parse(await readFile(env('DONE_FILE'), 'utf8').catch(() => '[]')) as number[])
await redis.ping()
say('ready')
const started = performance.now()
const report: SoakWorkerReport = { worker, generation, resumed: 0, calls: 0, ms: 0 }

const codeOf = (error: unknown) => (isPayfetchError(error) ? error.code : 'OTHER')
const urlFor = (index: number) => (index % 4 === 3 ? l402Urls[(index >> 2) % l402Urls.length] : env('X402_URL'))

/** How a resume ended when it brought no answer: refused, nothing paid, not pending, unknown, out of time. */
type NotAnswered = 'rejected' | 'failed' | 'gone' | 'unknown' | 'timeout'

/**
 * Sends a pending payment again until it has an outcome, within a bound: an answer; `rejected`
 * (refused, counted); `failed` (the wallet's lookup says nothing was paid: released); `gone` (someone
 * else finished it); `unknown` (still unknown after `maxUnknown` tries: left pending, counted, and
 * said on a line of its own); `timeout` (held by others past a few leases).
 */
async function resumeUntilAnswered(pending: PendingPayment, index: number): Promise<Response | NotAnswered> {
  const deadline = Date.now() + 6 * leaseMs + 60_000
  let unknown = 0
  for (;;) {
    try {
      return await fetchPaid.resume(pending)
    } catch (error) {
      const code = codeOf(error)
      if (code === 'PAYMENT_REJECTED') return 'rejected'
      if (code === 'PAYMENT_FAILED') return 'failed'
      if (code === 'INVALID_OPTIONS') return 'gone'
      if (code === 'PAYMENT_OUTCOME_UNKNOWN' && ++unknown >= maxUnknown) {
        say(`unknown ${index} ${pending.protocol} ${pending.id}`)
        return 'unknown'
      }
      if (Date.now() > deadline) {
        say(`error ${index} resume-timeout ${code} ${pending.id}`)
        return 'timeout'
      }
      // Held by a lease of a process that died: free once the lease ends.
      const until = (error as PayfetchError).details?.until
      const wait = code === 'PAYMENT_IN_PROGRESS' && typeof until === 'number' ? until - Date.now() + 50 : 250 * unknown
      await sleep(Math.min(Math.max(wait, 50), deadline - Date.now() + 50))
    }
  }
}

// First what earlier processes of this worker left pending (their leases end within LEASE_MS).
const mine = (await fetchPaid.pendingPayments()).filter(
  (pending) => callIndex(pending.idempotencyKey)?.worker === worker,
)
await Promise.all(
  mine.map(async (pending) => {
    const index = callIndex(pending.idempotencyKey)?.index as number
    const answer = await resumeUntilAnswered(pending, index)
    report.resumed++
    const status = answer instanceof Response ? answer.status : answer
    say(`resumed ${index} ${pending.protocol} ${status}`)
    if (answer instanceof Response) await answer.arrayBuffer()
    if (status === 200 && !done.has(index)) {
      done.add(index)
      say(`done ${index} paid-${pending.protocol}`)
    }
  }),
)

/** One call, made until it has an outcome (at most `maxTries` tries); each try carries a fresh idempotency key. */
async function call(index: number): Promise<string> {
  const url = `${urlFor(index)}/item`
  const paid = `paid-${index % 4 === 3 ? 'l402' : 'x402'}`
  let code = 'OTHER'
  for (let attempt = 0; attempt < maxTries; attempt++) {
    try {
      const response = await fetchPaid(url, {
        headers: { 'idempotency-key': callKey(worker, generation, index) },
        signal: AbortSignal.timeout(callTimeoutMs),
      })
      await response.arrayBuffer()
      return response.status === 200 ? paid : `status-${response.status}`
    } catch (error) {
      code = codeOf(error)
      if (code === 'BUDGET_EXHAUSTED') return 'budget'
      const resume = (error as PayfetchError).resume
      if (code === 'PAYMENT_OUTCOME_UNKNOWN' && resume) {
        const pending = (await fetchPaid.pendingPayments()).find(
          (entry) => entry.id === (error as PayfetchError).details?.pendingId,
        )
        const answer = pending ? await resumeUntilAnswered(pending, index) : 'gone'
        if (answer instanceof Response) {
          await answer.arrayBuffer()
          if (answer.status === 200) return paid
        }
        continue
      }
      if (code === 'PAYMENT_IN_PROGRESS') {
        await sleep(250)
        continue
      }
      say(`error ${index} ${code} ${String((error as Error).message).slice(0, 200)}`)
      return `failed-${code}`
    }
  }
  say(`error ${index} tries ${maxTries} tries, the last ${code}`)
  return 'failed-tries'
}

const remaining = Array.from({ length: calls }, (_, index) => index).filter((index) => !done.has(index))
let next = 0
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < remaining.length) {
      const index = remaining[next++] as number
      const outcome = await call(index)
      report.calls++
      say(`done ${index} ${outcome}`)
    }
  }),
)
report.ms = performance.now() - started
await redis.quit()
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0))
