import type { SiwxChallenge } from './SiwxChallenge.js'

/** How far `issuedAt` may be from this machine's clock, either way (the reference server's window). */
export const maxIssuedAtSkewMs = 5 * 60 * 1000

// RFC 3339 date-time, as EIP-4361 and CAIP-122 ask: a loosely parsed date is not signed.
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
// EIP-4361: at least 8 alphanumeric characters.
const nonce = /^[A-Za-z0-9]{8,}$/
// A line break or other control character (C0, DEL, C1 with NEL, the Unicode separators) would add
// lines of the server's choosing to the message a wallet shows.
const hasControl = (text: string) =>
  [...text].some((char) => {
    const code = char.charCodeAt(0)
    return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029
  })

/**
 * Why a sign-in-with-x challenge must not be signed for `url` (the URL that answered 402), or
 * `undefined`: the domain and URI must be that URL's host and origin (so a signature is never for
 * another site), every resource on that origin, the nonce well formed, `issuedAt` within 5 minutes
 * of now, `expirationTime` in the future, `notBefore` not, version `1`, and no field may break a
 * line. Whether the nonce was signed before is {@link claimNonce}'s to say, at signing time.
 */
export function checkSiwxChallenge(challenge: SiwxChallenge, url: string): string | undefined {
  const asked = new URL(url)
  const fields = Object.entries(challenge).flatMap(([name, value]) =>
    Array.isArray(value) ? value.map((item) => [name, item]) : [[name, value]],
  )
  const broken = fields.find(([, value]) => typeof value === 'string' && hasControl(value))
  if (broken) return `the sign-in-with-x ${broken[0]} contains a line break or control character`
  if (challenge.version !== '1') return `the sign-in-with-x version is ${JSON.stringify(challenge.version)}, not "1"`
  if (challenge.domain !== asked.host)
    return `the sign-in-with-x domain ${JSON.stringify(challenge.domain)} is not ${asked.host}, the host that asked`
  if (originOf(challenge.uri) !== asked.origin)
    return `the sign-in-with-x uri is not on ${asked.origin}, the origin that asked`
  if (challenge.resources?.some((resource) => originOf(resource) !== asked.origin))
    return `a sign-in-with-x resource is not on ${asked.origin}, the origin that asked`
  if (!nonce.test(challenge.nonce)) return 'the sign-in-with-x nonce is not at least 8 letters and digits'
  const now = Date.now()
  const issuedAt = timeOf(challenge.issuedAt)
  if (issuedAt === undefined) return 'the sign-in-with-x issuedAt is not an RFC 3339 date-time'
  if (Math.abs(now - issuedAt) > maxIssuedAtSkewMs) return 'the sign-in-with-x issuedAt is not within 5 minutes of now'
  if (challenge.expirationTime !== undefined) {
    const expiration = timeOf(challenge.expirationTime)
    if (expiration === undefined || expiration <= now) return 'the sign-in-with-x expirationTime is not in the future'
  }
  if (challenge.notBefore !== undefined) {
    const notBefore = timeOf(challenge.notBefore)
    if (notBefore === undefined || notBefore > now) return 'the sign-in-with-x notBefore is in the future'
  }
  return undefined
}

function timeOf(text: string): number | undefined {
  const time = dateTime.test(text) ? Date.parse(text) : Number.NaN
  return Number.isFinite(time) ? time : undefined
}

function originOf(uri: string): string | undefined {
  return URL.canParse(uri) ? new URL(uri).origin : undefined
}
