/** What payfetch knows about one payment after the server answered the paid request. */
export type Receipt = {
  readonly protocol: string
  /** CAIP-2 network id. */
  readonly network: string
  /** Asset id (contract address, mint, …). */
  readonly asset: string
  /** Amount paid, in atomic units of `asset`. */
  readonly amount: bigint
  /** Fees paid on top of `amount` (Lightning routing), when the wallet reported them. */
  readonly fee?: bigint | undefined
  readonly payTo: string
  readonly payer?: string | undefined
  /** Settlement reference: a transaction hash or signature, or a Lightning payment hash. */
  readonly reference?: string | undefined
  /**
   * Fields of the server's settlement report that contradicted the payment (an exact charge
   * reported as another amount, another network, a piece of the proof as the reference) and were
   * not used; the receipt shows what payfetch paid instead.
   */
  readonly ignored?: readonly ('amount' | 'reference' | 'payer' | 'network')[] | undefined
  /**
   * `'not-visible'`: a page could not read the server's settlement report. The paid answer came
   * from another origin without `PAYMENT-RESPONSE` / `Payment-Receipt` in its
   * `Access-Control-Expose-Headers`, or it was a redirect, which a browser hands back unreadable
   * (`opaqueredirect`). The receipt then holds only what payfetch knows itself: the amount
   * authorized, and a `reference` only when known before the answer (a Lightning payment hash),
   * never a guessed one. Absent when the report was readable or the protocol has none (L402).
   */
  readonly settlement?: 'not-visible' | undefined
  /**
   * What the server signed about this payment (x402 `offer-receipt`), when a `signedTerms` check
   * ran and the server signed something: `offer` / `receipt` say whether its signed offer and its
   * signed receipt verified (valid signature, authorized signer, the terms that were paid), absent
   * when it sent none. `signer` is who signed what verified; `problems` say why the rest did not.
   * A receipt that fails is flagged here, never trusted.
   */
  readonly verified?: ReceiptVerification | undefined
  /** The URL of the paid resource. */
  readonly url: string
  /** Unix time in milliseconds when the paid response arrived. */
  readonly time: number
}

/**
 * Whether what the server signed about a payment verified (x402 `offer-receipt`): a valid signature,
 * by a signer authorized for the resource, over the terms that were paid.
 */
export type ReceiptVerification = {
  /** The server's signed offer for what was paid; absent when it signed none. */
  readonly offer?: boolean | undefined
  /** The signed receipt in its settlement report; absent when it sent none. */
  readonly receipt?: boolean | undefined
  /** Who signed what verified: an EVM address or a key id (DID URL). */
  readonly signer?: string | undefined
  /** Why the rest did not verify. */
  readonly problems?: readonly string[] | undefined
}

// One registry per realm, shared by every copy of payfetch loaded (its ESM and CJS builds, each
// subpath's CJS bundle, a bundled CLI): a receipt attached by one is read by all.
const registry = Symbol.for('payfetch.receipts')
// A receipt may be kept as the function that builds it: most callers never read theirs.
const realm = globalThis as { [registry]?: WeakMap<Response, Receipt | (() => Receipt)> }
realm[registry] ??= new WeakMap()
const receipts = realm[registry]

/** @internal */
export function attachReceipt(response: Response, receipt: Receipt | (() => Receipt)): void {
  receipts.set(response, receipt)
}

/**
 * The receipt of the payment that produced `response`, or `undefined` when the response was not
 * paid for by payfetch.
 *
 * @example
 * ```ts
 * import { createPayingFetch, getReceipt } from 'payfetch'
 *
 * const response = await createPayingFetch({ signers })('https://api.example.com/report')
 * console.log(getReceipt(response)?.reference) // the settlement transaction hash
 * ```
 */
export function getReceipt(response: Response): Receipt | undefined {
  const kept = receipts.get(response)
  if (typeof kept !== 'function') return kept
  const receipt = kept()
  receipts.set(response, receipt)
  return receipt
}
