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

/** JSON nested deeper than this is refused: serialising it again (to echo it) would overflow the stack. */
export const maxJsonDepth = 64

/** Parses JSON, or `undefined` when it is not JSON or nests deeper than {@link maxJsonDepth}. */
export function parseJson(text: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  // Iterative, so the check itself cannot overflow.
  const stack: [unknown, number][] = [[value, 0]]
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [node, depth] = item
    if (typeof node !== 'object' || node === null) continue
    if (depth >= maxJsonDepth) return undefined
    for (const child of Object.values(node)) stack.push([child, depth + 1])
  }
  return value
}
