import { PayfetchError } from '../../errors/PayfetchError.js'
import type { MethodProof } from '../../methods/PaymentMethod.js'
import { describeOffer } from '../../offer/describeOffer.js'
import type { Offer } from '../../offer/Offer.js'
import type { SessionToken } from '../../sessions/SessionStore.js'
import type { Protocol, Response402 } from '../Protocol.js'
import { decodeL402, tokenOf } from './decode.js'
import { readMacaroon } from './readMacaroon.js'

/**
 * L402 (and legacy LSAT): a token and a BOLT11 invoice in `WWW-Authenticate`; the proof is
 * `Authorization: L402 <token as received>:<preimage>`, never the `LSAT` prefix (servers that check
 * for `L402 ` drop it after the user has paid). The token stays valid, so it is kept as a session token.
 */
export const l402: Protocol = {
  name: 'l402',
  decode: decodeL402,
  proofHeaders: authorization,
  refusalReason(response: Response402): string | undefined {
    return response.body?.trim().slice(0, 200) || undefined
  },
  sessionToken(offer: Offer, proof: MethodProof): SessionToken {
    return {
      protocol: 'l402',
      headers: authorization(offer, proof),
      expiresAt: readMacaroon(tokenOf(offer) ?? '')?.expiresAt,
    }
  },
}

function authorization(offer: Offer, proof: MethodProof): Record<string, string> {
  const token = tokenOf(offer)
  const preimage = proof.kind === 'bolt11' ? proof.preimage : undefined
  // The wallet has paid by now: a preimage that cannot be sent leaves the outcome unknown.
  if (token === undefined || preimage === undefined || !/^[0-9a-f]{64}$/.test(preimage))
    throw new PayfetchError(
      'PAYMENT_OUTCOME_UNKNOWN',
      'The Lightning signer returned no valid preimage; the invoice may have been paid.',
      {
        details: {
          ...describeOffer(offer),
          paymentHash: offer.method?.kind === 'bolt11' ? offer.method.paymentHash : undefined,
        },
      },
    )
  return { authorization: `L402 ${token}:${preimage}` }
}
