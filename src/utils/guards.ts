/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A non-empty string of at most `max` characters. */
export function isShortString(value: unknown, max = 256): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max
}

/** A positive integer number of atomic units written as a decimal string, as x402 sends amounts. */
export function parseAtomicAmount(value: unknown): bigint | undefined {
  if (typeof value !== 'string' || !/^[0-9]{1,78}$/.test(value)) return undefined
  const amount = BigInt(value)
  return amount > 0n ? amount : undefined
}
