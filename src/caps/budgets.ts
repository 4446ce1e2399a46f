import { PayfetchError } from '../errors/PayfetchError.js'
import { parseDecimal } from '../utils/decimal.js'
import { hostKey, hostMatches } from './hosts.js'
import { sameAsset } from './knownAssets.js'
import { toNanoUsd } from './valuation.js'

/**
 * A limit on what payments may add up to, over a rolling window or in total. Give `usd` (any
 * asset payfetch can value) or `amount` (atomic units of one `network` + `asset`).
 *
 * @example
 * ```ts
 * const budgets: Budget[] = [
 *   { usd: '5', window: '1d' },                                  // $5 a day, everything together
 *   { usd: '1', window: '1h', perHost: true },                   // $1 an hour for each host
 *   { network: 'eip155:8453', asset: '0x8335…2913', amount: 20_000_000n }, // 20 USDC in total
 * ]
 * ```
 */
export type Budget = {
  /** The limit in US dollars, e.g. `'5'`. */
  readonly usd?: string | undefined
  /** The limit in atomic units of `asset` on `network`. */
  readonly amount?: bigint | undefined
  /** Only payments on this CAIP-2 network count. */
  readonly network?: string | undefined
  /** Only payments in this asset count (needs `network`). */
  readonly asset?: string | undefined
  /** Only payments to hosts matching this pattern count (`api.example.com`, `*.example.com`). */
  readonly host?: string | undefined
  /** Each host gets a budget of its own. */
  readonly perHost?: boolean | undefined
  /** The rolling window: `'30s'`, `'15m'`, `'1h'`, `'1d'`, `'1w'`, `'30d'`, or milliseconds. Absent: in total. */
  readonly window?: string | number | undefined
}

/** A budget after validation: what the ledger counts, under a stable key. */
export type BudgetRule = {
  /** Stable across processes, so every ledger sharing a store counts the same budget. */
  readonly key: string
  readonly unit: 'nanoUsd' | 'atomic'
  readonly limit: bigint
  readonly windowMs?: number | undefined
  /** Charged under `key@host`, one budget per host. */
  readonly perHost: boolean
  readonly budget: Budget
}

/** One payment's share of one budget. */
export type Charge = {
  readonly key: string
  readonly limit: bigint
  readonly amount: bigint
  readonly windowMs?: number | undefined
}

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** Validates budgets once, at creation. */
export function parseBudgets(budgets: readonly Budget[] = []): BudgetRule[] {
  return budgets.map((budget, index) => {
    const where = `caps.budgets[${index}]`
    if ((budget.usd === undefined) === (budget.amount === undefined))
      throw invalid(`${where} needs exactly one of usd or amount`)
    if (
      budget.amount !== undefined &&
      (typeof budget.amount !== 'bigint' || budget.amount < 0n || !budget.network || !budget.asset)
    )
      throw invalid(`${where}.amount must be a bigint with network and asset`)
    if (budget.asset !== undefined && !budget.network) throw invalid(`${where}.asset needs network`)
    const windowMs = parseWindow(budget.window, where)
    const limit =
      budget.usd !== undefined ? toNanoUsd(parseDecimal(budget.usd, `${where}.usd`)) : (budget.amount as bigint)
    const unit = budget.usd !== undefined ? 'nanoUsd' : 'atomic'
    // The unit keeps $5 apart from 5 atomic units; the parsed limit makes '5' and '5.00' one budget.
    const asset =
      budget.asset !== undefined && budget.network?.startsWith('eip155:') ? budget.asset.toLowerCase() : budget.asset
    const key = JSON.stringify([
      unit,
      limit.toString(),
      budget.network,
      asset,
      budget.host?.toLowerCase(),
      budget.perHost ?? false,
      windowMs,
    ])
    return { key, unit, limit, windowMs, perHost: budget.perHost ?? false, budget }
  })
}

/**
 * What one payment charges to each budget it falls under.
 *
 * @throws {PayfetchError} `UNPRICEABLE` when a USD budget applies and the payment has no USD value.
 */
export function chargesFor(
  rules: readonly BudgetRule[],
  spend: { network: string; asset: string; amount: bigint; url: URL; nanoUsd: bigint | undefined },
): Charge[] {
  // The real URL, not its host alone: `api.example.com:443` must match https://api.example.com/.
  const { url } = spend
  const charges: Charge[] = []
  for (const rule of rules) {
    const { budget } = rule
    if (budget.network && budget.network !== spend.network) continue
    if (budget.asset && !sameAsset(spend.network, budget.asset, spend.asset)) continue
    if (budget.host && !hostMatches(url, budget.host)) continue
    if (rule.unit === 'nanoUsd' && spend.nanoUsd === undefined)
      throw new PayfetchError(
        'UNPRICEABLE',
        `A USD budget applies but ${spend.asset} on ${spend.network} has no USD value; pass caps.rates.`,
        {
          details: { network: spend.network, asset: spend.asset },
        },
      )
    // One budget per host, however a server spells it ([::ffff:7f00:1] is 127.0.0.1, `host.` is `host`).
    const key = budget.perHost ? `${rule.key}@${hostKey(url)}` : rule.key
    charges.push({
      key,
      limit: rule.limit,
      amount: rule.unit === 'nanoUsd' ? (spend.nanoUsd as bigint) : spend.amount,
      windowMs: rule.windowMs,
    })
  }
  return charges
}

function parseWindow(window: string | number | undefined, where: string): number | undefined {
  if (window === undefined) return undefined
  if (typeof window === 'number') {
    if (Number.isSafeInteger(window) && window > 0) return window
    throw invalid(`${where}.window must be a positive number of milliseconds`)
  }
  const match = /^([1-9][0-9]{0,5})([smhdw])$/.exec(window)
  if (!match) throw invalid(`${where}.window must look like '1h', '1d' or '30d'`)
  return Number(match[1]) * (units[match[2] as string] as number)
}

function invalid(message: string): PayfetchError {
  return new PayfetchError('INVALID_OPTIONS', `${message}.`)
}
