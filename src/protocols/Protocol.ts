import type { Offer } from '../offer/Offer.js'
import type { Receipt } from '../receipts/Receipt.js'
import type { SessionToken } from '../sessions/SessionStore.js'
import type { Payment } from '../signers/Signer.js'

/**
 * A 402 response as the protocols read it: headers and a size-capped body read once. Each protocol
 * finds its own challenges in it (an x402 message, `WWW-Authenticate` challenges).
 */
export type Response402 = {
  /** The URL that answered 402. */
  readonly url: string
  readonly headers: Headers
  /** The body text, or `undefined` when it was larger than the cap. */
  readonly body: string | undefined
}

/**
 * A payment protocol: reads offers from a 402, writes the proof onto the replay, reads the receipt
 * from the paid response. It knows nothing about caps or signers.
 */
export type Protocol = {
  readonly name: string
  /** The offers this protocol finds in the challenge; `[]` when it is not spoken there. */
  decode(challenge: Response402): Offer[]
  /**
   * True when the money moves as the signer pays (a Lightning invoice), before the server sees
   * the proof; false when the server settles what the proof authorises (x402).
   */
  readonly paysBeforeReplay?: boolean | undefined
  /** The request headers that carry the proof for `offer`. */
  proofHeaders(offer: Offer, payment: Payment, context: ProofContext): Record<string, string>
  /** The receipt for a paid (non-402) response; the loop adds the URL and time. */
  receipt(response: Response, offer: Offer, payment: Payment): PaidReceipt
  /** Why the server refused a proof, read from the 402 that answered it. */
  refusalReason(challenge: Response402): string | undefined
  /**
   * The credential to keep after a paid response, for protocols whose proof stays valid (L402
   * tokens). Protocols without one pay every request (x402).
   */
  credential?(offer: Offer, payment: Payment): SessionToken | undefined
}

/** A receipt as a protocol reads it, before the loop stamps the URL and time. */
export type PaidReceipt = Omit<Receipt, 'url' | 'time'>

/** What the loop knows about the call a proof is for. */
export type ProofContext = {
  /** Stable for one logical call and its retries; protocols with an idempotency field reuse it. */
  readonly idempotencyKey: string
}
