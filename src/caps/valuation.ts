import { PayfetchError } from '../errors/PayfetchError.js'
import type { Offer } from '../offer/Offer.js'
import { bounded } from '../utils/bounded.js'
import { type Decimal, parseDecimal } from '../utils/decimal.js'
import { findKnownAsset } from './knownAssets.js'

/**
 * The USD price of one whole unit of an asset (e.g. `'97000'` for BTC), or `undefined` when the
 * caller cannot price it. payfetch never guesses a price.
 */
export type Rates = (asset: {
  readonly network: string
  readonly asset: string
  readonly symbol?: string | undefined
}) => string | undefined | Promise<string | undefined>

/** USD amounts are compared in nano-dollars: exact for every stablecoin and fine enough for sats. */
export const nanoUsdScale = 9

/** A USD decimal such as `'0.10'` in nano-dollars. */
export function toNanoUsd(limit: Decimal): bigint {
  return (
    (limit.units * 10n ** BigInt(nanoUsdScale - Math.min(limit.scale, nanoUsdScale))) /
    10n ** BigInt(Math.max(limit.scale - nanoUsdScale, 0))
  )
}

/**
 * The offer's value in nano-dollars, rounded up: stablecoins payfetch knows at par, other assets
 * through `rates`. `undefined` when it cannot be valued.
 */
export async function valueInNanoUsd(
  offer: Offer,
  rates: Rates | undefined,
  wait: { timeoutMs?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<bigint | undefined> {
  const known = findKnownAsset(offer.network, offer.asset.id)
  const decimals = known?.decimals ?? offer.asset.decimals
  if (decimals === undefined) return undefined
  let price: Decimal
  if (known?.usdPar) price = { units: 1n, scale: 0 }
  else {
    // A hook that never answers must not hold the payment: it is bounded like every wait.
    const asset = { network: offer.network, asset: offer.asset.id, symbol: known?.symbol ?? offer.asset.symbol }
    const quoted =
      rates &&
      (await bounded(
        Promise.resolve().then(() => rates(asset)),
        wait,
      ))
    if (quoted === undefined) return undefined
    price = parseDecimal(quoted, 'a rate')
    // A zero price would let any amount through every USD limit: a broken feed, not a price.
    if (price.units === 0n)
      throw new PayfetchError('INVALID_OPTIONS', 'A rate must be above zero.', { details: { value: quoted } })
  }
  // amount / 10^decimals × units / 10^scale dollars, in nano-dollars, rounded up.
  const numerator = offer.amount * price.units * 10n ** BigInt(nanoUsdScale)
  const denominator = 10n ** BigInt(decimals + price.scale)
  return (numerator + denominator - 1n) / denominator
}
