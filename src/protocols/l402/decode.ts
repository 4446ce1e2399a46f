import { PayfetchError } from '../../errors/PayfetchError.js'
import type { Offer } from '../../offer/Offer.js'
import type { Response402 } from '../Protocol.js'
import { type AuthChallenge, parseWwwAuthenticate } from '../wwwAuthenticate/parseWwwAuthenticate.js'
import { invoiceExpiresAt, readInvoice } from './readInvoice.js'
import { readMacaroon } from './readMacaroon.js'

// Base64 (standard or URL-safe) and the other token68 characters; no `:`, `,`, space or quote,
// so the credential `<token>:<preimage>` stays one unambiguous header value.
const tokenPattern = /^[-A-Za-z0-9._~+/]+=*$/

/**
 * Decodes the L402 (and legacy LSAT) challenges of a 402 into offers priced in millisatoshis:
 * `token=` or `macaroon=`, `invoice=`, `version=`, wherever they sit in `WWW-Authenticate`.
 * Aperture's LSAT-then-L402 pair becomes one offer. An invoice that is expired, amountless,
 * malformed, on an unknown network, or whose payment hash differs from the one a macaroon token
 * commits to is not an offer.
 *
 * `payTo` is the payee node key when the invoice names it (`n` field), else the payment hash.
 *
 * @example
 * ```ts
 * import { decodeL402 } from 'payfetch/lightning'
 *
 * const response = await fetch('https://api.example.com/report')
 * const [offer] = decodeL402({ url: response.url, headers: response.headers, body: undefined })
 * // { protocol: 'l402', network: 'bip122:000000000019d6689c085ae165831e93', asset: { id: 'BTC', decimals: 11 }, amount: 21000n, … }
 * ```
 *
 * @throws {PayfetchError} `CHALLENGE_INVALID` when L402 challenges are present but none is usable;
 * `details.problems` says why each was refused.
 */
export function decodeL402(response: Response402): Offer[] {
  const offers = new Map<string, Offer>()
  const problems: string[] = []
  for (const found of parseWwwAuthenticate(response.headers.get('www-authenticate'))) {
    if (found.scheme !== 'l402' && found.scheme !== 'lsat') continue
    const offer = toOffer(found, response.url, response.at ?? Date.now())
    if (typeof offer === 'string') {
      problems.push(`${found.scheme}: ${offer}`)
      continue
    }
    // The same token and invoice under LSAT and L402 is one offer; the L402 line wins.
    const key = `${tokenOf(offer)} ${offer.method?.kind === 'bolt11' ? offer.method.invoice : ''}`
    if (!offers.has(key) || found.scheme === 'l402') offers.set(key, offer)
  }
  if (offers.size === 0 && problems.length > 0)
    throw new PayfetchError('CHALLENGE_INVALID', 'No usable L402 challenge.', {
      details: { protocol: 'l402', problems },
    })
  return [...offers.values()]
}

// The token an offer was issued with: the proof presents it, the invoice alone is not enough.
const tokens = new WeakMap<Offer, string>()

/** @internal The L402 token `offer` came with. */
export function tokenOf(offer: Offer): string | undefined {
  return tokens.get(offer)
}

function toOffer(challenge: AuthChallenge, url: string, now: number): Offer | string {
  const { params } = challenge
  const token = params.token ?? params.macaroon
  const invoice = params.invoice
  if (!token || !tokenPattern.test(token)) return 'token is missing or not base64'
  if (!invoice) return 'invoice is missing'
  const summary = readInvoice(invoice)
  if (typeof summary === 'string') return summary
  const expiresAt = invoiceExpiresAt(summary)
  if (expiresAt <= now) return 'invoice expired'
  const macaroon = readMacaroon(token)
  if (macaroon?.paymentHash && macaroon.paymentHash !== summary.paymentHash)
    return 'the invoice pays a different hash than the token commits to'
  const offer: Offer = {
    protocol: 'l402',
    version: params.version && /^[0-9]{1,3}$/.test(params.version) ? Number(params.version) : undefined,
    scheme: 'l402',
    network: summary.network,
    asset: { id: 'BTC', decimals: 11, symbol: 'BTC' },
    amount: summary.amount,
    payTo: summary.payee ?? summary.paymentHash,
    resource: url,
    expiresAt,
    method: {
      kind: 'bolt11',
      invoice: invoice.toLowerCase(),
      paymentHash: summary.paymentHash,
      amountMsat: summary.amount,
      network: summary.network,
      payee: summary.payee,
    },
    raw: challenge,
  }
  tokens.set(offer, token)
  return offer
}
