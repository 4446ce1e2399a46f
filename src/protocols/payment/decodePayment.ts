import { findKnownAsset } from '../../caps/knownAssets.js'
import { PayfetchError } from '../../errors/PayfetchError.js'
import type { Offer } from '../../offer/Offer.js'
import { decodeBase64UrlJson } from '../../utils/base64.js'
import { isRecord, isShortString } from '../../utils/guards.js'
import type { Response402 } from '../Protocol.js'
import { parseWwwAuthenticate } from '../wwwAuthenticate/parseWwwAuthenticate.js'
import { type ChargeRequest, chargeTerms } from './chargeTerms.js'

/** A `Payment` challenge's auth-params as the server sent them; the credential echoes them verbatim. */
export type PaymentChallenge = {
  readonly id: string
  readonly realm: string
  readonly method: string
  readonly intent: string
  /** base64url of the JCS request JSON, as received. */
  readonly request: string
  readonly expires?: string | undefined
  readonly digest?: string | undefined
  readonly opaque?: string | undefined
  readonly description?: string | undefined
  /** The header the credential goes in, when not `Authorization` (an mppx extension it binds into the id). */
  readonly header?: string | undefined
}

const maxRequestLength = 16 * 1024
const namePattern = /^[a-z][a-z0-9-]{0,63}$/
const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/
// Headers a challenge may not name for the credential: fetch forbids them or they change the request.
// Also: set-cookie (fetch drops it, so the proof would never arrive), headers proxies route or rewrite
// by, and the other payment headers, whose meaning the credential would overwrite.
const forbiddenHeader =
  /^(host|(set-)?cookie|connection|content-.*|transfer-encoding|te|trailer|upgrade|keep-alive|via|expect|origin|referer|proxy-.*|sec-.*|forwarded|x-forwarded-.*|x-real-ip|x-(http-)?method-override|www-authenticate|idempotency-key|payment-(signature|receipt|response)|accept-payment|x-payment.*)$/i
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i

// The challenge each offer answers, and the header its credential goes in.
const challenges = new WeakMap<Offer, { challenge: PaymentChallenge; header: string }>()

/** @internal The `Payment` challenge `offer` was decoded from, and the credential's header. */
export function challengeOf(offer: Offer): { challenge: PaymentChallenge; header: string } | undefined {
  return challenges.get(offer)
}

/**
 * Decodes the `Payment` challenges of a 402 (`WWW-Authenticate: Payment id=…, method=…`) into
 * offers: every `charge` whose method payfetch knows (`evm`, `tempo`, `lightning`, `solana`),
 * wherever it sits among other schemes. `description` is display text, never trusted; an expired
 * challenge is not an offer; other intents and unknown methods are skipped.
 *
 * @example
 * ```ts
 * import { decodePayment } from 'payfetch/payment'
 *
 * const response = await fetch('https://api.example.com/weather')
 * const offers = decodePayment({ url: response.url, headers: response.headers, body: undefined })
 * // [{ protocol: 'payment', scheme: 'charge', network: 'eip155:8453', amount: 10000n, method: { kind: 'eip3009', … } }]
 * ```
 *
 * @throws {PayfetchError} `CHALLENGE_INVALID` when `Payment` challenges are present but none is
 * usable; `details.problems` says why each was refused.
 */
export function decodePayment(response: Response402): Offer[] {
  const offers: Offer[] = []
  const problems: string[] = []
  for (const found of parseWwwAuthenticate(response.headers.get('www-authenticate'))) {
    if (found.scheme !== 'payment') continue
    const offer = toOffer(found.params, response.url, response.at ?? Date.now())
    if (typeof offer === 'string') problems.push(`${found.params.method ?? 'payment'}: ${offer}`)
    else if (offer) offers.push(offer)
  }
  if (offers.length === 0 && problems.length > 0)
    throw new PayfetchError('CHALLENGE_INVALID', 'No usable Payment challenge.', {
      details: { protocol: 'payment', problems },
    })
  return offers
}

/** An offer; a sentence saying why the challenge is unusable; or `undefined` for one payfetch does not speak. */
function toOffer(params: Readonly<Record<string, string>>, url: string, now: number): Offer | string | undefined {
  const { id, realm, method, intent, request, expires, digest, opaque, description } = params
  if (!isShortString(id, 1024) || !isShortString(realm, 1024)) return 'id or realm is missing'
  if (!method || !namePattern.test(method) || !intent || !namePattern.test(intent))
    return 'method or intent is missing or malformed'
  if (!isShortString(request, maxRequestLength)) return 'request is missing or too large'
  const header = params.header ?? 'authorization'
  if (!tokenPattern.test(header) || forbiddenHeader.test(header)) return `the credential header ${header} is refused`
  if (intent !== 'charge') return undefined
  let expiresAt: number | undefined
  if (expires !== undefined) {
    // RFC 3339; numeric seconds too, as some servers send them.
    expiresAt = rfc3339.test(expires)
      ? Date.parse(expires)
      : /^[0-9]{1,12}$/.test(expires)
        ? Number(expires) * 1000
        : NaN
    if (!Number.isFinite(expiresAt)) return 'expires is not a date'
    if (expiresAt <= now) return 'the challenge has expired'
  }
  const fields = decodeBase64UrlJson(request)
  if (!isRecord(fields)) return 'request is not base64url JSON'
  const amount = typeof fields.amount === 'string' && /^[0-9]{1,78}$/.test(fields.amount) ? BigInt(fields.amount) : 0n
  if (amount <= 0n) return 'request.amount is not a positive integer string'
  if (!isShortString(fields.currency, 128)) return 'request.currency is missing'
  const charge: ChargeRequest = {
    amount,
    currency: fields.currency,
    recipient: isShortString(fields.recipient) ? fields.recipient : undefined,
    externalId: isShortString(fields.externalId, 566) ? fields.externalId : undefined,
    details: isRecord(fields.methodDetails) ? fields.methodDetails : {},
  }
  const challenge: PaymentChallenge = {
    id,
    realm,
    method,
    intent,
    request,
    expires,
    digest,
    opaque,
    description,
    header: params.header,
  }
  const terms = chargeTerms(method, challenge, charge, expiresAt, now)
  if (terms === undefined || typeof terms === 'string') return terms
  const known = findKnownAsset(terms.network, terms.asset)
  const offer: Offer = {
    protocol: 'payment',
    scheme: 'charge',
    network: terms.network,
    // Decimals come from payfetch's own table only: a server could lie about them to look cheaper.
    asset: { id: terms.asset, decimals: known?.decimals, symbol: known?.symbol },
    amount: terms.amount,
    payTo: terms.payTo,
    resource: url,
    description: typeof fields.description === 'string' ? fields.description : description,
    expiresAt: terms.expiresAt ?? expiresAt,
    method: terms.method,
    raw: params,
  }
  challenges.set(offer, { challenge, header: header.toLowerCase() })
  return offer
}
