import type { MethodKind, MethodProof } from '../../methods/PaymentMethod.js'
import type { Offer } from '../../offer/Offer.js'
import { decodeBase64UrlJson, encodeBase64UrlJson } from '../../utils/base64.js'
import { isRecord, isShortString, parseJson } from '../../utils/guards.js'
import { withFields } from '../../utils/withFields.js'
import type { Protocol, Response402 } from '../Protocol.js'
import { challengeOf, decodePayment } from './decodePayment.js'
import { matchesDigest } from './matchesDigest.js'

// The `method/intent` pair each payment method answers, for `Accept-Payment` (x402-only methods have none).
const acceptable: Readonly<Partial<Record<MethodKind, string>>> = {
  eip3009: 'evm/charge',
  'tempo-transfer': 'tempo/charge',
  bolt11: 'lightning/charge',
  'spl-transfer': 'solana/charge',
}

/**
 * The IETF `Payment` HTTP authentication scheme (draft-httpauth-payment, "MPP"), `charge` intent:
 * challenges in `WWW-Authenticate: Payment …`, the credential in `Authorization: Payment <base64url
 * JSON>` (or the header the challenge names) echoing the challenge, the receipt in `Payment-Receipt`,
 * refusals as RFC 9457 problem details on a 402 or 403.
 */
export const payment: Protocol = {
  name: 'payment',
  decode: decodePayment,
  acceptHeaders(kinds) {
    const pairs = [...new Set([...kinds].flatMap((kind) => acceptable[kind] ?? []))]
    return pairs.length > 0 ? { 'accept-payment': pairs.join(', ') } : undefined
  },
  proofHeaders(offer: Offer, proof: MethodProof): Record<string, string> {
    const found = challengeOf(offer)
    if (!found) throw new TypeError('The offer did not come from a Payment challenge.')
    const { challenge, header } = found
    // Echo exactly what was received: the id is an HMAC over these values.
    const echo = Object.fromEntries(Object.entries(challenge).filter(([, value]) => value !== undefined))
    const chainId = offer.method && 'chainId' in offer.method ? offer.method.chainId : undefined
    const source = chainId !== undefined && 'payer' in proof ? `did:pkh:eip155:${chainId}:${proof.payer}` : undefined
    const credential = { challenge: echo, payload: payloadOf(proof), ...(source && { source }) }
    return { [header]: `Payment ${encodeBase64UrlJson(credential)}` }
  },
  settlement(response: Response) {
    const header = response.headers.get('payment-receipt')
    const receipt = header !== null && header.length <= 16 * 1024 ? decodeBase64UrlJson(header) : undefined
    if (!isRecord(receipt)) return undefined
    return {
      success: receipt.status === 'success',
      reference: isShortString(receipt.reference, 512) ? receipt.reference : undefined,
    }
  },
  refusalReason(response: Response402): string | undefined {
    // RFC 9457 problem details: the detail, else the title, and the type a program tells refusals apart by.
    const problem = parseJson(response.body ?? '')
    if (!isRecord(problem)) return undefined
    const text = isShortString(problem.detail, 512) ? problem.detail : problem.title
    const type = isShortString(problem.type, 256) && problem.type !== 'about:blank' ? problem.type : undefined
    if (!isShortString(text, 512)) return type
    return type ? `${text} (${type})` : text
  },
  refuses: (status) => status === 402 || status === 403,
  async checkRequest(offer, body) {
    // RFC 9530: a challenge bound to the body is paid only for that body.
    const digest = challengeOf(offer)?.challenge.digest
    return digest === undefined || (await matchesDigest(digest, body))
      ? undefined
      : 'the request body does not have the digest the challenge names'
  },
}

/** The method's credential payload, as the method drafts define it. */
function payloadOf(proof: MethodProof): Record<string, string> {
  switch (proof.kind) {
    case 'eip3009':
      return withFields({ type: 'authorization', ...proof.authorization }, { signature: proof.signature })
    case 'tempo-transfer':
      return { type: 'transaction', signature: proof.transaction }
    case 'spl-transfer':
      return { type: 'transaction', transaction: proof.transaction }
    case 'bolt11':
      return { preimage: proof.preimage }
    default:
      throw new TypeError(`The Payment scheme carries no ${proof.kind} proof.`)
  }
}
