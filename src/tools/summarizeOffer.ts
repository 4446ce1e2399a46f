import { findKnownAsset } from '../caps/knownAssets.js'
import type { Rates } from '../caps/valuation.js'
import type { Offer } from '../offer/Offer.js'
import { formatAtomic, parseDecimal } from '../utils/decimal.js'

/** An offer as a tool shows it: JSON-safe, amounts as decimal strings of atomic units. */
export type OfferSummary = {
  protocol: string
  scheme: string
  network: string
  asset: string
  symbol?: string
  decimals?: number
  amount: string
  amount_usd?: string
  payee: string
  description?: string
  expires_at?: string
}

/**
 * The stable fields of an offer, with its USD value when payfetch knows the asset (stablecoins
 * at par) or `rates` prices it. Display only: caps are enforced by the paying fetch.
 */
export async function summarizeOffer(offer: Offer, rates?: Rates): Promise<OfferSummary> {
  const known = findKnownAsset(offer.network, offer.asset.id)
  const decimals = known?.decimals ?? offer.asset.decimals
  const symbol = known?.symbol ?? offer.asset.symbol
  const usd = decimals === undefined ? undefined : await usdValue(offer, decimals, known?.usdPar === true, rates)
  return {
    protocol: offer.protocol,
    scheme: offer.scheme,
    network: offer.network,
    asset: offer.asset.id,
    ...(symbol === undefined ? {} : { symbol }),
    ...(decimals === undefined ? {} : { decimals }),
    amount: offer.amount.toString(),
    ...(usd === undefined ? {} : { amount_usd: usd }),
    payee: offer.payTo,
    ...(offer.description ? { description: offer.description } : {}),
    ...(offer.expiresAt === undefined ? {} : { expires_at: new Date(offer.expiresAt).toISOString() }),
  }
}

async function usdValue(
  offer: Offer,
  decimals: number,
  atPar: boolean,
  rates: Rates | undefined,
): Promise<string | undefined> {
  if (atPar) return formatAtomic(offer.amount, decimals)
  try {
    const rate = await rates?.({ network: offer.network, asset: offer.asset.id, symbol: offer.asset.symbol })
    if (rate === undefined) return undefined
    const price = parseDecimal(rate, 'rate')
    // amount / 10^decimals * units / 10^scale, rounded up to a micro-dollar.
    const scale = decimals + price.scale
    const micro = (offer.amount * price.units * 10n ** 6n + 10n ** BigInt(scale) - 1n) / 10n ** BigInt(scale)
    return formatAtomic(micro, 6)
  } catch {
    return undefined
  }
}
