// A paying process of the lease proof (test/e2e/leases.test.ts), on a Redis ledger with LEASE_MS.
// It prints what its ledger does, so the parent can pick moments without racing the clock:
//   reserved <id> <latest lease end>   after reserve (its lease ends at or before that)
//   renewed <id> <lease end>           after each renewal of a lease
//   pending <id>                       after savePending (the proof is about to leave)
// MODE approve: the approve hook never answers. MODE pay: pays URL and prints `answered <status>`.
import { privateKeyToAccount } from 'viem/accounts'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, type Ledger } from '../../src/index.js'
import { redisLedger } from '../../src/redis/index.js'
import { redisFromEnv } from './redisConnection.js'

const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}
const say = (line: string) => process.stdout.write(`${line}\n`)
// Nothing else may hold the process open while it waits to be killed.
setInterval(() => {}, 60_000)

const redis = redisFromEnv()
const inner = redisLedger({ redis, prefix: env('LEDGER_PREFIX'), leaseMs: Number(env('LEASE_MS')) })
const ledger: Ledger = {
  ...inner,
  async reserve(reservation) {
    const result = await inner.reserve(reservation)
    if (result.ok) say(`reserved ${reservation.id} ${Date.now() + inner.leaseMs}`)
    return result
  },
  async claim(id, owner) {
    const result = await inner.claim(id, owner)
    if (result.ok) say(`renewed ${id} ${result.until}`)
    return result
  },
  async savePending(pending, owner) {
    await inner.savePending(pending, owner)
    say(`pending ${pending.id}`)
  },
}
const never = new Promise<never>(() => {})
const fetchPaid = createPayingFetch({
  signers: [evm({ account: privateKeyToAccount(env('PAYER_KEY') as `0x${string}`) })],
  ledger,
  approve: env('MODE') === 'approve' ? () => never : undefined,
  approveTimeoutMs: 600_000,
})
await redis.ping()
say('ready')
const response = await fetchPaid(env('URL'))
say(`answered ${response.status}`)
