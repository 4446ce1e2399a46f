import type { Policy } from '../caps/policy.js'
import { isPayfetchError, type PayfetchError } from '../errors/PayfetchError.js'
import type { Ledger } from '../ledger/Ledger.js'
import type { SignedTerms } from '../offer/SignedTerms.js'
import type { Protocol } from '../protocols/Protocol.js'
import type { SessionStore, SessionToken } from '../sessions/SessionStore.js'
import type { Signer } from '../signers/Signer.js'
import type { Approve, PolicyWebhook } from './approval.js'
import type { PayfetchEvent } from './events.js'
import type { ReplayableRequest } from './replayableRequest.js'

/** Everything one paying fetch was set up with, validated: what every step of a call reads. */
export type PayingContext = {
  readonly signers: readonly Signer[]
  /** x402 and the protocols the signers bring, one per name. */
  readonly protocols: readonly Protocol[]
  readonly policy: Policy
  readonly ledger: Ledger
  readonly sessions: SessionStore
  readonly fetch: typeof fetch
  readonly approve?: Approve | undefined
  readonly approveTimeoutMs: number
  readonly policyWebhook?: PolicyWebhook | undefined
  readonly prefer?: readonly string[] | undefined
  readonly maxPayments: number
  readonly maxBodyBytes: number
  readonly maxRedirects: number
  readonly signedTerms?: SignedTerms | undefined
  /** How long payfetch waits for a body it reads itself (a 402's), in ms. */
  readonly readTimeoutMs: number
  /** Headers that tell a server what this fetch can pay (`Accept-Payment`), for a request to `url`. */
  announce(url: string): Readonly<Record<string, string>> | undefined
  /** Notes that `url`'s origin answered 402 (`Accept-Payment` may go there from now on). */
  charged(url: string): void
  /** Origins being paid right now in this process: calls that need the same token wait for that payment. */
  readonly flights: Map<string, Promise<SessionToken | undefined>>
  emit(event: PayfetchEvent): void
  /** Whether anyone receives events: an event that is costly to build is built only then. */
  readonly observed: boolean
}

/** Reports a failed payment and returns the error, for `throw fail(…)`. */
export function fail(context: PayingContext, url: string, error: PayfetchError): PayfetchError {
  context.emit({ type: 'payment.failed', url, error })
  return error
}

/** Reports a refusal (nothing paid) when `error` is payfetch's, and returns it for `throw`. */
export function refuse<T>(context: PayingContext, url: string, error: T): T {
  if (isPayfetchError(error)) context.emit({ type: 'refusal', url, error })
  return error
}

/** The `Accept-Payment` headers an unpaid send to `url` adds; the caller's own header wins. */
export function announcement(
  context: PayingContext,
  request: ReplayableRequest,
  url: string,
): Readonly<Record<string, string>> | undefined {
  return request.header('accept-payment') === null ? context.announce(url) : undefined
}

export function originOf(url: string): string {
  // One call asks for the same URL's origin several times (sessions, tokens, redirects): parse it once.
  if (url !== last.url) last = { url, origin: new URL(url).origin }
  return last.origin
}

let last = { url: '', origin: '' }
