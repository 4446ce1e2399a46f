import { PayfetchError } from '../errors/PayfetchError.js'
import type { Offer } from '../offer/Offer.js'
import type { Protocol, Response402 } from '../protocols/Protocol.js'
import { type ReadWait, readCapped } from './readCapped.js'
import { withoutProof } from './withoutProof.js'

const maxChallengeBodyBytes = 64 * 1024
const utf8 = new TextDecoder()

/** The headers the built-in protocols read challenges from, as a server lists them for CORS. */
export const challengeHeaders = ['PAYMENT-REQUIRED', 'WWW-Authenticate'] as const

// 402s a page read through CORS: a header the server did not expose reads as absent there.
const crossOrigin = new WeakSet<Response402>()

/**
 * The 402 as the protocols read it: its headers and at most 64 KiB of its body, read once. A body
 * that does not arrive within `wait.timeoutMs` is read as absent; an abort rejects. A body quoting
 * `presented` (what the request carried: a stored token, a paid proof) has it cut out.
 */
export async function read402(
  response: Response,
  url: string,
  wait: ReadWait = {},
  presented?: Readonly<Record<string, string>>,
): Promise<Response402> {
  const bytes = response.body ? await readCapped(response.body, maxChallengeBodyBytes, wait) : new Uint8Array()
  const text = bytes && utf8.decode(bytes)
  const body = presented ? withoutProof(text, presented) : text
  const answer = { url, headers: response.headers, body }
  if (response.type === 'cors') crossOrigin.add(answer)
  return answer
}

/**
 * Offers from every protocol; a protocol that fails to decode does not hide the others' offers.
 *
 * @throws {PayfetchError} `CHALLENGE_INVALID` when no protocol finds an offer; for a cross-origin
 * 402 without a readable challenge header, the message names `Access-Control-Expose-Headers`.
 */
export function decodeOffers(
  protocols: readonly Protocol[],
  challenge: Response402,
): { offer: Offer; protocol: Protocol }[] {
  const offers: { offer: Offer; protocol: Protocol }[] = []
  let firstError: unknown
  for (const protocol of protocols) {
    try {
      for (const offer of protocol.decode(challenge)) offers.push({ offer, protocol })
    } catch (error) {
      firstError ??= error
    }
  }
  if (offers.length > 0) return offers
  if (crossOrigin.has(challenge) && challengeHeaders.every((name) => !challenge.headers.has(name)))
    throw new PayfetchError(
      'CHALLENGE_INVALID',
      `The server answered 402 to a cross-origin request without a payment challenge this page can read: it must list ${challengeHeaders.join(' and ')} in Access-Control-Expose-Headers.`,
      { details: { url: challenge.url, exposeHeaders: challengeHeaders.join(', ') }, cause: firstError },
    )
  if (firstError !== undefined) throw firstError
  throw new PayfetchError(
    'CHALLENGE_INVALID',
    'The server answered 402 without a payment challenge payfetch understands.',
    {
      details: { url: challenge.url, body: challenge.body?.slice(0, 256) },
    },
  )
}
