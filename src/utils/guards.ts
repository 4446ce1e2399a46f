/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Text a server or wallet sent, as a string: a string as it is, a number, boolean or bigint printed,
 * anything else empty. Never calls a value's own `toString` (parsed JSON can name one that throws).
 */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : ''
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
  // The nesting is counted on the text, before parsing: one pass, no allocation, no recursion. Text
  // with no more brackets than the limit cannot nest deeper, and most text has a few: it skips the pass.
  if (!hasBrackets(text, maxJsonDepth + 1)) return parseOrUndefined(text)
  let depth = 0
  let inString = false
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (inString) {
      if (code === 0x5c)
        index++ // a backslash escapes the next character
      else if (code === 0x22) inString = false
    } else if (code === 0x22) inString = true
    else if (code === 0x7b || code === 0x5b) {
      if (++depth > maxJsonDepth) return undefined
    } else if (code === 0x7d || code === 0x5d) depth--
  }
  return parseOrUndefined(text)
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Whether `text` holds at least `count` opening brackets, found with `indexOf` (native) rather than char by char. */
function hasBrackets(text: string, count: number): boolean {
  let found = 0
  for (const bracket of ['{', '['])
    for (let at = text.indexOf(bracket); at >= 0; at = text.indexOf(bracket, at + 1)) if (++found >= count) return true
  return false
}
