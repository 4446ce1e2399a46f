import type { CallBounds, Policy } from '../caps/policy.js'
import { PayfetchError } from '../errors/PayfetchError.js'
import { amountOf, networkOf, type PaymentMethod } from '../methods/PaymentMethod.js'
import { describeOffer } from '../offer/describeOffer.js'
import type { Offer } from '../offer/Offer.js'
import type { OfferCheck } from '../offer/SignedTerms.js'
import type { Protocol, Response402 } from '../protocols/Protocol.js'
import { messageOf } from '../protocols/x402/decode.js'
import { type MethodPayer, payerFor, type Signer } from '../signers/Signer.js'
import type { PayingContext } from './context.js'
import { decodeOffers } from './read402.js'

/** An offer with the protocol that decoded it, the signer that can pay it, and the caps' verdict. */
export type Candidate = {
  readonly offer: Offer
  readonly protocol: Protocol
  readonly signer?: Signer | undefined
  /** The signer's payer for the offer's method. */
  readonly payer?: MethodPayer | undefined
  readonly refusal?: PayfetchError | undefined
  /** What paying may cost at most, in the offer's atomic units: its amount plus the signer's fees. */
  readonly cost?: bigint | undefined
  /** The cost in nano-dollars, when payfetch could value it. */
  readonly nanoUsd?: bigint | undefined
  /** The check of the server's signed offer, when `signedTerms` had something to say. */
  readonly signed?: OfferCheck | undefined
}

/** A candidate that may be paid. */
export type Payable = Candidate & { readonly signer: Signer; readonly payer: MethodPayer; readonly offer: PayableOffer }

/** An offer with a method. */
export type PayableOffer = Offer & { readonly method: PaymentMethod }

/** The first signer that declares the offer's method and does not refuse it, or why there is none. */
function findPayer(
  offer: Offer,
  signers: readonly Signer[],
): { signer: Signer; payer: MethodPayer; method: PaymentMethod } | string {
  const { method } = offer
  if (!method) return `payfetch knows no payment method for ${offer.protocol} ${offer.scheme} on ${offer.network}.`
  // What the caps judge (the offer) must be what the signer pays (its method).
  if (amountOf(method) !== offer.amount || networkOf(method) !== offer.network)
    return `The ${method.kind} request does not match the offer's amount and network.`
  const reasons: string[] = []
  for (const signer of signers) {
    const payer: MethodPayer | undefined = payerFor(signer, method)
    if (!payer) continue
    const reason = payer.refusal?.(method)
    if (reason === undefined) return { signer, payer, method }
    reasons.push(`${signer.name}: ${reason}`)
  }
  return reasons.length > 0
    ? `No signer can pay this ${method.kind} offer on ${offer.network} (${reasons.join('; ')}).`
    : `No signer pays ${method.kind} (${offer.protocol} ${offer.scheme} on ${offer.network}).`
}

/**
 * Judges every offer: which signer can pay it and whether the caps allow it. Payable offers come
 * first, in the caller's `prefer` order of protocols, `authorization` flows before those that settle
 * first, then cheapest first; refused ones last.
 */
export async function judgeOffers(
  offers: readonly { offer: Offer; protocol: Protocol }[],
  signers: readonly Signer[],
  policy: Policy,
  options: {
    prefer?: readonly string[] | undefined
    bounds?: CallBounds | undefined
    signal?: AbortSignal | undefined
    /** The body the paid request would replay, for protocols that bind a payment to it. */
    body?: Uint8Array<ArrayBuffer> | undefined
    /** Checks the server's signed offer, before the caps (`signedTerms`). */
    checkOffer?: ((offer: Offer) => Promise<OfferCheck | undefined>) | undefined
  } = {},
): Promise<Candidate[]> {
  const judged = await Promise.all(
    offers.map(async ({ offer, protocol }): Promise<Candidate> => {
      const found = findPayer(offer, signers)
      if (typeof found === 'string')
        return { offer, protocol, refusal: new PayfetchError('NO_SIGNER', found, { details: describeOffer(offer) }) }
      const mismatch = await protocol.checkRequest?.(offer, options.body)
      if (mismatch)
        return {
          offer,
          protocol,
          refusal: new PayfetchError('CHALLENGE_INVALID', `The ${protocol.name} offer cannot be paid: ${mismatch}.`, {
            details: describeOffer(offer),
          }),
        }
      const { signer, payer, method } = found
      // A check that fails denies, as every hook does.
      const signed = await options
        .checkOffer?.(offer)
        .catch((): OfferCheck => ({ verified: false, refuse: true, reason: 'the signature check failed' }))
      if (signed?.refuse)
        return {
          offer,
          protocol,
          signer,
          payer,
          signed,
          refusal: new PayfetchError('OFFER_UNVERIFIED', `Signed offer not verified: ${signed.reason}.`, {
            details: describeOffer(offer),
          }),
        }
      const fee = payer.maxFee?.(method) ?? 0n
      return {
        offer,
        protocol,
        signer,
        payer,
        signed,
        cost: offer.amount + fee,
        ...(await policy.judge(offer, { bounds: options.bounds, fee, signal: options.signal })),
      }
    }),
  )
  if (judged.length < 2) return judged
  const prefer = options.prefer ?? []
  // The caller's protocols first; within each, offers that settle after the work (authorization).
  const rank = (candidate: Candidate) => {
    const index = prefer.indexOf(candidate.offer.protocol)
    const settlesFirst = candidate.offer.flow === 'upfront' || candidate.offer.flow === 'escrow' ? 1 : 0
    return (index < 0 ? prefer.length : index) * 2 + settlesFirst
  }
  const payable = judged.filter((candidate) => !candidate.refusal)
  const ranks = [...new Set(payable.map(rank))].sort((a, b) => a - b)
  return [
    ...ranks.flatMap((value) => cheapestFirst(payable.filter((candidate) => rank(candidate) === value))),
    ...cheapestFirst(judged.filter((candidate) => candidate.refusal)),
  ]
}

/**
 * The best payable candidate.
 *
 * @throws {PayfetchError} the refusal of the most promising offer when none is payable: a cap
 * refusal wins over `NO_SIGNER`, so the caller sees the limit that stopped the payment.
 */
export function pickOffer(candidates: readonly Candidate[]): Payable {
  const best = candidates[0]
  if (best?.signer && !best.refusal) return best as Payable
  const capRefusal = candidates.find((candidate) => candidate.signer)?.refusal
  const refusal = capRefusal ?? best?.refusal ?? new PayfetchError('CHALLENGE_INVALID', 'The 402 carried no offer.')
  throw new PayfetchError(refusal.code, refusal.shortMessage, {
    details: {
      ...refusal.details,
      offers: candidates.map((candidate) => ({ ...describeOffer(candidate.offer), refusal: candidate.refusal?.code })),
    },
    cause: refusal.cause,
  })
}

// Valued offers compare in USD; others only against offers in the same asset. One sort whose
// comparator answers 0 for incomparable pairs is not transitive (USDC $0.05, token X, USDC $0.03
// would keep that order), so each comparable group is sorted within the positions it holds and
// incomparable offers keep the server's order.
function cheapestFirst(candidates: readonly Candidate[]): Candidate[] {
  if (candidates.length < 2) return [...candidates]
  const groups = new Map<string, number[]>()
  candidates.forEach((candidate, index) => {
    const key = costGroup(candidate)
    groups.set(key, [...(groups.get(key) ?? []), index])
  })
  const sorted = [...candidates]
  for (const indices of groups.values()) {
    const members = indices.map((index) => candidates[index] as Candidate).sort((a, b) => sign(costOf(a) - costOf(b)))
    indices.forEach((slot, position) => {
      sorted[slot] = members[position] as Candidate
    })
  }
  return sorted
}

function costGroup({ offer, nanoUsd }: Candidate): string {
  if (nanoUsd !== undefined) return 'usd'
  return JSON.stringify([
    offer.network,
    offer.network.startsWith('eip155:') ? offer.asset.id.toLowerCase() : offer.asset.id,
  ])
}

const costOf = (candidate: Candidate) => candidate.nanoUsd ?? candidate.cost ?? candidate.offer.amount
const sign = (value: bigint) => (value > 0n ? 1 : value < 0n ? -1 : 0)

/**
 * Judges a 402 for this paying fetch: the host first, then every offer of every protocol.
 *
 * @throws {PayfetchError} `HOST_NOT_ALLOWED`, or `CHALLENGE_INVALID` when nothing decodes.
 */
export async function judgeChallenge(
  context: PayingContext,
  response: Response402,
  request: {
    readonly url: string
    readonly body: Uint8Array<ArrayBuffer> | undefined
    readonly signal: AbortSignal | undefined
  },
  bounds: CallBounds,
): Promise<Candidate[]> {
  const hostRefusal = context.policy.checkHost(new URL(request.url))
  if (hostRefusal) throw hostRefusal
  const { signedTerms, fetch } = context
  return judgeOffers(decodeOffers(context.protocols, response), context.signers, context.policy, {
    prefer: context.prefer,
    bounds,
    body: request.body,
    signal: request.signal,
    checkOffer:
      signedTerms &&
      ((offer) => {
        const message = messageOf(offer)
        return signedTerms.checkOffer({
          offer,
          url: request.url,
          extensions: message?.extensions,
          accepts: message?.accepts,
          fetch,
          signal: request.signal,
        })
      }),
  })
}
