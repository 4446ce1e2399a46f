import { type CallLimits, type Caps, createPolicy, formatNanoUsd } from '../caps/policy.js'
import { toNanoUsd } from '../caps/valuation.js'
import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import type { Ledger, PendingPayment, SpendReport } from '../ledger/Ledger.js'
import { memoryLedger } from '../ledger/memoryLedger.js'
import { describeOffer } from '../offer/describeOffer.js'
import type { Offer } from '../offer/Offer.js'
import { defaultProtocols } from '../protocols/index.js'
import type { Challenge, Protocol } from '../protocols/Protocol.js'
import { attachReceipt, type Receipt } from '../receipts/Receipt.js'
import { type Credential, memorySessions, type SessionStore } from '../sessions/SessionStore.js'
import type { Payment, Signer } from '../signers/Signer.js'
import { base64ToBytes, bytesToBase64 } from '../utils/base64.js'
import { parseDecimal } from '../utils/decimal.js'
import { type Approve, type PolicyWebhook, requireApproval } from './approval.js'
import { type Candidate, judgeOffers, type Payable, pickOffer } from './chooseOffer.js'
import type { PayfetchEvent } from './events.js'
import { invalidProofHeader } from './invalidProofHeader.js'
import { readCapped } from './readCapped.js'
import { captureRequest, type ReplayableRequest } from './replayableRequest.js'
import { sendFollowingRedirects } from './sendFollowingRedirects.js'
import { withoutProof } from './withoutProof.js'

export type PayingFetchOptions = {
  /** Who can pay: `evm({ account })` and other signers. The first that can pay an offer pays it. */
  signers: readonly Signer[]
  /** Spend limits checked before anything is signed. Default: $0.10 (or 100 sats) per request. */
  caps?: Caps | undefined
  /** Where reusable credentials (L402 tokens) are kept, per origin. Default: memory. */
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
  /** Called for every step worth knowing; errors thrown by it are ignored. */
  onEvent?: ((event: PayfetchEvent) => void) | undefined
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

/** What a resource costs, as payfetch would judge it. Nothing is paid to produce it. */
export type Quote = {
  readonly url: string
  /** The status of the unpaid response; offers exist only for 402. */
  readonly status: number
  /** Every offer, payable ones first (cheapest first). */
  readonly offers: readonly QuotedOffer[]
  /** The offer payfetch would pay, if any. */
  readonly best?: Offer | undefined
}

export type QuotedOffer = {
  readonly offer: Offer
  /** The signer that would pay it. */
  readonly signer?: string | undefined
  /** Why it would not be paid. */
  readonly refusal?: PayfetchError | undefined
}

type Paid = {
  readonly candidate: Payable
  readonly payment: Payment
  readonly proof: Readonly<Record<string, string>>
  readonly hops: Response[]
  readonly reservationId: string
  /** The answer showed the payment went through; a receipt is attached only then. */
  readonly settled: boolean
}

const wrapped = Symbol.for('payfetch.payingFetch')
const maxChallengeBodyBytes = 64 * 1024

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
 * `HOST_NOT_ALLOWED`, `NETWORK_NOT_ALLOWED`, `ASSET_NOT_ALLOWED`, `UNPRICEABLE`),
 * `APPROVAL_DENIED`, `PAYMENT_FAILED`, `PAYMENT_REJECTED`, `PAYMENT_OUTCOME_UNKNOWN`,
 * `REQUEST_TOO_LARGE`, `REDIRECT_REFUSED`.
 */
export function createPayingFetch(options: PayingFetchOptions): PayingFetch {
  const { signers, onEvent } = options
  if (!Array.isArray(signers)) throw new PayfetchError('INVALID_OPTIONS', 'signers must be an array of signers.')
  if (options.fetch && (options.fetch as unknown as Record<symbol, unknown>)[wrapped])
    throw new PayfetchError('INVALID_OPTIONS', 'This fetch already pays; wrapping it again could pay twice.')
  const protocols = [...new Map([...defaultProtocols, ...signers.flatMap((signer) => signer.protocols ?? [])].map((protocol) => [protocol.name, protocol])).values()]
  const policy = createPolicy(options.caps)
  const maxPayments = positiveInteger(options.maxPayments ?? 1, 'maxPayments')
  const maxBodyBytes = positiveInteger(options.maxBodyBytes ?? 1024 * 1024, 'maxBodyBytes')
  const maxRedirects = positiveInteger(options.maxRedirects ?? 5, 'maxRedirects')
  const approveTimeoutMs = positiveInteger(options.approveTimeoutMs ?? 60_000, 'approveTimeoutMs')
  const sessions = options.sessions ?? memorySessions()
  const ledger = options.ledger ?? memoryLedger()
  const fetchImpl: typeof fetch = (input, init) => (options.fetch ?? globalThis.fetch)(input, init)
  // Calls waiting for the same origin's credential share one payment (single flight).
  const flights = new Map<string, Promise<Credential | undefined>>()
  const emit = (event: PayfetchEvent) => {
    try {
      onEvent?.(event)
    } catch {}
  }

  async function payingFetch(input: RequestInfo | URL, init: RequestInit | undefined, limits: CallLimits): Promise<Response> {
    const request = await captureRequest(input, init, maxBodyBytes)
    const callerKey = request.headers.get('idempotency-key')
    const idempotencyKey = callerKey ?? newIdempotencyKey()
    let credential = await sessionFor(request.url)
    let credentialOrigin = originOf(request.url)
    let response = await send(request, request.url, credential?.headers)
    let paid: Paid | undefined
    let payments = 0
    let sharedTried = false
    while (response.status === 402) {
      const url = response.url || request.url
      const challenge = await readChallenge(response, url)
      if (credential) {
        // Its origin no longer accepts the credential: forget it (unless a newer one replaced it).
        // A 402 from another origin, reached by a redirect, never saw it.
        if (originOf(url) === credentialOrigin) await evict(url, credential)
        credential = undefined
      }
      if (paid && payments >= maxPayments) throw fail(url, rejected(paid, challenge, url))
      // A caller's retry of a call whose proof already left: finish that payment, never pay again.
      const pending = !paid && callerKey ? (await ledger.pending()).find((entry) => entry.idempotencyKey === callerKey) : undefined
      if (pending) return resume(pending)
      const candidate = await choose(challenge, url, limits, paid)
      if (candidate.protocol.credential && !sharedTried) {
        // Another call may be paying this origin now, or may have just stored what it paid for.
        sharedTried = true
        credential = await (flights.get(originOf(url)) ?? sessionFor(url))
        credentialOrigin = originOf(url)
        if (credential) {
          response = await send(request, url, credential.headers)
          continue
        }
      }
      paid = await payAndReplay(request, url, candidate, idempotencyKey)
      payments++
      response = paid.hops[paid.hops.length - 1] as Response
    }
    if (paid?.settled) attachReceipt(response, receiptOf(paid.candidate.protocol, paid.candidate.offer, paid.payment, paid.hops, request.url))
    return response
  }

  // The paid replay: approve, reserve, sign, keep the proof durably, send, settle the ledger.
  async function payAndReplay(request: ReplayableRequest, url: string, candidate: Payable, idempotencyKey: string): Promise<Paid> {
    const { offer, protocol, signer } = candidate
    const origin = originOf(url)
    const reusable = protocol.credential !== undefined
    let settleFlight: ((credential: Credential | undefined) => void) | undefined
    if (reusable && !flights.has(origin)) {
      const flight = new Promise<Credential | undefined>((resolve) => (settleFlight = resolve))
      flights.set(origin, flight)
    }
    let credential: Credential | undefined
    try {
      await requireApproval(
        { url, offer, usd: candidate.nanoUsd === undefined ? undefined : formatNanoUsd(candidate.nanoUsd), signer: signer.name },
        { approve: options.approve, approveTimeoutMs, webhook: options.policyWebhook, fetch: fetchImpl },
      ).catch((error: unknown) => Promise.reject(refuse(url, error)))
      const reservationId = await reserve({ ...offer, amount: candidate.cost ?? offer.amount }, url, candidate.nanoUsd)
      emit({ type: 'offer.chosen', url, offer, signer: signer.name })
      const payment = await pay(signer, offer, url, request, reservationId, protocol)
      let proof: Record<string, string> | undefined
      let cause: unknown
      try {
        proof = { ...protocol.proofHeaders(offer, payment, { idempotencyKey }), 'idempotency-key': idempotencyKey }
      } catch (error) {
        cause = error
      }
      const badHeader = proof && invalidProofHeader(proof)
      if (!proof || badHeader) {
        // No proof can be sent. A wallet that may have paid already (Lightning) stays counted.
        const paid = protocol.paysBeforeReplay === true
        await (paid ? ledger.markUnknown(reservationId) : ledger.release(reservationId))
        throw fail(url, new PayfetchError(paid ? 'PAYMENT_OUTCOME_UNKNOWN' : 'PAYMENT_FAILED', `The ${protocol.name} proof could not be built${paid ? ' after the wallet paid' : ''}.`, {
          details: { url, header: badHeader, ...describeOffer(offer) },
          cause,
        }))
      }
      const pending: PendingPayment = {
        id: reservationId,
        idempotencyKey,
        protocol: protocol.name,
        url,
        method: request.method,
        headers: Object.fromEntries(request.headers),
        proof,
        body: request.body && bytesToBase64(request.body),
        network: offer.network,
        asset: offer.asset.id,
        amount: offer.amount.toString(),
        payTo: offer.payTo,
        payer: payment.payer,
        time: Date.now(),
      }
      await ledger.savePending(pending)
      emit({ type: 'payment.sent', url, offer, idempotencyKey })
      const hops = await replay(request, url, proof, pending)
      const settled = await settle(protocol, hops, offer, payment, reservationId)
      if (settled && (hops[hops.length - 1] as Response).status !== 402) {
        credential = protocol.credential?.(offer, payment)
        if (credential) await sessions.set(origin, credential)
      }
      return { candidate, payment, proof, hops, reservationId, settled }
    } finally {
      if (settleFlight) {
        flights.delete(origin)
        settleFlight(credential)
      }
    }
  }

  /**
   * Records what the server's answer says about the money: a Lightning payment has moved already;
   * an x402 proof is settled by a success, refused by a 402 (still counted: the server holds an
   * authorization it could settle), and unknown after an error without a settlement report.
   * Returns whether the payment counts as made.
   */
  async function settle(protocol: Protocol, hops: readonly Response[], offer: Offer, payment: Payment, id: string): Promise<boolean> {
    const answer = hops[hops.length - 1] as Response
    const reported = hops.some((hop) => protocol.receipt(hop, offer, payment).reference !== undefined)
    if (protocol.paysBeforeReplay || (answer.status !== 402 && (answer.status < 400 || reported))) {
      await ledger.commit(id)
      return true
    }
    await (answer.status === 402 ? ledger.markRefused(id) : ledger.markUnknown(id))
    return false
  }

  async function reserve(offer: Offer, url: string, nanoUsd: bigint | undefined): Promise<string> {
    const host = new URL(url).host
    let charges
    try {
      charges = policy.charges(offer, new URL(url), nanoUsd)
    } catch (error) {
      throw refuse(url, error)
    }
    const id = newIdempotencyKey()
    const result = await ledger.reserve({ id, time: Date.now(), spend: { network: offer.network, asset: offer.asset.id, amount: offer.amount, host, nanoUsd }, charges })
    if (!result.ok)
      throw refuse(url, new PayfetchError('BUDGET_EXHAUSTED', 'A budget has no room left for this payment.', {
        details: { ...describeOffer(offer), budget: result.key, used: result.used.toString(), limit: result.limit.toString() },
      }))
    return id
  }

  async function pay(signer: Signer, offer: Offer, url: string, request: ReplayableRequest, reservationId: string, protocol: Protocol): Promise<Payment> {
    try {
      return await signer.pay(offer, { url, signal: request.signal })
    } catch (error) {
      // A wallet that may have paid keeps its reservation counted; anything else frees it.
      const unknown = isPayfetchError(error, 'PAYMENT_OUTCOME_UNKNOWN')
      await (unknown ? ledger.markUnknown(reservationId) : ledger.release(reservationId))
      if (request.signal.aborted && !unknown) throw error
      throw fail(url, isPayfetchError(error) ? error : new PayfetchError('PAYMENT_FAILED', `The ${signer.name} signer could not pay.`, {
        details: { url, protocol: protocol.name, ...describeOffer(offer) },
        cause: error,
      }))
    }
  }

  async function replay(request: ReplayableRequest, url: string, proof: Record<string, string>, pending: PendingPayment): Promise<Response[]> {
    try {
      return await sendFollowingRedirects(fetchImpl, request, { url, proof }, maxRedirects)
    } catch (error) {
      if (isPayfetchError(error)) {
        // The server answered the proof (with a redirect the caller would not follow): not refused, not unknown.
        await ledger.commit(pending.id)
        throw fail(url, error)
      }
      await ledger.markUnknown(pending.id)
      const unknown = new PayfetchError('PAYMENT_OUTCOME_UNKNOWN', 'The proof was sent but no response came back; the payment may have settled.', {
        details: { url, pendingId: pending.id, idempotencyKey: pending.idempotencyKey, network: pending.network, asset: pending.asset, amount: pending.amount },
        cause: error,
      })
      unknown.resume = () => resume(pending)
      throw fail(url, unknown)
    }
  }

  async function resume(pending: PendingPayment): Promise<Response> {
    const protocol = protocols.find((candidate) => candidate.name === pending.protocol)
    if (!protocol) throw new PayfetchError('INVALID_OPTIONS', `Pending payment ${pending.id} uses protocol ${pending.protocol}, which this fetch does not speak.`)
    // Only a payment still pending may go out again: a settled or refused one must not be resent.
    if (!(await ledger.pending()).some((entry) => entry.id === pending.id))
      throw new PayfetchError('INVALID_OPTIONS', `Payment ${pending.id} is not pending any more; it was settled or refused.`, { details: { pendingId: pending.id } })
    const body = pending.body === undefined ? undefined : base64ToBytes(pending.body)
    const request = await captureRequest(pending.url, { method: pending.method, headers: pending.headers, ...(body ? { body } : {}) }, maxBodyBytes)
    const hops = await replay(request, pending.url, pending.proof, pending)
    const response = hops[hops.length - 1] as Response
    const offer: Offer = {
      protocol: pending.protocol,
      scheme: '',
      network: pending.network,
      asset: { id: pending.asset },
      amount: BigInt(pending.amount),
      payTo: pending.payTo,
      resource: pending.url,
      extra: {},
      raw: undefined,
    }
    const payment = { payload: undefined, payer: pending.payer }
    const settled = await settle(protocol, hops, offer, payment, pending.id)
    if (response.status === 402) {
      const reason = withoutProof(protocol.refusalReason(await readChallenge(response, pending.url)), pending.proof)
      throw fail(pending.url, new PayfetchError('PAYMENT_REJECTED', `The server refused the resumed payment${reason ? `: ${reason}` : ''}.`, {
        details: { url: pending.url, reason, pendingId: pending.id },
      }))
    }
    if (settled) attachReceipt(response, receiptOf(protocol, offer, payment, hops, pending.url))
    return response
  }

  async function choose(challenge: Challenge, url: string, limits: CallLimits, paid: Paid | undefined): Promise<Payable> {
    try {
      const candidates = await judge(challenge, url, limits)
      emit({ type: 'challenge', url, offers: candidates.map((candidate) => candidate.offer) })
      return pickOffer(candidates)
    } catch (error) {
      // A 402 after paying that offers nothing payable is the server refusing the first payment.
      if (paid && isPayfetchError(error, 'CHALLENGE_INVALID')) throw fail(url, rejected(paid, challenge, url))
      throw refuse(url, error)
    }
  }


  async function judge(challenge: Challenge, url: string, limits: CallLimits): Promise<Candidate[]> {
    const hostRefusal = policy.checkHost(new URL(url))
    if (hostRefusal) throw hostRefusal
    return judgeOffers(decodeAll(protocols, challenge), signers, policy, { prefer: options.prefer, limits })
  }

  async function evict(url: string, stale: Credential): Promise<void> {
    const stored = await sessions.get(originOf(url))
    if (stored && sameCredential(stored, stale)) await sessions.delete(originOf(url))
  }

  // An expired credential, or one a store returns with unsendable header values, is not sent.
  async function sessionFor(url: string): Promise<Credential | undefined> {
    const credential = await sessions.get(originOf(url))
    if (!credential || (credential.expiresAt !== undefined && credential.expiresAt <= Date.now())) return undefined
    return invalidProofHeader({ ...credential.headers }) === undefined ? credential : undefined
  }

  // A credential goes out only to its own origin: redirects are followed by hand while it is attached.
  async function send(request: ReplayableRequest, url: string, credentialHeaders: Readonly<Record<string, string>> | undefined): Promise<Response> {
    if (!credentialHeaders) return fetchImpl(request.build({ url }))
    const hops = await sendFollowingRedirects(fetchImpl, request, { url, proof: { ...credentialHeaders } }, maxRedirects)
    return hops[hops.length - 1] as Response
  }

  function receiptOf(protocol: Protocol, offer: Offer, payment: Payment, hops: readonly Response[], url: string): Receipt {
    // The settlement header may sit on the first hop when the paid response was a redirect.
    const readings = hops.map((hop) => protocol.receipt(hop, offer, payment))
    const reading = readings.find((candidate) => candidate.reference !== undefined) ?? (readings[0] as (typeof readings)[number])
    const receipt: Receipt = { ...reading, url, time: Date.now() }
    emit({ type: 'receipt', receipt })
    return receipt
  }

  function fail(url: string, error: PayfetchError): PayfetchError {
    emit({ type: 'payment.failed', url, error })
    return error
  }

  function refuse<T>(url: string, error: T): T {
    if (isPayfetchError(error)) emit({ type: 'refusal', url, error })
    return error
  }

  async function quote(input: RequestInfo | URL, init: RequestInit | undefined, limits: CallLimits): Promise<Quote> {
    const request = await captureRequest(input, init, maxBodyBytes)
    const response = await fetchImpl(request.build())
    const url = response.url || request.url
    if (response.status !== 402) {
      await response.body?.cancel().catch(() => {})
      return { url, status: response.status, offers: [] }
    }
    const candidates = await judge(await readChallenge(response, url), url, limits)
    const best = candidates[0]
    return {
      url,
      status: 402,
      offers: candidates.map(({ offer, signer, refusal }) => ({ offer, signer: signer?.name, refusal })),
      best: best?.signer && !best.refusal ? best.offer : undefined,
    }
  }

  function withLimits(limits: CallLimits): PayingFetch {
    const paying = (input: RequestInfo | URL, init?: RequestInit) => payingFetch(input, init, limits)
    return Object.assign(paying, {
      quote: (input: RequestInfo | URL, init?: RequestInit) => quote(input, init, limits),
      withLimits: (more: CallLimits) => withLimits(lower(limits, more)),
      pendingPayments: () => ledger.pending(),
      resume,
      spendReport: () => ledger.report(policy.rules),
      [wrapped]: true,
    })
  }

  return withLimits({})
}

/** Offers from every protocol; a protocol that fails to decode does not hide the others' offers. */
function decodeAll(protocols: readonly Protocol[], challenge: Challenge): { offer: Offer; protocol: Protocol }[] {
  const offers: { offer: Offer; protocol: Protocol }[] = []
  let firstError: unknown
  for (const protocol of protocols) {
    try {
      for (const offer of protocol.decode(challenge)) offers.push({ offer, protocol })
    } catch (error) {
      firstError ??= error
    }
  }
  if (offers.length > 0) return offers
  if (firstError !== undefined) throw firstError
  throw new PayfetchError('CHALLENGE_INVALID', 'The server answered 402 without a payment challenge payfetch understands.', {
    details: { url: challenge.url, body: challenge.body?.slice(0, 256) },
  })
}

async function readChallenge(response: Response, url: string): Promise<Challenge> {
  const bytes = response.body ? await readCapped(response.body, maxChallengeBodyBytes) : new Uint8Array()
  const body = bytes === undefined ? undefined : new TextDecoder().decode(bytes)
  return { url, headers: response.headers, body }
}

function rejected(paid: Paid, challenge: Challenge, url: string): PayfetchError {
  const reason = withoutProof(paid.candidate.protocol.refusalReason(challenge), paid.proof, paid.payment.payload)
  return new PayfetchError('PAYMENT_REJECTED', `The server answered 402 again after payment${reason ? `: ${reason}` : ''}.`, {
    details: { url, reason, ...describeOffer(paid.candidate.offer) },
  })
}

// Two limits together: the lower of each.
function lower(a: CallLimits, b: CallLimits): CallLimits {
  if (a.maxUsd === undefined || b.maxUsd === undefined) return { maxUsd: a.maxUsd ?? b.maxUsd }
  const usd = (text: string) => toNanoUsd(parseDecimal(text, 'maxUsd'))
  return { maxUsd: usd(a.maxUsd) <= usd(b.maxUsd) ? a.maxUsd : b.maxUsd }
}

const originOf = (url: string) => new URL(url).origin

const sameCredential = (a: Credential, b: Credential) => JSON.stringify(a.headers) === JSON.stringify(b.headers)

function newIdempotencyKey(): string {
  return `pf_${crypto.randomUUID().replaceAll('-', '')}`
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new PayfetchError('INVALID_OPTIONS', `${name} must be a positive integer.`, { details: { [name]: value } })
  return value
}
