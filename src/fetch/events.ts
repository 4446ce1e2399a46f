import type { PayfetchError } from '../errors/PayfetchError.js'
import type { Offer } from '../offer/Offer.js'
import type { OfferCheck } from '../offer/SignedTerms.js'
import type { Receipt } from '../receipts/Receipt.js'
import type { SignerReport } from '../signers/Signer.js'

/** What payfetch reports while it works; none of it contains a proof, signature or key. */
export type PayfetchEvent =
  /** A 402 arrived and was decoded. */
  | { readonly type: 'challenge'; readonly url: string; readonly offers: readonly Offer[] }
  /**
   * An offer passed the caps and goes to a signer; `signed` is the check of the server's signed
   * offer for it (`signedTerms`), when there was one: `verified: false` says why it did not verify.
   */
  | {
      readonly type: 'offer.chosen'
      readonly url: string
      readonly offer: Offer
      readonly signer: string
      readonly signed?: OfferCheck | undefined
    }
  /** A proof was sent with the replayed request. */
  | { readonly type: 'payment.sent'; readonly url: string; readonly offer: Offer; readonly idempotencyKey: string }
  /** The paid request succeeded. */
  | { readonly type: 'receipt'; readonly receipt: Receipt }
  /** Nothing was paid: every offer was refused (caps, signers, a bad challenge). */
  | { readonly type: 'refusal'; readonly url: string; readonly error: PayfetchError }
  /** A payment failed or was rejected, or its outcome is unknown. */
  | { readonly type: 'payment.failed'; readonly url: string; readonly error: PayfetchError }
  /**
   * Bookkeeping after the server answered failed (a ledger commit, a session token kept): the
   * response is still returned; `error.details.paid` says what the money did.
   */
  | { readonly type: 'store.failed'; readonly url: string; readonly error: PayfetchError }
  /**
   * A signer sent an on-chain approval before paying (`evm({ approvePermit2 })`): never silent. It
   * spent the payer's gas, not the token.
   */
  | SignerReport
  /**
   * A sign-in-with-x signature answered the 402 (`siwx.accepted`: the server did not ask for
   * payment again; nothing was paid, nothing reserved, and the response has no receipt) or did not
   * (`siwx.declined`: a 402 again, which the call then pays once as usual).
   */
  | {
      readonly type: 'siwx.accepted' | 'siwx.declined'
      readonly url: string
      /** The address that signed in. */
      readonly address: string
      /** CAIP-2 chain the message was signed for. */
      readonly chainId: string
      readonly status: number
    }
  /** An entitlement existed but nothing was signed (a check refused the challenge); the call pays as usual. */
  | { readonly type: 'siwx.skipped'; readonly url: string; readonly reason: string }
  /** The wallet reported a fee above the limit the caps counted; the ledger counts what it spent. */
  | { readonly type: 'fee.exceeded'; readonly url: string; readonly limit: bigint; readonly fee: bigint }
