import { PayfetchError } from '../errors/PayfetchError.js'
import { describeOffer } from '../offer/describeOffer.js'
import type { Offer } from '../offer/Offer.js'
import { atomicAtMost, type Decimal, formatAtomic, parseDecimal } from '../utils/decimal.js'
import { hostMatches } from './hosts.js'
import { findKnownAsset, sameAsset } from './knownAssets.js'

/**
 * Spend limits checked before anything is signed. Amounts in atomic units are `bigint`; USD
 * amounts are decimal strings such as `'0.10'`.
 */
export type Caps = {
  /** Limits on one payment. `usd` applies to stablecoins payfetch knows; default `'0.10'`. */
  perRequest?: { usd?: string | undefined } | undefined
  /**
   * The assets that may be paid. Absent: the known stablecoins (USDC on the x402 default
   * networks). Present: only these; an asset payfetch cannot value in USD needs `maxAmount`.
   */
  assets?: readonly AssetAllowance[] | undefined
  /** CAIP-2 networks that may be paid on, e.g. `['eip155:8453']`. Absent: any. */
  networks?: readonly string[] | undefined
  /** Hosts that may be paid (`api.example.com`, `*.example.com`, `host:port`). */
  hosts?: { allow?: readonly string[] | undefined; deny?: readonly string[] | undefined } | undefined
}

export type AssetAllowance = {
  /** CAIP-2 network id. */
  readonly network: string
  /** Contract address or mint. */
  readonly asset: string
  /** The most one payment may cost, in atomic units. */
  readonly maxAmount?: bigint | undefined
}

/** The caps after validation, ready to judge offers. */
export type Policy = {
  /** `undefined` when the host may be paid, else the refusal. */
  checkHost(url: URL): PayfetchError | undefined
  /** `undefined` when the offer is within the caps, else the refusal. */
  checkOffer(offer: Offer): PayfetchError | undefined
}

const defaultPerRequestUsd = '0.10'

/** Validates the caps once, so a bad option fails at creation rather than at the first 402. */
export function createPolicy(caps: Caps = {}): Policy {
  const perRequestUsd = parseDecimal(caps.perRequest?.usd ?? defaultPerRequestUsd, 'caps.perRequest.usd')
  for (const allowance of caps.assets ?? []) {
    const priceable = findKnownAsset(allowance.network, allowance.asset) !== undefined
    if (!priceable && typeof allowance.maxAmount !== 'bigint')
      throw new PayfetchError('INVALID_OPTIONS', 'An asset payfetch cannot value in USD needs a maxAmount (bigint, atomic units).', {
        details: { network: allowance.network, asset: allowance.asset },
      })
  }
  return {
    checkHost: (url) => checkHost(url, caps.hosts),
    checkOffer: (offer) => checkOffer(offer, caps, perRequestUsd),
  }
}

function checkHost(url: URL, hosts: Caps['hosts']): PayfetchError | undefined {
  const denied = hosts?.deny?.some((pattern) => hostMatches(url, pattern)) ?? false
  const allowed = hosts?.allow?.some((pattern) => hostMatches(url, pattern)) ?? true
  if (denied || !allowed) return new PayfetchError('HOST_NOT_ALLOWED', `Paying ${url.host} is not allowed by caps.hosts.`, { details: { host: url.host } })
  return undefined
}

function checkOffer(offer: Offer, caps: Caps, perRequestUsd: Decimal): PayfetchError | undefined {
  const details = describeOffer(offer)
  if (caps.networks && !caps.networks.includes(offer.network))
    return new PayfetchError('NETWORK_NOT_ALLOWED', `Network ${offer.network} is not in caps.networks.`, { details })
  const known = findKnownAsset(offer.network, offer.asset.id)
  const allowance = caps.assets?.find((entry) => entry.network === offer.network && sameAsset(offer.network, entry.asset, offer.asset.id))
  if (caps.assets ? !allowance : !known)
    return new PayfetchError('ASSET_NOT_ALLOWED', `Asset ${offer.asset.id} on ${offer.network} is not allowed; list it in caps.assets.`, { details })
  if (allowance?.maxAmount !== undefined && offer.amount > allowance.maxAmount)
    return new PayfetchError('CAP_EXCEEDED', `Offer of ${offer.amount} atomic units exceeds the asset limit of ${allowance.maxAmount}.`, {
      details: { ...details, limit: allowance.maxAmount.toString() },
    })
  if (known && !atomicAtMost(offer.amount, known.decimals, perRequestUsd))
    return new PayfetchError('CAP_EXCEEDED', `Offer of $${formatAtomic(offer.amount, known.decimals)} exceeds the per-request limit of $${caps.perRequest?.usd ?? defaultPerRequestUsd}.`, {
      details: { ...details, limitUsd: caps.perRequest?.usd ?? defaultPerRequestUsd },
    })
  return undefined
}
