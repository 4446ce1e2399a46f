import {
  type CallBounds,
  type CallLimits,
  type Caps,
  callBounds,
  createPolicy,
  lowerBounds,
  remainingBounds,
} from '../caps/policy.js'
import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import type { Ledger, PendingPayment, SpendReport } from '../ledger/Ledger.js'
import { memoryLedger } from '../ledger/memoryLedger.js'
import type { MethodKind } from '../methods/PaymentMethod.js'
import type { Offer } from '../offer/Offer.js'
import type { SignedTerms } from '../offer/SignedTerms.js'
import { defaultProtocols } from '../protocols/index.js'
import type { Protocol, Response402 } from '../protocols/Protocol.js'
import { attachReceipt } from '../receipts/Receipt.js'
import { memorySessions, type SessionStore, type SessionToken } from '../sessions/SessionStore.js'
import type { Signer } from '../signers/Signer.js'
import type { Approve, PolicyWebhook } from './approval.js'
import { judgeChallenge, type Payable, pickOffer } from './chooseOffer.js'
import { announcement, fail, originOf, type PayingContext, refuse } from './context.js'
import type { PayfetchEvent } from './events.js'
import { invalidProofHeader } from './invalidProofHeader.js'
import { newPaymentKey, type Paid, payOffer, rejected, resumePayment } from './paymentAttempt.js'
import { type Quote, quote } from './quote.js'
import { read402 } from './read402.js'
import { captureRequest, type ReplayableRequest } from './replayableRequest.js'
import { sendFollowingRedirects } from './sendFollowingRedirects.js'
import { type Flight, joinFlight } from './sharedFlight.js'
import { keepEntitlement, signInAgain } from './signInAgain.js'
import { storeFailed } from './storeFailed.js'
import { withoutProof } from './withoutProof.js'

export type PayingFetchOptions = {
  /** Who can pay: `evm({ account })` and other signers. The first that can pay an offer pays it. */
  signers: readonly Signer[]
  /** Spend limits checked before anything is signed. Default: $0.10 (or 100 sats) per request. */
  caps?: Caps | undefined
  /** Where session tokens (L402 tokens) are kept, per origin. Default: memory. */
  sessions?: SessionStore | undefined
  /** Where reservations and spending are recorded, for budgets. Default: memory. */
  ledger?: Ledger | undefined
  /** Asked before every payment; only `true` pays. */
  approve?: Approve | undefined
  /** How long `approve` may take before the payment is denied. Default 60 000 ms. */
  approveTimeoutMs?: number | undefined
  /** A service asked before every payment, after `approve`; fails closed. */
  policyWebhook?: PolicyWebhook | undefined
  /** Protocols in order of preference when a 402 offers several, e.g. `['l402', 'x402']`. Default: cheapest first. */
  prefer?: readonly string[] | undefined
  /** The fetch to wrap. Default: the global `fetch`, looked up at call time. */
  fetch?: typeof fetch | undefined
  /** Payments one call may make. Default 1: a second 402 after paying is an error, not a payment. */
  maxPayments?: number | undefined
  /** Largest request body captured for the replay, in bytes. Default 1 MiB. */
  maxBodyBytes?: number | undefined
  /** Redirects followed by hand after a paid replay. Default 5. */
  maxRedirects?: number | undefined
  /**
   * How long payfetch waits for a body it reads itself (a 402's challenge or refusal), in ms.
   * Default 10 000: a body that trickles longer is read as absent.
   */
  readTimeoutMs?: number | undefined
  /** Called for every step worth knowing; errors it throws or rejects with are ignored. */
  onEvent?: ((event: PayfetchEvent) => unknown) | undefined
  /**
   * When to send `Accept-Payment` (the `method/intent` pairs the signers pay) with a request.
   * `'after-402'`, the default outside a page: only to origins that have answered this fetch 402,
   * so other servers are not told a wallet is here. `'same-origin'`, the default in a page: only to
   * the page's own origin, since the header is not CORS-safelisted. `'always'` or `'never'`.
   */
  acceptPayment?: 'after-402' | 'always' | 'same-origin' | 'never' | undefined
  /**
   * Checks what x402 servers sign (the `offer-receipt` extension): `offerReceipt()` from
   * `payfetch/offer-receipt`. Signed offers are checked before anything is reserved (and, with
   * `offers: 'require'`, only verified ones are paid); signed receipts land in `getReceipt(response).verified`.
   */
  signedTerms?: SignedTerms | undefined
}

/** `fetch`, plus ways to look before paying, resume, and account for spending. */
export type PayingFetch = typeof fetch & {
  /** Sends the request once, unpaid, and returns the decoded offers with what payfetch thinks of each. */
  quote(input: RequestInfo | URL, init?: RequestInit): Promise<Quote>
  /** The same fetch with lower limits for the calls made through it (never higher ones). */
  withLimits(limits: CallLimits): PayingFetch
  /** Payments whose proof was sent but whose answer never came (also from earlier processes, with a durable ledger). */
  pendingPayments(): Promise<PendingPayment[]>
  /** Sends a pending payment's exact request and proof again, without signing; resolves to the paid response. */
  resume(pending: PendingPayment): Promise<Response>
  /** Spent, reserved and unknown amounts, and each budget's use now. */
  spendReport(): Promise<SpendReport>
}

const wrapped = Symbol.for('payfetch.payingFetch')

/**
 * Returns a `fetch` that pays HTTP 402 challenges within `caps`, using the first signer able to
 * pay, and replays the request with the proof. Every other response passes through untouched.
 *
 * @example
 * ```ts
 * import { createPayingFetch, getReceipt } from 'payfetch'
 * import { evm } from 'payfetch/evm'
 * import { privateKeyToAccount } from 'viem/accounts'
 *
 * const fetchPaid = createPayingFetch({
 *   signers: [evm({ account: privateKeyToAccount(process.env.KEY as `0x${string}`) })],
 *   caps: { perRequest: { usd: '0.10' }, budgets: [{ usd: '5', window: '1d' }] },
 * })
 * const response = await fetchPaid('https://api.example.com/report')
 * console.log(getReceipt(response)?.reference)
 * ```
 *
 * @throws {PayfetchError} with a stable `code`: `INVALID_OPTIONS` here; on calls,
 * `CHALLENGE_INVALID`, `NO_SIGNER`, a cap refusal (`CAP_EXCEEDED`, `BUDGET_EXHAUSTED`,
 * `HOST_NOT_ALLOWED`, `NETWORK_NOT_ALLOWED`, `FLOW_NOT_ALLOWED`, `ASSET_NOT_ALLOWED`, `UNPRICEABLE`),
 * `APPROVAL_DENIED`, `PAYMENT_FAILED`, `PAYMENT_REJECTED`, `PAYMENT_OUTCOME_UNKNOWN`,
 * `REQUEST_TOO_LARGE`, `REDIRECT_REFUSED`.
 */
export function createPayingFetch(options: PayingFetchOptions): PayingFetch {
  const { signers, onEvent } = options ?? {}
  if (!Array.isArray(signers)) throw new PayfetchError('INVALID_OPTIONS', 'signers must be an array of signers.')
  if (options.fetch && (options.fetch as unknown as Record<symbol, unknown>)[wrapped])
    throw new PayfetchError('INVALID_OPTIONS', 'This fetch already pays; wrapping it again could pay twice.')
  // One protocol per name; variants signers bring (x402 reading their offers) merge.
  const protocols = [
    ...[...defaultProtocols, ...signers.flatMap((signer) => signer.protocols ?? [])]
      .reduce(
        (byName, protocol) => byName.set(protocol.name, byName.get(protocol.name)?.merge?.(protocol) ?? protocol),
        new Map<string, Protocol>(),
      )
      .values(),
  ]
  const context: PayingContext = {
    signers,
    protocols,
    ...announcer(protocols, signers, options.acceptPayment),
    policy: createPolicy(options.caps),
    ledger: options.ledger ?? memoryLedger(),
    sessions: options.sessions ?? memorySessions(),
    fetch: (input, init) => (options.fetch ?? globalThis.fetch)(input, init),
    approve: options.approve,
    approveTimeoutMs: positiveInteger(options.approveTimeoutMs ?? 60_000, 'approveTimeoutMs'),
    policyWebhook: options.policyWebhook,
    prefer: options.prefer,
    signedTerms: options.signedTerms,
    maxPayments: positiveInteger(options.maxPayments ?? 1, 'maxPayments'),
    maxBodyBytes: positiveInteger(options.maxBodyBytes ?? 1024 * 1024, 'maxBodyBytes'),
    maxRedirects: positiveInteger(options.maxRedirects ?? 5, 'maxRedirects'),
    readTimeoutMs: positiveInteger(options.readTimeoutMs ?? 10_000, 'readTimeoutMs'),
    flights: new Map(),
    observed: onEvent !== undefined,
    emit(event) {
      try {
        // An async hook that rejects must not become an unhandled rejection.
        const result = onEvent?.(event)
        if (result instanceof Promise) result.catch(() => {})
      } catch {}
    },
  }

  const withLimits = (bounds: CallBounds): PayingFetch =>
    Object.assign((input: RequestInfo | URL, init?: RequestInit) => payingFetch(context, input, init, bounds), {
      quote: (input: RequestInfo | URL, init?: RequestInit) => quote(context, input, init, bounds),
      withLimits: (more: CallLimits) => withLimits(lowerBounds(bounds, callBounds(more))),
      pendingPayments: () => context.ledger.pending(),
      resume: (pending: PendingPayment) => resumePayment(context, pending),
      spendReport: () => context.ledger.report(context.policy.rules),
      [wrapped]: true,
    })
  return withLimits({})
}

/** One call: send (with a stored session token), and on 402 pay once and replay. */
async function payingFetch(
  context: PayingContext,
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  bounds: CallBounds,
): Promise<Response> {
  const request = await captureRequest(input, init, context.maxBodyBytes)
  const callerKey = request.header('idempotency-key')
  let idempotencyKey = callerKey ?? undefined
  let token = await sessionFor(context, request.url)
  let tokenOrigin = originOf(request.url)
  // A sign-in's headers, once sent: a 402 to them may quote them too.
  let signedIn: Record<string, string> | undefined
  let response = await send(context, request, request.url, token)
  let paid: Paid | undefined
  let payments = 0
  let sharedTried = false
  let signInTried = false
  while (response.status === 402) {
    const url = response.url || request.url
    context.charged(url)
    // What the request presented (the proof it paid with, a stored token): server text quoting it
    // is cut before it reaches an event or an error.
    const quoted = paid ? paid.pending.proof : (token?.headers ?? signedIn)
    const answer = await read402(response, url, { timeoutMs: context.readTimeoutMs, signal: request.signal }, quoted)
    if (token) {
      // Its origin no longer accepts the token: forget it (unless a newer one replaced it).
      // A 402 from another origin, reached by a redirect, never saw it.
      if (originOf(url) === tokenOrigin) await evict(context, url, token)
      token = undefined
    }
    if (paid && payments >= context.maxPayments) throw fail(context, url, rejected(paid, answer, url))
    // A caller's retry of a call whose proof already left: finish that payment, never pay again.
    // The key names one request: a payment pending for another origin or method is not this one's.
    const pending =
      !paid && callerKey
        ? (await pendingPayments(context, url)).find(
            (entry) =>
              entry.idempotencyKey === callerKey &&
              originOf(entry.url) === originOf(url) &&
              entry.method === request.method,
          )
        : undefined
    if (pending) return resumePayment(context, pending)
    // Paid before (x402 sign-in-with-x): sign in instead of paying, once per call, before any
    // offer is judged or reserved. A 402 to the signature is paid as usual.
    if (!paid && !signInTried) {
      signInTried = true
      const access = await signInAgain(context, request, url, answer)
      if (access) {
        ;({ response, presented: signedIn } = access)
        continue
      }
    }
    const candidate = await choose(context, answer, request, url, bounds, quoted, paid)
    let flight: Flight | undefined
    if (candidate.protocol.sessionToken && !sharedTried) {
      // Another call (here or in another process) may be paying this origin now, or may have just
      // stored what it paid for: wait for it and reuse its token, or be the one that pays.
      sharedTried = true
      const joined = await joinFlight(context, url, request.signal, async () => sessionFor(context, url))
      if ('token' in joined) {
        token = joined.token
        tokenOrigin = originOf(url)
        response = await send(context, request, url, token)
        continue
      }
      flight = joined.flight
    }
    // Every payment of one call carries one key, made when the first is.
    idempotencyKey ??= newPaymentKey()
    let attempt: Paid | undefined
    try {
      attempt = await payOffer(context, request, url, candidate, idempotencyKey, answer)
    } catch (error) {
      // Not paying again (a budget, the approve hook, the signer) leaves the first proof refused. A
      // second proof that may have left (rejected, unknown) is the caller's to see as it is; store
      // failures after money moved are reported as events, never thrown.
      if (paid && isPayfetchError(error) && !/^PAYMENT_(REJECTED|OUTCOME_UNKNOWN)$/.test(error.code))
        throw fail(context, url, rejected(paid, answer, url, error))
      throw error
    } finally {
      await flight?.land(attempt?.token)
    }
    paid = attempt
    payments++
    // The call's limits hold for all its payments, not each one.
    bounds = remainingBounds(bounds, {
      nanoUsd: candidate.nanoUsd,
      msat: candidate.offer.asset.id === 'BTC' ? candidate.cost : undefined,
    })
    response = paid.hops[paid.hops.length - 1] as Response
    await keepEntitlement(context, url, paid)
    // A refusal other than 402 (the Payment scheme's 403) ends the call: never a second payment.
    if (paid.refused && response.status !== 402)
      throw fail(
        context,
        url,
        rejected(paid, await read402(response, url, { timeoutMs: context.readTimeoutMs, signal: request.signal }), url),
      )
  }
  if (paid?.receipt) attachReceipt(response, paid.receipt)
  return response
}

async function choose(
  context: PayingContext,
  answer: Response402,
  request: ReplayableRequest,
  url: string,
  bounds: CallBounds,
  quoted: Readonly<Record<string, string>> | undefined,
  paid: Paid | undefined,
): Promise<Payable> {
  try {
    const candidates = await judgeChallenge(
      context,
      answer,
      { url, body: request.body, signal: request.signal },
      bounds,
    )
    // Server text echoed into the event is scrubbed of what the request presented (a payment's proof).
    const offers = candidates.map(({ offer }) => (quoted ? scrubbed(offer, quoted, paid?.proof) : offer))
    context.emit({ type: 'challenge', url, offers })
    return pickOffer(candidates)
  } catch (error) {
    // A 402 after paying that offers nothing payable is the server refusing the first payment; one
    // payfetch will not pay again (caps, budget) must not read as "nothing paid": a proof left.
    if (paid && isPayfetchError(error)) throw fail(context, url, rejected(paid, answer, url, error))
    throw refuse(context, url, error)
  }
}

/** The offer with every piece of the proof (and its payload) cut out of the server's text. */
function scrubbed(offer: Offer, proof: Readonly<Record<string, string>>, payload: unknown): Offer {
  const clean = (text: string | undefined) => withoutProof(text, proof, payload)
  let raw: unknown
  try {
    raw = JSON.parse(clean(JSON.stringify(offer.raw)) ?? 'null')
  } catch {}
  return { ...offer, description: clean(offer.description), raw }
}

async function pendingPayments(context: PayingContext, url: string): Promise<PendingPayment[]> {
  try {
    return await context.ledger.pending()
  } catch (error) {
    throw refuse(context, url, storeFailed('ledger', 'pending', false, url, error))
  }
}

// An expired token, or one a store returns with unsendable header values, is not sent. A store that
// answers at once (memory) is not waited for.
function sessionFor(context: PayingContext, url: string): SessionToken | undefined | Promise<SessionToken | undefined> {
  const failed = (error: unknown) => refuse(context, url, storeFailed('sessions', 'get', false, url, error))
  let stored: ReturnType<SessionStore['get']>
  try {
    stored = context.sessions.get(originOf(url))
  } catch (error) {
    throw failed(error)
  }
  // Any thenable is waited for, not only a native promise.
  return typeof (stored as PromiseLike<unknown> | undefined)?.then === 'function'
    ? Promise.resolve(stored).then(usable, (error) => {
        throw failed(error)
      })
    : usable(stored as SessionToken | undefined)
}

function usable(token: SessionToken | undefined): SessionToken | undefined {
  if (!token || (token.expiresAt !== undefined && token.expiresAt <= Date.now())) return undefined
  return invalidProofHeader({ ...token.headers }) === undefined ? token : undefined
}

// A token its server refused is forgotten; a store that fails to forget it costs nothing here.
async function evict(context: PayingContext, url: string, stale: SessionToken): Promise<void> {
  try {
    const stored = await context.sessions.get(originOf(url))
    if (stored && JSON.stringify(stored.headers) === JSON.stringify(stale.headers))
      await context.sessions.delete(originOf(url))
  } catch {}
}

// A token goes out only to its own origin: redirects are followed by hand while it is attached.
function send(
  context: PayingContext,
  request: ReplayableRequest,
  url: string,
  token: SessionToken | undefined,
): Promise<Response> {
  if (!token) {
    const headers = announcement(context, request, url)
    return context.fetch(...request.build(headers ? { url, headers } : { url }))
  }
  return sendFollowingRedirects(
    context.fetch,
    request,
    { url, proof: { ...token.headers } },
    context.maxRedirects,
  ).then((hops) => hops[hops.length - 1] as Response)
}

/** The `Accept-Payment` headers for a request, by the option's rule; computed once. */
function announcer(
  protocols: readonly Protocol[],
  signers: readonly Signer[],
  rule: PayingFetchOptions['acceptPayment'],
): Pick<PayingContext, 'announce' | 'charged'> {
  const kinds = new Set(
    signers.flatMap((signer) =>
      (Object.keys(signer.methods ?? {}) as MethodKind[]).filter((kind) => signer.methods[kind]),
    ),
  )
  const headers = Object.assign({}, ...protocols.map((protocol) => protocol.acceptHeaders?.(kinds)))
  const page = (globalThis as { location?: { origin?: string } }).location?.origin
  const to = Object.keys(headers).length > 0 ? (rule ?? (page ? 'same-origin' : 'after-402')) : 'never'
  // The origins that answered 402, the latest last, at most 1024: calls may reach any number of them.
  const charging = new Set<string>()
  return {
    announce: (url) =>
      to === 'always' || (to === 'same-origin' ? originOf(url) === page : charging.has(originOf(url)))
        ? headers
        : undefined,
    charged(url) {
      // Only `'after-402'` reads these origins: the other rules remember none.
      if (to !== 'after-402') return
      const origin = originOf(url)
      charging.delete(origin)
      if (charging.add(origin).size > 1024) charging.delete(charging.values().next().value as string)
    },
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new PayfetchError('INVALID_OPTIONS', `${name} must be a positive integer.`, { details: { [name]: value } })
  return value
}
