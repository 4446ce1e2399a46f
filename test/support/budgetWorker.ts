// One agent process of the cross-process budget proof (test/e2e/budgetConcurrency.test.ts):
// a paying fetch on a shared Redis (or Redis Cluster) ledger fires CALLS concurrent paid requests once told "go"
// on stdin, then prints its outcome counts as one JSON line on stdout.
import { privateKeyToAccount } from 'viem/accounts'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, isPayfetchError } from '../../src/index.js'
import { redisLedger } from '../../src/redis/index.js'
import { wrapPayers } from './countingSigner.js'
import { redisFromEnv } from './redisConnection.js'

export type WorkerReport = {
  pid: number
  paid: number
  /** Refusals and failures by error code (`OTHER` for anything that is not a payfetch error). */
  codes: Record<string, number>
  others: string[]
  /** Signatures the signer produced. */
  signed: number
  ms: number
}

const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}
const url = env('MERCHANT_URL')
const calls = Number(env('CALLS'))
// REDIS_URL, or REDIS_CLUSTER for a Redis Cluster (an ioredis Cluster client).
const redis = redisFromEnv()
const real = evm({ account: privateKeyToAccount(env('PAYER_KEY') as `0x${string}`) })
let signed = 0
const signer = wrapPayers(real, (pay) => (request, context) => (signed++, pay(request, context)))
const fetchPaid = createPayingFetch({
  signers: [signer],
  ledger: redisLedger({ redis, prefix: env('LEDGER_PREFIX') }),
  caps: { budgets: [{ usd: env('BUDGET_USD'), window: '1d' }] },
})

// Warm up what is not under test (connections, viem's first signature) before the start signal.
await redis.ping()
await real.methods.eip3009?.pay(
  {
    kind: 'eip3009',
    chainId: 84532,
    token: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
    domain: { name: 'USDC', version: '2' },
    to: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
    value: 1n,
    validBefore: { afterSeconds: 60 },
    nonce: 'random',
  },
  { url },
)
process.stdout.write('ready\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
process.stdin.destroy()

const started = performance.now()
const outcomes = await Promise.allSettled(
  Array.from({ length: calls }, async () => {
    const response = await fetchPaid(url)
    const body = await response.text()
    if (response.status !== 200 || body !== 'item' || !getReceipt(response))
      throw new Error(`unexpected answer ${response.status} ${body}`)
  }),
)
const report: WorkerReport = { pid: process.pid, paid: 0, codes: {}, others: [], signed, ms: 0 }
for (const outcome of outcomes) {
  if (outcome.status === 'fulfilled') report.paid++
  else {
    const code = isPayfetchError(outcome.reason) ? outcome.reason.code : 'OTHER'
    report.codes[code] = (report.codes[code] ?? 0) + 1
    if (code !== 'BUDGET_EXHAUSTED' && report.others.length < 5)
      report.others.push(
        `${outcome.reason} (cause: ${(outcome.reason as Error)?.cause}: ${((outcome.reason as Error)?.cause as Error)?.cause})`,
      )
  }
}
report.ms = performance.now() - started
report.signed = signed
await redis.quit()
// Idle keep-alive sockets would hold the process open: exit once the report is flushed.
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0))
