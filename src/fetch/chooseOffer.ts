import type { Policy } from '../caps/policy.js'
import { findKnownAsset } from '../caps/knownAssets.js'
import { PayfetchError } from '../errors/PayfetchError.js'
import { describeOffer } from '../offer/describeOffer.js'
import type { Offer } from '../offer/Offer.js'
import type { Protocol } from '../protocols/Protocol.js'
import type { Signer } from '../signers/Signer.js'

/** An offer with the protocol that decoded it and, when one can pay it, the signer. */
export type Candidate = { readonly offer: Offer; readonly protocol: Protocol; readonly signer?: Signer | undefined; readonly refusal?: PayfetchError | undefined }

/**
 * Judges every offer: which signer can pay it and whether the caps allow it. Payable offers come
 * first, cheapest first (in USD when priceable), then the server's order.
 */
export function judgeOffers(offers: readonly { offer: Offer; protocol: Protocol }[], signers: readonly Signer[], policy: Policy): Candidate[] {
  const judged = offers.map(({ offer, protocol }): Candidate => {
    const signer = signers.find((candidate) => candidate.canPay(offer))
    if (!signer)
      return { offer, protocol, refusal: new PayfetchError('NO_SIGNER', `No signer can pay ${offer.protocol} ${offer.scheme} on ${offer.network}.`, { details: describeOffer(offer) }) }
    return { offer, protocol, signer, refusal: policy.checkOffer(offer) }
  })
  const rank = (candidate: Candidate) => (candidate.refusal ? 1 : 0)
  return judged.sort((a, b) => rank(a) - rank(b) || compareCost(a.offer, b.offer))
}

/**
 * The best payable candidate.
 *
 * @throws {PayfetchError} the refusal of the most promising offer when none is payable: a cap
 * refusal wins over `NO_SIGNER`, so the caller sees the limit that stopped the payment.
 */
export function pickOffer(candidates: readonly Candidate[]): Candidate & { signer: Signer } {
  const best = candidates[0]
  if (best?.signer && !best.refusal) return best as Candidate & { signer: Signer }
  const capRefusal = candidates.find((candidate) => candidate.signer)?.refusal
  const refusal = capRefusal ?? best?.refusal ?? new PayfetchError('CHALLENGE_INVALID', 'The 402 carried no offer.')
  throw new PayfetchError(refusal.code, refusal.shortMessage, {
    details: { ...refusal.details, offers: candidates.map((candidate) => ({ ...describeOffer(candidate.offer), refusal: candidate.refusal?.code })) },
  })
}

// Offers in known stablecoins compare by USD value; others only against the same asset.
function compareCost(a: Offer, b: Offer): number {
  const knownA = findKnownAsset(a.network, a.asset.id)
  const knownB = findKnownAsset(b.network, b.asset.id)
  if (knownA && knownB) return sign(a.amount * 10n ** BigInt(knownB.decimals) - b.amount * 10n ** BigInt(knownA.decimals))
  if (a.network === b.network && a.asset.id === b.asset.id) return sign(a.amount - b.amount)
  return 0
}

const sign = (value: bigint) => (value > 0n ? 1 : value < 0n ? -1 : 0)
