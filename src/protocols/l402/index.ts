import { PayfetchError } from '../../errors/PayfetchError.js'
import { describeOffer } from '../../offer/describeOffer.js'
import type { Offer } from '../../offer/Offer.js'
import type { SessionToken } from '../../sessions/SessionStore.js'
import type { Payment } from '../../signers/Signer.js'
import type { PaidReceipt, Protocol, Response402 } from '../Protocol.js'
import { decodeL402 } from './decode.js'
import { readMacaroon } from './readMacaroon.js'

/**
 * L402 (and legacy LSAT): a token and a BOLT11 invoice in `WWW-Authenticate`; the proof is
 * `Authorization: L402 <token as received>:<preimage>`, never the `LSAT` prefix (servers that check
 * for `L402 ` drop it after the user has paid). The token stays valid, so it is kept as a credential.
 */
export const l402: Protocol = {
  name: 'l402',
  decode: decodeL402,
  // The wallet pays the invoice before the server sees the proof.
  paysBeforeReplay: true,
  proofHeaders: authorization,
  receipt(_response: Response, offer: Offer, payment: Payment): PaidReceipt {
    const fee = (payment.payload as { feeMsat?: unknown } | undefined)?.feeMsat
    return {
      protocol: 'l402',
      network: offer.network,
      asset: offer.asset.id,
      amount: offer.amount,
      fee: typeof fee === 'bigint' ? fee : undefined,
      payTo: offer.payTo,
      reference: offer.extra.paymentHash as string,
    }
  },
  refusalReason(challenge: Response402): string | undefined {
    return challenge.body?.trim().slice(0, 200) || undefined
  },
  credential(offer: Offer, payment: Payment): SessionToken {
    return {
      protocol: 'l402',
      headers: authorization(offer, payment),
      expiresAt: readMacaroon(offer.extra.token as string)?.expiresAt,
    }
  },
}

function authorization(offer: Offer, payment: Payment): Record<string, string> {
  const preimage = (payment.payload as { preimage?: unknown } | undefined)?.preimage
  // The signer has paid by now: a preimage that cannot be sent leaves the outcome unknown.
  if (typeof preimage !== 'string' || !/^[0-9a-f]{64}$/.test(preimage))
    throw new PayfetchError(
      'PAYMENT_OUTCOME_UNKNOWN',
      'The Lightning signer returned no valid preimage; the invoice may have been paid.',
      {
        details: { ...describeOffer(offer), paymentHash: offer.extra.paymentHash },
      },
    )
  return { authorization: `L402 ${offer.extra.token}:${preimage}` }
}
