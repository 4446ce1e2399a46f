import type { Receipt, ReceiptVerification } from '../receipts/Receipt.js'
import type { Offer } from './Offer.js'

/**
 * Checks what a server signed about a payment (the x402 `offer-receipt` extension): its signed
 * offer before anything is reserved, its signed receipt after the paid answer. The crypto lives in
 * `payfetch/offer-receipt` (`offerReceipt()`), so a fetch that never checks bundles none of it.
 */
export type SignedTerms = {
  /**
   * The check of `offer`'s signed terms, or `undefined` when there is nothing to say (no signed
   * offer, checking off). `refuse: true` keeps the offer from being paid (`OFFER_UNVERIFIED`).
   */
  checkOffer(input: SignedOfferInput): Promise<OfferCheck | undefined>
  /**
   * What verified about a paid payment: the offer's check (made before paying) and the signed
   * receipt in the paid answer's settlement report; `undefined` when the server signed neither.
   */
  checkReceipt(input: SignedReceiptInput): Promise<ReceiptVerification | undefined>
}

/** What the offer check sees: one decoded offer and the x402 message it came from. */
export type SignedOfferInput = {
  readonly offer: Offer
  /** The URL that answered 402. */
  readonly url: string
  /** The x402 message's `extensions` and `accepts` (absent for other protocols). */
  readonly extensions?: unknown
  readonly accepts?: readonly unknown[] | undefined
  /** The paying fetch's own `fetch`, for a key lookup at the 402's origin. */
  readonly fetch: typeof fetch
  readonly signal?: AbortSignal | undefined
}

/** What the receipt check sees: what was paid, and the settlement report's `extensions`. */
export type SignedReceiptInput = {
  /** The resource the offer named (x402 `resource.url`); absent for a resumed payment, whose receipt's `url` stands in. */
  readonly resource?: string | undefined
  /** The offer's check, made before paying; absent for a resumed payment. */
  readonly offerCheck?: OfferCheck | undefined
  readonly receipt: Receipt
  /** Who paid, as this call signed it (the receipt's `payer` may come from the server's report). */
  readonly payer?: string | undefined
  readonly extensions: unknown
  readonly fetch: typeof fetch
  readonly signal?: AbortSignal | undefined
}

/** Whether a signed artifact verified: a valid signature by an authorized key over the terms paid. */
export type SignatureCheck = {
  readonly verified: boolean
  /** Who signed: an EVM address or a key id (DID URL); present when the signature was valid. */
  readonly signer?: string | undefined
  /** Why it did not verify. */
  readonly reason?: string | undefined
}

/** An offer's check; `refuse` keeps it from being paid. */
export type OfferCheck = SignatureCheck & { readonly refuse?: boolean | undefined }
