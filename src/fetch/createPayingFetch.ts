import { type Caps, createPolicy, type Policy } from '../caps/policy.js'
import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import { describeOffer } from '../offer/describeOffer.js'
import type { Offer } from '../offer/Offer.js'
import type { Challenge, Protocol } from '../protocols/Protocol.js'
import { x402 } from '../protocols/x402/index.js'
import { attachReceipt, type Receipt } from '../receipts/Receipt.js'
import type { Payment, Signer } from '../signers/Signer.js'
import { type Candidate, judgeOffers, pickOffer } from './chooseOffer.js'
import type { PayfetchEvent } from './events.js'
import { invalidProofHeader } from './invalidProofHeader.js'
import { readCapped } from './readCapped.js'
import { captureRequest, type ReplayableRequest } from './replayableRequest.js'
import { sendFollowingRedirects } from './sendFollowingRedirects.js'

export type PayingFetchOptions = {
  /** Who can pay: `evm({ account })` and other signers. The first that can pay an offer pays it. */
  signers: readonly Signer[]
  /** Spend limits checked before anything is signed. Default: $0.10 per request in known stablecoins. */
  caps?: Caps | undefined
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

/** `fetch`, plus a way to see what a resource costs without paying. */
export type PayingFetch = typeof fetch & {
  /** Sends the request once, unpaid, and returns the decoded offers with what payfetch thinks of each. */
  quote(input: RequestInfo | URL, init?: RequestInit): Promise<Quote>
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

const wrapped = Symbol.for('payfetch.payingFetch')
const maxChallengeBodyBytes = 64 * 1024
const protocols: readonly Protocol[] = [x402]

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
 *   caps: { perRequest: { usd: '0.10' } },
 * })
 * const response = await fetchPaid('https://api.example.com/report')
 * console.log(getReceipt(response)?.reference)
 * ```
 *
 * @throws {PayfetchError} with a stable `code`: `INVALID_OPTIONS` here; on calls,
 * `CHALLENGE_INVALID`, `NO_SIGNER`, a cap refusal, `PAYMENT_FAILED`, `PAYMENT_REJECTED`,
 * `PAYMENT_OUTCOME_UNKNOWN`, `REQUEST_TOO_LARGE`, `REDIRECT_REFUSED`.
 */
export function createPayingFetch(options: PayingFetchOptions): PayingFetch {
  const { signers, onEvent } = options
  if (!Array.isArray(signers)) throw new PayfetchError('INVALID_OPTIONS', 'signers must be an array of signers.')
  if (options.fetch && (options.fetch as unknown as Record<symbol, unknown>)[wrapped])
    throw new PayfetchError('INVALID_OPTIONS', 'This fetch already pays; wrapping it again could pay twice.')
  const policy = createPolicy(options.caps)
  const maxPayments = positiveInteger(options.maxPayments ?? 1, 'maxPayments')
  const maxBodyBytes = positiveInteger(options.maxBodyBytes ?? 1024 * 1024, 'maxBodyBytes')
  const maxRedirects = positiveInteger(options.maxRedirects ?? 5, 'maxRedirects')
  const fetchImpl: typeof fetch = (input, init) => (options.fetch ?? globalThis.fetch)(input, init)
  const emit = (event: PayfetchEvent) => {
    try {
      onEvent?.(event)
    } catch {}
  }

  async function payingFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = await captureRequest(input, init, maxBodyBytes)
    let response = await fetchImpl(request.build())
    let paid: { offer: Offer; protocol: Protocol; payment: Payment; hops: Response[] } | undefined
    for (let payments = 0; response.status === 402; payments++) {
      const url = response.url || request.url
      const challenge = await readChallenge(response, url)
      if (paid && payments >= maxPayments) throw fail(url, rejected(paid, challenge, url))
      const candidate = paid ? chooseAfterPaying(challenge, url, paid) : chooseOrRefuse(challenge, url)
      const { offer, protocol, signer } = candidate
      emit({ type: 'offer.chosen', url, offer, signer: signer.name })
      const payment = await pay(signer, offer, url, request)
      const proof = protocol.proofHeaders(offer, payment)
      const badHeader = invalidProofHeader(proof)
      if (badHeader) throw fail(url, new PayfetchError('PAYMENT_FAILED', `The ${badHeader} proof is not a valid header value.`, { details: { url, header: badHeader, ...describeOffer(offer) } }))
      emit({ type: 'payment.sent', url, offer })
      const hops = await sendFollowingRedirects(fetchImpl, request, { url, proof }, maxRedirects).catch((error: unknown) => {
        if (isPayfetchError(error)) throw error
        throw fail(url, new PayfetchError('PAYMENT_OUTCOME_UNKNOWN', 'The proof was sent but no response came back; the payment may have settled.', {
          details: { url, ...describeOffer(offer) },
          cause: error,
        }))
      })
      paid = { offer, protocol, payment, hops }
      response = hops[hops.length - 1] as Response
    }
    if (paid) attachReceipt(response, receiptOf(paid, request.url))
    return response
  }

  async function pay(signer: Signer, offer: Offer, url: string, request: ReplayableRequest): Promise<Payment> {
    try {
      return await signer.pay(offer, { url, signal: request.signal })
    } catch (error) {
      if (request.signal.aborted) throw error
      throw fail(url, isPayfetchError(error) ? error : new PayfetchError('PAYMENT_FAILED', `The ${signer.name} signer could not pay.`, {
        details: { url, ...describeOffer(offer) },
        cause: error,
      }))
    }
  }

  function chooseOrRefuse(challenge: Challenge, url: string): Candidate & { signer: Signer } {
    try {
      const candidates = judge(challenge, url, policy)
      emit({ type: 'challenge', url, offers: candidates.map((candidate) => candidate.offer) })
      return pickOffer(candidates)
    } catch (error) {
      if (isPayfetchError(error)) emit({ type: 'refusal', url, error })
      throw error
    }
  }

  // A 402 after paying that offers nothing payable is the server refusing the first payment.
  function chooseAfterPaying(challenge: Challenge, url: string, paid: { offer: Offer; protocol: Protocol }): Candidate & { signer: Signer } {
    try {
      return chooseOrRefuse(challenge, url)
    } catch (error) {
      throw fail(url, isPayfetchError(error, 'CHALLENGE_INVALID') ? rejected(paid, challenge, url) : (error as PayfetchError))
    }
  }

  function receiptOf(paid: { offer: Offer; protocol: Protocol; payment: Payment; hops: Response[] }, url: string): Receipt {
    // The settlement header may sit on the first hop when the paid response was a redirect.
    const readings = paid.hops.map((hop) => paid.protocol.receipt(hop, paid.offer, paid.payment))
    const reading = readings.find((candidate) => candidate.reference !== undefined) ?? (readings[0] as (typeof readings)[number])
    const receipt: Receipt = { ...reading, url, time: Date.now() }
    emit({ type: 'receipt', receipt })
    return receipt
  }

  function fail(url: string, error: PayfetchError): PayfetchError {
    emit({ type: 'payment.failed', url, error })
    return error
  }

  async function quote(input: RequestInfo | URL, init?: RequestInit): Promise<Quote> {
    const request = await captureRequest(input, init, maxBodyBytes)
    const response = await fetchImpl(request.build())
    const url = response.url || request.url
    if (response.status !== 402) {
      await response.body?.cancel().catch(() => {})
      return { url, status: response.status, offers: [] }
    }
    const candidates = judge(await readChallenge(response, url), url, policy)
    const best = candidates[0]
    return {
      url,
      status: 402,
      offers: candidates.map(({ offer, signer, refusal }) => ({ offer, signer: signer?.name, refusal })),
      best: best?.signer && !best.refusal ? best.offer : undefined,
    }
  }

  function judge(challenge: Challenge, url: string, policy: Policy): Candidate[] {
    const hostRefusal = policy.checkHost(new URL(url))
    if (hostRefusal) throw hostRefusal
    return judgeOffers(decodeAll(challenge), signers, policy)
  }

  return Object.assign(payingFetch, { quote, [wrapped]: true })
}

/** Offers from every protocol; a protocol that fails to decode does not hide the others' offers. */
function decodeAll(challenge: Challenge): { offer: Offer; protocol: Protocol }[] {
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

function rejected(paid: { offer: Offer; protocol: Protocol }, challenge: Challenge, url: string): PayfetchError {
  const reason = paid.protocol.refusalReason(challenge)
  return new PayfetchError('PAYMENT_REJECTED', `The server answered 402 again after payment${reason ? `: ${reason}` : ''}.`, {
    details: { url, reason, ...describeOffer(paid.offer) },
  })
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new PayfetchError('INVALID_OPTIONS', `${name} must be a positive integer.`, { details: { [name]: value } })
  return value
}
