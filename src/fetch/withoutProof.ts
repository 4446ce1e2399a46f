import { decodeBase64Json } from '../utils/base64.js'

// Shorter strings (addresses, amounts) stay readable; signatures, nonces, preimages and proofs are longer.
const minSecretLength = 64
// Any run this long of a secret is cut, so a proof quoted whole and then truncated (a server's reason
// kept to its first 512 characters) leaves nothing of itself behind. Only token characters count: a
// long URL in the payload is not cut out of a reason that names it.
const pieceLength = 24
const tokenRun = new RegExp(`[A-Za-z0-9+/=_-]{${pieceLength},}`, 'g')

/**
 * Server-supplied text (a refusal reason) with every piece of a proof cut out. A server that quotes
 * the proof, its signature or a preimage back in its refusal, whole or cut short, must not get it
 * into an error message or event.
 */
export function withoutProof(
  text: string | undefined,
  proof: Readonly<Record<string, string>>,
  payload?: unknown,
): string | undefined {
  // Too short to hold a piece of a secret: the common case (an address, an amount) costs nothing.
  if (text === undefined || text.length < pieceLength) return text
  const runs = [...text.matchAll(tokenRun)]
  if (runs.length === 0) return text
  const pieces = piecesOf(proof, payload)
  let redacted = ''
  let done = 0
  for (const run of runs) {
    const start = run.index
    const token = run[0].toLowerCase()
    // The run's characters covered by some piece of a secret.
    const cut = new Uint8Array(token.length)
    for (let at = 0; at + pieceLength <= token.length; at++)
      if (pieces.has(token.slice(at, at + pieceLength))) cut.fill(1, at, at + pieceLength)
    for (let at = 0; at < token.length; ) {
      if (!cut[at]) {
        at++
        continue
      }
      let end = at
      while (end < token.length && cut[end]) end++
      redacted += `${text.slice(done, start + at)}[proof]`
      done = start + end
      at = end
    }
  }
  return done === 0 ? text : redacted + text.slice(done)
}

// One payment's pieces are gathered once, however many texts (receipt fields, events) are checked.
const gathered = new WeakMap<object, { payload: unknown; pieces: Set<string> }>()

/** Every `pieceLength` run of every secret of the proof, lower-cased (hex is quoted in either case). */
function piecesOf(proof: Readonly<Record<string, string>>, payload: unknown): Set<string> {
  const known = gathered.get(proof)
  if (known && known.payload === payload) return known.pieces
  const pieces = new Set<string>()
  const add = (value: string) => {
    if (value.length < minSecretLength) return
    for (const run of value.toLowerCase().matchAll(tokenRun))
      for (let at = 0; at + pieceLength <= run[0].length; at++) pieces.add(run[0].slice(at, at + pieceLength))
  }
  for (const value of Object.values(proof)) {
    // Its runs are its parts too (L402 `macaroon:preimage`): the token runs split where they do.
    add(value)
    leaves(decodeBase64Json(value), add)
  }
  leaves(payload, add)
  gathered.set(proof, { payload, pieces })
  return pieces
}

function leaves(value: unknown, add: (value: string) => void, depth = 0): void {
  if (typeof value === 'string') add(value)
  else if (typeof value === 'object' && value !== null && depth < 8)
    for (const item of Object.values(value)) leaves(item, add, depth + 1)
}
