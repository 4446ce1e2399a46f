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
  /** The URL of the paid resource. */
  readonly url: string
  /** Unix time in milliseconds when the paid response arrived. */
  readonly time: number
}

// One registry per realm, shared by every copy of payfetch loaded (its ESM and CJS builds, each
// subpath's CJS bundle, a bundled CLI): a receipt attached by one is read by all.
const registry = Symbol.for('payfetch.receipts')
const realm = globalThis as { [registry]?: WeakMap<Response, Receipt> }
realm[registry] ??= new WeakMap()
const receipts = realm[registry]

/** @internal */
export function attachReceipt(response: Response, receipt: Receipt): void {
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
  return receipts.get(response)
}
