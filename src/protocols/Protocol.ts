import type { MethodKind, MethodProof } from '../methods/PaymentMethod.js'
import type { Offer } from '../offer/Offer.js'
import type { SessionToken } from '../sessions/SessionStore.js'

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
  /**
   * When the 402 arrived (Unix ms): expiries are judged at this time. Default now; a resumed
   * payment reads its kept challenge as of when it was paid.
   */
  readonly at?: number | undefined
}

/**
 * A payment protocol (an envelope): reads offers from a 402, each carrying a typed payment method;
 * writes a signer's proof onto the replay; reads the settlement report from the paid response. It
 * knows nothing about caps or signers.
 */
export type Protocol = {
  readonly name: string
  /** The offers this protocol finds in the 402; `[]` when it is not spoken there. */
  decode(response: Response402): Offer[]
  /**
   * Headers announcing what the client can pay, sent with every request to an origin that may
   * see them (the `Payment` scheme's `Accept-Payment`).
   */
  acceptHeaders?(kinds: ReadonlySet<MethodKind>): Readonly<Record<string, string>> | undefined
  /** The request headers that carry the proof for `offer`. */
  proofHeaders(offer: Offer, proof: MethodProof, context: ProofContext): Record<string, string>
  /** What the paid response reports about settlement, when this protocol has a report. */
  settlement?(response: Response): SettlementReport | undefined
  /**
   * Why the request cannot be paid for as the offer asks, before anything is signed (a `Payment`
   * challenge's body digest that the replayed body does not have); `undefined` when it can.
   */
  checkRequest?(offer: Offer, body: Uint8Array<ArrayBuffer> | undefined): Promise<string | undefined>
  /** Why the server refused a proof, read from the response that answered it. */
  refusalReason(response: Response402): string | undefined
  /** Whether a status answering a proof refuses it (never paid again). Default: only 402. */
  refuses?(status: number): boolean
  /**
   * The token to keep after a paid response, for protocols whose proof stays valid (L402).
   * Protocols without one pay every request (x402).
   */
  sessionToken?(offer: Offer, proof: MethodProof): SessionToken | undefined
  /**
   * Combines this protocol with another of the same name that a signer brings (x402 variants that
   * decode more offers). Without it, the protocol a signer brings replaces the default one.
   */
  merge?(other: Protocol): Protocol
}

/** What a server says about the settlement of a paid request. Checked against the payment before it is trusted. */
export type SettlementReport = {
  readonly success: boolean
  /** A transaction hash or signature. */
  readonly reference?: string | undefined
  /** CAIP-2 network id. */
  readonly network?: string | undefined
  readonly payer?: string | undefined
  /** The amount settled, when the server reports one (`upto`). */
  readonly amount?: bigint | undefined
  /** The protocol's extensions to the report (x402 `extensions`), unchecked. */
  readonly extensions?: unknown
  /** A payment channel's charge: this call's and the channel's total, as the server reports them. */
  readonly channel?:
    | {
        readonly charged?: bigint | undefined
        readonly cumulative?: bigint | undefined
        readonly id?: string | undefined
      }
    | undefined
}

/** What the loop knows about the call a proof is for. */
export type ProofContext = {
  /** Stable for one logical call and its retries; protocols with an idempotency field reuse it. */
  readonly idempotencyKey: string
}
