/**
 * Every failure payfetch reports carries one of these codes. Callers branch on the code, never on
 * the message.
 */
export type ErrorCode =
  /** The 402 could not be decoded: malformed, oversized or contradictory. Nothing was paid. */
  | 'CHALLENGE_INVALID'
  /** No configured signer can pay any offer of the 402. Nothing was paid. */
  | 'NO_SIGNER'
  /** Every payable offer costs more than a per-request limit. Nothing was paid. */
  | 'CAP_EXCEEDED'
  /** The host asking for payment is not allowed by `caps.hosts`. Nothing was paid. */
  | 'HOST_NOT_ALLOWED'
  /** The offer's network is not allowed by `caps.networks`. Nothing was paid. */
  | 'NETWORK_NOT_ALLOWED'
  /**
   * The offer settles before the server does the work (`upfront`, `escrow`) and `caps.flows` does
   * not allow that flow. Nothing was paid.
   */
  | 'FLOW_NOT_ALLOWED'
  /** The offer's asset is unknown or not in `caps.assets`. Nothing was paid. */
  | 'ASSET_NOT_ALLOWED'
  /** A USD limit applies but the asset has no USD value (no `rates` for it). Nothing was paid. */
  | 'UNPRICEABLE'
  /** A rolling budget has no room left for this payment. Nothing was paid. */
  | 'BUDGET_EXHAUSTED'
  /**
   * Signed offers are required (`offerReceipt({ offers: 'require' })`) and the offer has none that
   * verifies: missing, a bad signature, a signer not authorized for the resource, or signed terms
   * other than the 402's. Nothing was paid.
   */
  | 'OFFER_UNVERIFIED'
  /** The `approve` hook said no (or failed). Nothing was paid. */
  | 'APPROVAL_DENIED'
  /**
   * Permit2 may not move the token for the payer yet and no way to grant it was offered (server gas
   * sponsoring) or configured (`evm({ approvePermit2 })`). Nothing was signed.
   */
  | 'ALLOWANCE_REQUIRED'
  /** The signer or wallet failed before a proof left this process. Nothing was paid. */
  | 'PAYMENT_FAILED'
  /** The server answered 402 again after receiving a proof: it refused the payment. */
  | 'PAYMENT_REJECTED'
  /** The proof was sent but no answer came back: the payment may or may not have settled. */
  | 'PAYMENT_OUTCOME_UNKNOWN'
  /**
   * Another call or process holds this payment now: it is resending this pending payment (a
   * claim, until `details.until`), or paying this origin for a token all may reuse. Nothing was
   * paid by this call; try again later, never pay around it.
   */
  | 'PAYMENT_IN_PROGRESS'
  /** The request body is larger than `maxBodyBytes` and cannot be replayed. Nothing was paid. */
  | 'REQUEST_TOO_LARGE'
  /** A redirect could not be followed safely (too many hops, or not allowed by `redirect`). */
  | 'REDIRECT_REFUSED'
  /**
   * A ledger or session store failed. `details.paid` says whether money moved (`false`,
   * `'unknown'`, or `true` when the wallet had paid before the store failed).
   */
  | 'STORE_FAILED'
  /** A discovery listing (`discover()`) did not answer, or not with a listing payfetch can read. Nothing was paid. */
  | 'DISCOVERY_FAILED'
  /**
   * An x402 payment channel's server contradicted what was signed (a charge above the price,
   * another channel, totals that do not add up, a forged voucher): the channel is set aside, nothing
   * more is signed on it; refund it.
   */
  | 'CHANNEL_INVALID'
  /** The options given to payfetch are not usable. */
  | 'INVALID_OPTIONS'

const brand = Symbol.for('payfetch.error')

/**
 * The one error class payfetch throws. `code` is stable; `details` holds safe, structured context
 * (never a signature, key or proof); `cause` keeps the underlying error.
 *
 * @example
 * ```ts
 * import { createPayingFetch, PayfetchError } from 'payfetch'
 *
 * try {
 *   await createPayingFetch({ signers: [] })('https://api.example.com/report')
 * } catch (error) {
 *   if (error instanceof PayfetchError && error.code === 'NO_SIGNER') console.log(error.details)
 * }
 * ```
 */
export class PayfetchError extends Error {
  override name = 'PayfetchError'
  readonly code: ErrorCode
  /** The message without the code prefix. */
  readonly shortMessage: string
  readonly details: Readonly<Record<string, unknown>>
  /**
   * For `PAYMENT_OUTCOME_UNKNOWN`: sends the same proof bytes again (never a new signature) and
   * resolves to the paid response, so a caller can finish the call without paying twice.
   */
  resume?: (() => Promise<Response>) | undefined

  constructor(code: ErrorCode, shortMessage: string, options: PayfetchError.Options = {}) {
    super(`[${code}] ${shortMessage}`, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.shortMessage = shortMessage
    this.details = options.details ?? {}
  }

  /** Recognises payfetch errors from another copy of the package (CJS next to ESM, bundles). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true
  }

  get [brand](): true {
    return true
  }
}

export declare namespace PayfetchError {
  type Options = {
    details?: Record<string, unknown> | undefined
    cause?: unknown
  }
}

/** True when `value` is a payfetch error, optionally with the given code. */
export function isPayfetchError(value: unknown, code?: ErrorCode): value is PayfetchError {
  return value instanceof PayfetchError && (code === undefined || value.code === code)
}
