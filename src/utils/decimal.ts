import { PayfetchError } from '../errors/PayfetchError.js'

/** A non-negative decimal such as `'0.10'`, exactly: `units / 10^scale`. */
export type Decimal = { readonly units: bigint; readonly scale: number }

/** Parses `'0.10'` or `'5'` exactly; floats never enter money arithmetic. */
export function parseDecimal(text: string, what: string): Decimal {
  // A number (from untyped callers) would be coerced by `exec`: a float must not become a limit.
  const match = typeof text === 'string' ? /^([0-9]{1,30})(?:\.([0-9]{1,30}))?$/.exec(text) : null
  if (!match)
    throw new PayfetchError('INVALID_OPTIONS', `${what} must be a decimal string like '0.10'.`, {
      details: { value: text },
    })
  const fraction = match[2] ?? ''
  return { units: BigInt(`${match[1]}${fraction}`), scale: fraction.length }
}

/** Whether `amount` atomic units of an asset with `decimals` are at most `limit`. */
export function atomicAtMost(amount: bigint, decimals: number, limit: Decimal): boolean {
  // amount / 10^decimals <= units / 10^scale, cross-multiplied to stay in integers.
  return amount * 10n ** BigInt(limit.scale) <= limit.units * 10n ** BigInt(decimals)
}

/** `amount` atomic units written as a decimal string, e.g. `10000n, 6` → `'0.01'`. */
export function formatAtomic(amount: bigint, decimals: number): string {
  if (decimals === 0) return amount.toString()
  const text = amount.toString().padStart(decimals + 1, '0')
  const fraction = text.slice(-decimals).replace(/0+$/, '')
  return fraction ? `${text.slice(0, -decimals)}.${fraction}` : text.slice(0, -decimals)
}
