import { createHash, createHmac } from 'node:crypto'

// The wire format of the `Payment` HTTP authentication scheme (draft-httpauth-payment-00), written
// from the draft for the hand-built Lightning and Solana charge servers, independent of mppx.

/** The auth-params of one `WWW-Authenticate: Payment` challenge, as they appear on the wire. */
export type ChallengeParams = {
  readonly id: string
  readonly realm: string
  readonly method: string
  readonly intent: string
  /** base64url (no padding) of the JCS-serialized request object. */
  readonly request: string
  /** RFC 3339. */
  readonly expires?: string | undefined
  readonly description?: string | undefined
  /** RFC 9530 content digest of the request body, e.g. `sha-256=:…:`. */
  readonly digest?: string | undefined
  readonly opaque?: string | undefined
}

/** A decoded `Authorization: Payment` credential. */
export type Credential = {
  readonly challenge: Record<string, unknown>
  readonly source?: unknown
  readonly payload: Record<string, unknown>
}

/** RFC 9457 problem details, as sent in a 402 body. */
export type Problem = {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
}

/**
 * RFC 8785 (JCS) for the JSON these servers produce: plain objects, arrays, strings, booleans,
 * safe integers. Keys sort by UTF-16 code units, which is what `Array.prototype.sort` compares, and
 * JCS prints strings and numbers exactly as `JSON.stringify` does.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, one]) => one !== undefined)
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([key, one]) => `${JSON.stringify(key)}:${canonicalJson(one)}`).join(',')}}`
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${value}`)
  return JSON.stringify(value)
}

/** base64url without padding of the JCS form: the encoding of `request`, credentials and receipts. */
export const encodeJson = (value: unknown): string => Buffer.from(canonicalJson(value), 'utf8').toString('base64url')

/** Decodes base64url JSON, with or without padding; `undefined` when it is not that. */
export function decodeJson(text: string): unknown {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(text)) return undefined
  try {
    return JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown
  } catch {
    return undefined
  }
}

/**
 * The draft's recommended stateless binding: base64url(HMAC-SHA256(secret, realm|method|intent|
 * request|expires|digest|opaque)), seven fixed slots, absent ones empty.
 */
export function challengeId(secret: Uint8Array, params: Omit<ChallengeParams, 'id' | 'description'>): string {
  const slots = [
    params.realm,
    params.method,
    params.intent,
    params.request,
    params.expires ?? '',
    params.digest ?? '',
    params.opaque ?? '',
  ]
  return createHmac('sha256', secret).update(slots.join('|')).digest('base64url')
}

const quoted = (value: string) => `"${value.replace(/[\\"]/g, (char) => `\\${char}`)}"`

/** One challenge as a `WWW-Authenticate` value; every param is a quoted-string. */
export function formatChallenge(params: ChallengeParams): string {
  const order = ['id', 'realm', 'method', 'intent', 'request', 'description', 'digest', 'expires', 'opaque'] as const
  const parts = order.flatMap((name) => (params[name] === undefined ? [] : [`${name}=${quoted(params[name])}`]))
  return `Payment ${parts.join(', ')}`
}

/**
 * Finds the `Payment` credential in an `Authorization` value and decodes it. `null` when there is
 * none; `'malformed'` when there is one that is not base64url JSON with `challenge` and `payload`
 * objects.
 */
export function parseCredential(header: string | undefined): Credential | null | 'malformed' {
  const match = header === undefined ? null : /^\s*Payment\s+(\S+)\s*$/i.exec(header)
  if (!match) return null
  const decoded = decodeJson(match[1] as string)
  if (!isObject(decoded) || !isObject(decoded.challenge) || !isObject(decoded.payload)) return 'malformed'
  return decoded as Credential
}

/** A `Payment-Receipt` value. */
export const formatReceipt = (receipt: Record<string, unknown>): string => encodeJson(receipt)

/** RFC 9530 `Content-Digest`-style value of a body: `sha-256=:<base64>:`. */
export const contentDigest = (body: Uint8Array): string =>
  `sha-256=:${createHash('sha256').update(body).digest('base64')}:`

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
