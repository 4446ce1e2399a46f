/**
 * Anything that pays a BOLT11 invoice and hands back its preimage: `nwc(uri)`, `lnd(…)`,
 * `coreLightning(…)`, `lnbits(…)`, `webln()`, or your own object.
 *
 * Errors decide what payfetch reports. Throw `PayfetchError('PAYMENT_FAILED', …)` only when you
 * know nothing was paid (the wallet refused before sending, or reported a terminal failure);
 * `PayfetchError('PAYMENT_OUTCOME_UNKNOWN', …)` or any other error means the invoice may have been
 * paid, and payfetch never pays it again on its own.
 *
 * @example
 * ```ts
 * import type { LightningWallet } from 'payfetch/lightning'
 *
 * const wallet: LightningWallet = {
 *   name: 'my-node',
 *   async payInvoice(invoice, { maxFeeMsat, signal }) {
 *     const { preimage, feeMsat } = await myNode.pay({ invoice, maxFeeMsat, signal })
 *     return { preimage, feeMsat }
 *   },
 * }
 * ```
 */
export type LightningWallet = {
  /** A short name for errors, e.g. `lnd`. */
  readonly name?: string | undefined
  payInvoice(invoice: string, options: PayInvoiceOptions): Promise<PaidInvoice>
  /**
   * What the wallet knows of an outgoing payment, by payment hash, for wallets that can look one
   * up (`nwc()`, `lnd()`, `coreLightning()`, `lnbits()`; WebLN has no such call). `resume` asks it
   * for a payment whose answer was never kept, and never pays that invoice again. Report `failed`
   * only for a final failure: a payment the wallet does not know may still be on its way. Throwing
   * means the wallet cannot say.
   */
  lookupPayment?(paymentHash: string, options: LookupPaymentOptions): Promise<PaymentStatus>
}

/** What payfetch tells the wallet about one lookup. */
export type LookupPaymentOptions = {
  /** Aborts when the signer's timeout passes. */
  readonly signal: AbortSignal
  /** How long the backend may take, in seconds. */
  readonly timeoutSeconds: number
}

/**
 * An outgoing payment as the wallet reports it: `paid` with its preimage, `failed` (nothing left
 * the wallet, for good), or `pending` (in flight, or not known to the wallet: it may still pay).
 */
export type PaymentStatus =
  | { readonly status: 'paid'; readonly preimage: string; readonly feeMsat?: bigint | undefined }
  | { readonly status: 'failed' }
  | { readonly status: 'pending' }

/** What payfetch tells the wallet about one payment. */
export type PayInvoiceOptions = {
  /** The most the routing fee may cost, in millisatoshis. */
  readonly maxFeeMsat: bigint
  /** Aborts when the signer's timeout passes or the caller aborts the request. */
  readonly signal: AbortSignal
  /** How long the backend may try, in seconds (a little less than the signer's own timeout). */
  readonly timeoutSeconds: number
  /** The invoice's payment hash (64 hex characters), to look the payment up or report it. */
  readonly paymentHash: string
  /** The invoice's amount in millisatoshis, already checked against the offer. */
  readonly amountMsat: bigint
}

/** What a wallet reports for a settled payment. */
export type PaidInvoice = {
  /** The payment preimage as hex; payfetch checks `sha256(preimage) == payment_hash`. */
  readonly preimage: string
  /** The routing fee paid, in millisatoshis, when the wallet reports it. */
  readonly feeMsat?: bigint | undefined
}
