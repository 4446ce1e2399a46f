import { PayfetchError } from '../errors/PayfetchError.js'
import { type EntryJson, entryFromJson, entryToJson } from '../ledger/entryJson.js'
import type { Ledger, PendingPayment, Settled } from '../ledger/Ledger.js'
import { type LedgerEntry, reportOf } from '../ledger/ledgerEntries.js'
import type { RedisClient } from './redisClient.js'
import { reserveScript, setStateScript } from './scripts.js'

export type RedisLedgerOptions = {
  /** An `ioredis` client (or any client with the same `eval`/`hget`/… methods). */
  redis: RedisClient
  /** Key prefix, so several budgets can share one Redis. Default `payfetch:`. */
  prefix?: string | undefined
}

/**
 * A ledger in Redis: every process that uses the same prefix shares one budget. Check-and-reserve
 * is one Lua script, so a fleet of agents never overspends, whatever the concurrency.
 *
 * Each budget keeps a running sum beside its spends, so a reserve costs the same after a million
 * payments as after one: it reads the sum and takes off only what its window has just passed
 * over. Every process sharing a prefix must run a payfetch that keeps these sums (budgets written
 * by an older one are added up once, on first use).
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { createPayingFetch } from 'payfetch'
 * import { redisLedger } from 'payfetch/redis'
 *
 * const ledger = redisLedger({ redis: new Redis(process.env.REDIS_URL!) })
 * const fetchPaid = createPayingFetch({ signers, ledger, caps: { budgets: [{ usd: '50', window: '1d' }] } })
 * ```
 */
export function redisLedger(options: RedisLedgerOptions): Ledger {
  const { redis } = options ?? {}
  if (typeof redis?.eval !== 'function')
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'Pass a Redis client (ioredis or one with the same methods) as options.redis.',
    )
  const prefix = options.prefix ?? 'payfetch:'
  const setState = async (id: string, state: string, settled?: Settled) => {
    const json = settled && entryToJson({ id, time: 0, state: 'committed', ...settled })
    await redis.eval(
      setStateScript,
      0,
      prefix,
      id,
      state,
      json ? JSON.stringify({ spend: json.spend, charges: json.charges }) : '',
    )
  }
  const entries = async (): Promise<LedgerEntry[]> =>
    Object.values(await redis.hgetall(`${prefix}entries`)).map((raw) => entryFromJson(JSON.parse(raw) as EntryJson))
  return {
    async reserve(reservation) {
      const json = entryToJson({ ...reservation, state: 'reserved' })
      const entry = JSON.stringify(json)
      const charges = JSON.stringify(json.charges)
      const result = (await redis.eval(reserveScript, 0, prefix, reservation.id, reservation.time, entry, charges)) as [
        number,
        string?,
        string?,
        string?,
      ]
      if (result[0] === 1) return { ok: true }
      return { ok: false, key: String(result[1]), used: BigInt(String(result[2])), limit: BigInt(String(result[3])) }
    },
    commit: (id, settled) => setState(id, 'committed', settled),
    release: (id) => setState(id, 'released'),
    markUnknown: (id) => setState(id, 'unknown'),
    markRefused: (id) => setState(id, 'refused'),
    async savePending(pending) {
      await redis.hset(`${prefix}pending`, pending.id, JSON.stringify(pending))
    },
    async pending() {
      return Object.values(await redis.hgetall(`${prefix}pending`)).map((raw) => JSON.parse(raw) as PendingPayment)
    },
    async report(rules = []) {
      return reportOf(await entries(), rules, Date.now())
    },
  }
}
