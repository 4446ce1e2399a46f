// Tempo prices gas in attodollars (10^-18 USD) while TIP-20 tokens count microdollars (6 decimals):
// a fee in token base units is the gas cost divided by 10^12, rounded up (Tempo's fee spec).
const attodollarsPerBaseUnit = 10n ** 12n

/** The most a transaction with this gas limit and fee cap can cost, in base units of its fee token. */
export function maxNetworkFee(gas: bigint, maxFeePerGas: bigint): bigint {
  const cost = gas * maxFeePerGas
  return (cost + attodollarsPerBaseUnit - 1n) / attodollarsPerBaseUnit
}
