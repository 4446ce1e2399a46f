// One agent process of the cross-process single-flight proof (test/e2e/sharedFlight.test.ts):
// a paying fetch with Redis sessions and a Redis ledger fires CALLS concurrent requests at one
// L402 origin once told "go" on stdin, paying through an lnd REST wallet, then prints its outcome
// counts and how often its wallet was asked to pay, as one JSON line.
import { createPayingFetch, isPayfetchError } from '../../src/index.js'
import { lightning, lnd } from '../../src/lightning/index.js'
import { redisLedger, redisSessions } from '../../src/redis/index.js'
import { redisFromEnv } from './redisConnection.js'

export type FlightReport = { ok: number; codes: Record<string, number>; walletCalls: number }

const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}
const redis = redisFromEnv()
const wallet = lnd({ url: env('LND_URL'), macaroon: env('LND_MACAROON') })
let walletCalls = 0
const counted = {
  ...wallet,
  payInvoice: (...args: Parameters<typeof wallet.payInvoice>) => (walletCalls++, wallet.payInvoice(...args)),
}
const fetchPaid = createPayingFetch({
  signers: [lightning({ wallet: counted, networks: ['regtest'] })],
  ledger: redisLedger({ redis, prefix: env('LEDGER_PREFIX') }),
  sessions: redisSessions({ redis, prefix: env('SESSION_PREFIX') }),
})

await redis.ping()
process.stdout.write('ready\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
process.stdin.destroy()

const url = env('URL')
const outcomes = await Promise.allSettled(
  Array.from({ length: Number(env('CALLS')) }, async (_, index) => {
    const response = await fetchPaid(`${url}/item/${index}`)
    if (response.status !== 200) throw new Error(`unexpected status ${response.status}`)
    await response.arrayBuffer()
  }),
)
const report: FlightReport = { ok: 0, codes: {}, walletCalls }
for (const outcome of outcomes) {
  if (outcome.status === 'fulfilled') report.ok++
  else {
    const reason = outcome.reason as Error & { cause?: { code?: string; message?: string } }
    // A network failure names its cause (ECONNRESET, a timeout…): "fetch failed" alone says nothing.
    const code = isPayfetchError(reason)
      ? reason.code
      : `${reason}${reason.cause ? ` (${reason.cause.code ?? reason.cause.message})` : ''}`
    report.codes[code] = (report.codes[code] ?? 0) + 1
  }
}
report.walletCalls = walletCalls
await redis.quit()
process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0))
