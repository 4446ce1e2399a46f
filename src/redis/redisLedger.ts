import { PayfetchError } from '../errors/PayfetchError.js'
import { entryToJson } from '../ledger/entryJson.js'
import type { ClaimResult, Ledger, PendingPayment, Settled, SpendReport } from '../ledger/Ledger.js'
import { leaseOption, notHeld } from '../ledger/ledgerState.js'
import type { RedisClient } from './redisClient.js'
import { claimScript, reportScript, reserveScript, savePendingScript, setStateScript } from './scripts.js'

export type RedisLedgerOptions = {
  /** An `ioredis` client or `Cluster` (or any client with the same `eval`/`hgetall` methods). */
  redis: RedisClient
  /**
   * Key prefix, so several budgets can share one Redis. Default `payfetch:`. The ledger's keys
   * share one Redis Cluster hash tag made from it (see {@link ledgerKeyPrefix}).
   */
  prefix?: string | undefined
  /**
   * How long a reservation's lease lasts, in ms (default 300 000: five minutes). A process that
   * dies before its proof left holds the reservation's room that long; a live one renews it every
   * third of it, however long its `approve` hook or wallet takes. Leases are read on each process's
   * clock: keep a fleet's clocks within seconds of each other (NTP).
   *
   * @example
   * ```ts
   * const ledger = redisLedger({ redis, leaseMs: 120_000 })
   * ```
   */
  leaseMs?: number | undefined
  /** The clock of leases and of `report`'s windows, in Unix ms. Default `Date.now`; for tests. */
  now?: (() => number) | undefined
}

/**
 * The prefix every key of a Redis ledger starts with: `prefix` itself when it already holds a
 * hash tag (`{…}` with something inside), else `prefix` with its text before the last `:` in
 * braces: `payfetch:` → `{payfetch}:`, `app:eu:` → `{app:eu}:`, `ledger` → `{ledger}`. Redis
 * Cluster puts keys with one hash tag in one slot, so every script of the ledger can run there.
 *
 * @example
 * ```ts
 * import { ledgerKeyPrefix } from 'payfetch/redis'
 *
 * ledgerKeyPrefix('payfetch:') // '{payfetch}:'
 * ```
 */
export function ledgerKeyPrefix(prefix: string): string {
  const open = prefix.indexOf('{')
  const close = open < 0 ? -1 : prefix.indexOf('}', open + 1)
  if (close > open + 1) return prefix
  if (prefix === '' || prefix === ':')
    throw new PayfetchError('INVALID_OPTIONS', 'The Redis ledger prefix must not be empty.', { details: { prefix } })
  return prefix.endsWith(':') ? `{${prefix.slice(0, -1)}}:` : `{${prefix}}`
}

/**
 * A ledger in Redis: every process that uses the same prefix shares one budget. Each operation is
 * one Lua script, so a fleet of agents never overspends, whatever the concurrency.
 *
 * Each budget keeps a running sum, so a reserve costs the same after a million payments as after
 * one: it reads the sums and takes off only what windows have just passed over. Entries that can
 * change nothing any more (settled, out of every window) are dropped, their amounts kept in the
 * budgets' sums and the per-host totals, so Redis holds what is inside a window or unsettled and
 * `report` reads O(budgets + hosts). Every script declares its keys, which share one hash tag, so
 * it runs on Redis Cluster (pass an ioredis `Cluster`); the ledger of one prefix lives in one slot.
 * Reservations are leased to the process that made them (see `leaseMs`).
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
  const base = ledgerKeyPrefix(options.prefix ?? 'payfetch:')
  const keys = ['entries', 'sums', 'windows', 'totals', 'pending', 'leases'].map((name) => base + name)
  const leaseMs = leaseOption(options.leaseMs)
  const now = options.now ?? Date.now
  const run = (script: string, ...args: (string | number)[]) => redis.eval(script, keys.length, ...keys, ...args)
  const setState = async (id: string, state: string, settled?: Settled) => {
    const json = settled && entryToJson({ id, time: 0, state: 'committed', ...settled })
    await run(setStateScript, id, state, json ? JSON.stringify({ spend: json.spend, charges: json.charges }) : '')
  }
  return {
    leaseMs,
    async reserve(reservation) {
      const json = entryToJson({ ...reservation, state: 'reserved' })
      const owner = reservation.owner ?? ''
      const result = (await run(
        reserveScript,
        reservation.id,
        reservation.time,
        now(),
        JSON.stringify({ id: json.id, time: json.time, spend: json.spend, charges: json.charges }),
        owner,
        owner ? now() + leaseMs : 0,
      )) as [number, string?, string?, string?]
      if (result[0] === 1) return { ok: true }
      return { ok: false, key: String(result[1]), used: BigInt(String(result[2])), limit: BigInt(String(result[3])) }
    },
    async claim(id, owner): Promise<ClaimResult> {
      const [granted, reason, until] = (await run(claimScript, id, owner, now(), leaseMs)) as [number, unknown, unknown]
      if (granted === 1) return { ok: true, until: Number(reason) }
      return reason === 'held' ? { ok: false, reason: 'held', until: Number(until) } : { ok: false, reason: 'gone' }
    },
    commit: (id, settled) => setState(id, 'committed', settled),
    release: (id) => setState(id, 'released'),
    markUnknown: (id) => setState(id, 'unknown'),
    markRefused: (id) => setState(id, 'refused'),
    async savePending(pending, owner) {
      const saved = await run(
        savePendingScript,
        pending.id,
        JSON.stringify(pending),
        owner ?? '',
        owner === undefined ? 0 : now() + leaseMs,
      )
      if (saved !== 1) throw notHeld(pending.id)
    },
    async pending() {
      return Object.values(await redis.hgetall(keys[4] as string)).map((raw) => JSON.parse(raw) as PendingPayment)
    },
    async report(rules = []): Promise<SpendReport> {
      const raw = (await run(
        reportScript,
        now(),
        JSON.stringify(rules.map((rule) => ({ key: rule.key, perHost: rule.perHost === true }))),
      )) as string
      const read = JSON.parse(raw) as {
        budgets: [number, string, string][] | object
        totals: [string, string][] | object
      }
      // cjson writes an empty array as {}.
      const used = Array.isArray(read.budgets) ? read.budgets : []
      const budgets = rules.flatMap((rule, index) =>
        used
          .filter(([number]) => number === index + 1)
          .map(([, key, sum]) => ({ key, used: BigInt(sum), limit: rule.limit, windowMs: rule.windowMs })),
      )
      const totals = (Array.isArray(read.totals) ? read.totals : []).map(([group, sums]) => {
        const [host, network, asset] = JSON.parse(group) as [string, string, string]
        const [spent = '0', reserved = '0', unknown = '0'] = sums.split(' ')
        return { host, network, asset, spent: BigInt(spent), reserved: BigInt(reserved), unknown: BigInt(unknown) }
      })
      return { budgets, totals }
    },
  }
}
