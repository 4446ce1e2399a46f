import { decodeBase64Json } from '../utils/base64.js'

// Shorter strings (addresses, amounts) stay readable; signatures, nonces, preimages and proofs are longer.
const minSecretLength = 64

/**
 * Server-supplied text (a refusal reason) with every piece of a proof cut out. A server that quotes
 * the proof, its signature or a preimage back in its refusal must not get it into an error message
 * or event.
 */
export function withoutProof(
  text: string | undefined,
  proof: Readonly<Record<string, string>>,
  payload?: unknown,
): string | undefined {
  // Too short to hold a secret: the common case (an address, an amount) costs nothing.
  if (text === undefined || text.length < minSecretLength) return text
  const lower = text.toLowerCase()
  const found = secretsOf(proof, payload).filter((secret) => lower.includes(secret.toLowerCase()))
  let redacted = text
  for (const secret of found.sort((a, b) => b.length - a.length)) {
    redacted = redacted.replaceAll(secret, '[proof]')
    if (/^[0-9a-fA-F]+$/.test(secret)) redacted = redacted.replace(new RegExp(secret, 'gi'), '[proof]')
  }
  return redacted
}

// One payment's pieces are gathered once, however many texts (receipt fields, events) are checked.
const gathered = new WeakMap<object, { payload: unknown; secrets: string[] }>()

function secretsOf(proof: Readonly<Record<string, string>>, payload: unknown): string[] {
  const known = gathered.get(proof)
  if (known && known.payload === payload) return known.secrets
  const secrets = new Set<string>()
  const add = (value: string) => {
    if (value.length < minSecretLength) return
    secrets.add(value)
    if (/^0x[0-9a-fA-F]+$/.test(value)) secrets.add(value.slice(2))
  }
  for (const value of Object.values(proof)) {
    add(value)
    for (const piece of value.split(/[\s:,;]+/)) add(piece)
    leaves(decodeBase64Json(value), add)
  }
  leaves(payload, add)
  const list = [...secrets]
  gathered.set(proof, { payload, secrets: list })
  return list
}

function leaves(value: unknown, add: (value: string) => void, depth = 0): void {
  if (typeof value === 'string') add(value)
  else if (typeof value === 'object' && value !== null && depth < 8)
    for (const item of Object.values(value)) leaves(item, add, depth + 1)
}
