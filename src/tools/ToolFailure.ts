import { isPayfetchError } from '../errors/PayfetchError.js'

/**
 * Codes a tool answers with besides payfetch's own `ErrorCode`s: `CONFIRMATION_REQUIRED` (nothing
 * paid; call again with `confirm_quote_id`), `CONFIRMATION_INVALID`, `INVALID_INPUT`, `TIMEOUT`,
 * `NETWORK_ERROR`, `NOT_FOUND`, `IDEMPOTENCY_KEY_REUSED`, `SERVICE_NOT_FOUND`,
 * `SERVICE_MISCONFIGURED`.
 */
export type ToolFailureCode = string

/** What a tool answers instead of a result: structured, with no stack trace and no secret. */
export type ToolFailure = {
  readonly code: ToolFailureCode
  readonly message: string
  /** `false`: nothing was paid. `'unknown'`: a proof or payment may have gone through. */
  readonly paid: false | 'unknown'
  /** The pending payment to finish with `resume_payment`, when the outcome is unknown. */
  readonly pending_id?: string | undefined
  /** For `CONFIRMATION_REQUIRED`: what would be paid, and the one-time id that pays it. */
  readonly quote?: ConfirmationQuote | undefined
}

/** The offer a confirmation binds to, as shown to the model or the person confirming. */
export type ConfirmationQuote = {
  readonly quote_id: string
  readonly expires_at: string
  readonly protocol: string
  readonly network: string
  readonly asset: string
  readonly symbol?: string | undefined
  readonly amount: string
  readonly amount_usd?: string | undefined
  /** A payment channel's deposit made first (atomic units): the money put at risk. */
  readonly deposit?: string | undefined
  readonly deposit_usd?: string | undefined
  readonly payee: string
  readonly url: string
  readonly method: string
}

// Whether a payfetch error means money may have moved.
const maybePaidCodes = new Set(['PAYMENT_REJECTED', 'PAYMENT_OUTCOME_UNKNOWN'])

/** The refusals: payfetch (or the person asked) decided not to pay. */
const refusalCodes = new Set([
  'CAP_EXCEEDED',
  'BUDGET_EXHAUSTED',
  'HOST_NOT_ALLOWED',
  'NETWORK_NOT_ALLOWED',
  'FLOW_NOT_ALLOWED',
  'ASSET_NOT_ALLOWED',
  'UNPRICEABLE',
  'APPROVAL_DENIED',
  'NO_SIGNER',
  'OFFER_UNVERIFIED',
  'CONFIRMATION_REQUIRED',
  'CONFIRMATION_INVALID',
])

/**
 * How a failure ends for whoever called: `refused` (policy said no, nothing paid), `failed`
 * (nothing paid), `unknown` (money may have moved; resume, never retry blindly).
 *
 * @example
 * ```ts
 * import { failureKind } from 'payfetch/tools'
 *
 * failureKind({ code: 'CAP_EXCEEDED', message: '…', paid: false }) // 'refused'
 * ```
 */
export function failureKind(failure: ToolFailure): 'refused' | 'failed' | 'unknown' {
  if (failure.paid === 'unknown') return 'unknown'
  return refusalCodes.has(failure.code) ? 'refused' : 'failed'
}

/** A tool failure built from anything thrown; `proofSent` says whether this call let a proof leave. */
export function toToolFailure(error: unknown, proofSent: boolean): ToolFailure {
  if (isToolFailureError(error)) return error.failure
  if (isPayfetchError(error)) {
    const unknown = maybePaidCodes.has(error.code) || (error.code === 'REDIRECT_REFUSED' && proofSent)
    return { code: error.code, message: error.shortMessage, paid: unknown ? 'unknown' : false }
  }
  const name = error instanceof Error ? error.name : ''
  const paid = proofSent ? 'unknown' : false
  if (name === 'TimeoutError') return { code: 'TIMEOUT', message: 'The request timed out.', paid }
  if (name === 'AbortError') return { code: 'ABORTED', message: 'The request was cancelled.', paid }
  // fetch's network failures are TypeErrors whose cause names the reason; the message stays generic.
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined
  const reason = (cause as { code?: unknown } | undefined)?.code
  return {
    code: 'NETWORK_ERROR',
    message: `The request failed${typeof reason === 'string' ? ` (${reason})` : ''}.`,
    paid,
  }
}

const brand = Symbol.for('payfetch.toolFailure')

/** An error carrying a {@link ToolFailure}, thrown inside the tools and by framework adapters. */
export class ToolFailureError extends Error {
  override name = 'ToolFailureError'
  readonly failure: ToolFailure
  constructor(failure: ToolFailure) {
    super(JSON.stringify({ error: failure }))
    this.failure = failure
  }
  get [brand](): true {
    return true
  }
}

/** True for a {@link ToolFailureError}, also from another copy of the package. */
export function isToolFailureError(value: unknown): value is ToolFailureError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true
}

/** Shorthand for a failure where nothing was paid. */
export function unpaid(code: ToolFailureCode, message: string): ToolFailureError {
  return new ToolFailureError({ code, message, paid: false })
}
