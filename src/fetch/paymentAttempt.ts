import { formatNanoUsd } from '../caps/policy.js'
import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import type { PendingPayment, Settled } from '../ledger/Ledger.js'
import { type MethodProof, type PaymentMethod, paysOnSigning } from '../methods/PaymentMethod.js'
import { describeOffer } from '../offer/describeOffer.js'
import type { Offer } from '../offer/Offer.js'
import type { OfferCheck } from '../offer/SignedTerms.js'
import type { Protocol, Response402 } from '../protocols/Protocol.js'
import { attachReceipt, type Receipt } from '../receipts/Receipt.js'
import type { SessionToken } from '../sessions/SessionStore.js'
import { type ChannelTurn, payerFor } from '../signers/Signer.js'
import { base64ToBytes, bytesToBase64 } from '../utils/base64.js'
import { withFields } from '../utils/withFields.js'
import { requireApproval } from './approval.js'
import type { Payable } from './chooseOffer.js'
import { fail, originOf, type PayingContext, refuse } from './context.js'
import { invalidProofHeader } from './invalidProofHeader.js'
import { keepLease } from './keepLease.js'
import { neverSent } from './neverSent.js'
import { read402 } from './read402.js'
import { captureRequest, type ReplayableRequest } from './replayableRequest.js'
import { sendFollowingRedirects } from './sendFollowingRedirects.js'
import { storeFailed } from './storeFailed.js'
import { withoutProof } from './withoutProof.js'

/**
 * One payment attempt and every ledger transition it makes, in the order the money rules need:
 *
 * reserve → approve → sign → pending (the exact request and proof kept durably) → replay →
 * committed (the answer shows it went through) / refused (402 again: still counted, the server
 * holds a proof it could settle) / unknown (no answer: counted, resumable) / released (provably
 * nothing paid: denied, failed before anything left).
 *
 * Each attempt owns its reservation under a lease it renews while it works (`keepLease`), so a
 * process that dies before its proof left frees the room one lease later, and one that lives keeps
 * it however long `approve` or the wallet takes. A wallet that pays on signing (Lightning) is
 * marked unknown before it is asked: from then on only the money's outcome can free the room. A
 * resumer claims a pending payment before sending it again, so one process at a time sends it.
 *
 * The paying loop starts attempts with {@link payOffer}; `resume` continues a pending one with
 * {@link resumePayment}. Nothing else in payfetch writes to the ledger.
 */

/** One payment a call made, and what came back. */
export type Paid = {
  readonly candidate: Payable
  readonly proof: MethodProof
  readonly pending: PendingPayment
  readonly hops: Response[]
  /** The answer showed the payment went through (or the money moved when the signer paid). */
  readonly settled: boolean
  /** The server refused the proof (402, or what else its protocol refuses with). */
  readonly refused: boolean
  /** The receipt, built when first asked for, when the payment settled and the server did not refuse it. */
  readonly receipt?: (() => Receipt) | undefined
  /** The reusable token the payment bought (L402), already stored in the sessions. */
  readonly token?: SessionToken | undefined
}

/**
 * Pays one offer and replays the request with the proof. A token it buys (L402) is stored for the
 * origin and returned, for the calls waiting on this payment (`sharedFlight.ts`).
 */
export async function payOffer(
  context: PayingContext,
  request: ReplayableRequest,
  url: string,
  candidate: Payable,
  idempotencyKey: string,
  answer?: Response402,
): Promise<Paid> {
  const { offer, protocol, signer } = candidate
  let token: SessionToken | undefined
  // The attempt's key names its reservation and holds its lease.
  const owner = newPaymentKey()
  let stopLease = () => {}
  // A channel payment: the channel's state decides what is reserved (a deposit, or the price drawn
  // from one already counted) and signed; one call at a time holds it.
  const turn = await candidate.payer.channel
    ?.take(offer.method, { url, signal: request.signal, report: context.emit, sessions: context.sessions })
    .catch((error: unknown) => {
      throw refuse(context, url, error)
    })
  try {
    // Reserve first: nobody is asked to approve a payment the budget would refuse, and an approved
    // payment keeps its room while the human thinks (its lease renewed meanwhile).
    const [id, charges] = await reserve(context, candidate, url, owner, turn)
    stopLease = keepLease(context.ledger, id, owner)
    await requireApproval(
      {
        url,
        offer,
        usd: usd(candidate.nanoUsd),
        signer: signer.name,
        ...(turn?.deposit && {
          deposit: { amount: turn.deposit, usd: usd(scaled(candidate.nanoUsd, turn.deposit, offer.amount)) },
        }),
      },
      {
        approve: context.approve,
        approveTimeoutMs: context.approveTimeoutMs,
        webhook: context.policyWebhook,
        fetch: context.fetch,
      },
      request.signal,
    ).catch(async (error: unknown) => {
      await release(context, id)
      throw refuse(context, url, error)
    })
    // Time passed while approving: an offer that expired meanwhile, or a call aborted, is not paid.
    if (request.signal?.aborted) {
      await release(context, id)
      throw request.signal?.reason
    }
    if (offer.expiresAt !== undefined && offer.expiresAt <= Date.now()) {
      await release(context, id)
      throw refuse(
        context,
        url,
        new PayfetchError('CHALLENGE_INVALID', 'The offer expired before it could be paid.', {
          details: { ...describeOffer(offer), reason: 'expired' },
        }),
      )
    }
    context.emit({ type: 'offer.chosen', url, offer, signer: signer.name, signed: candidate.signed })
    const paidOnSigning = paysOnSigning(offer.method)
    const unproven: PendingPayment = {
      id,
      idempotencyKey,
      protocol: protocol.name,
      scheme: offer.scheme,
      url,
      method: request.method,
      headers: Object.fromEntries(request.headersTo(url)),
      proof: {},
      body: request.body && bytesToBase64(request.body),
      network: offer.network,
      asset: offer.asset.id,
      amount: offer.amount.toString(),
      reserved: (turn?.deposit || (candidate.cost ?? offer.amount)).toString(),
      nanoUsd: candidate.nanoUsd?.toString(),
      payTo: offer.payTo,
      reference: offer.method.kind === 'bolt11' ? offer.method.paymentHash : undefined,
      paidOnSigning,
      time: Date.now(),
    }
    // Money may move inside the wallet call: no lease may release this reservation from now on,
    // and the payment is kept, with its challenge, before the wallet is asked, so a crash before
    // its answer is kept leaves a payment `resume` can finish, not an anonymous reservation.
    if (paidOnSigning) {
      let operation = 'markUnknown'
      try {
        await context.ledger.markUnknown(id)
        operation = 'savePending'
        // The challenge headers (L402, `Payment`, x402 v2): what a resume reads the offer from.
        const challenge: Record<string, string> = {}
        for (const name of ['www-authenticate', 'payment-required']) {
          const value = answer?.headers.get(name)
          if (value) challenge[name] = value
        }
        await context.ledger.savePending(withFields(unproven, { challenge }), owner)
      } catch (error) {
        // Nothing was paid: the wallet was not asked.
        await release(context, id)
        throw refuse(context, url, storeFailed('ledger', operation, false, url, error))
      }
    }
    const proof = await sign(context, candidate, url, request.signal, id, turn?.request)
    if (turn) await kept(context, url, id, () => turn.signed(proof))
    let pending: PendingPayment = withFields(unproven, {
      proof: await proofHeaders(context, candidate, proof, url, id, idempotencyKey),
      payer: 'payer' in proof ? proof.payer : undefined,
      fee: proof.kind === 'bolt11' ? proof.feeMsat?.toString() : undefined,
    })
    if (pending.fee !== undefined && BigInt(pending.fee) > BigInt(pending.reserved ?? pending.amount) - offer.amount)
      context.emit({
        type: 'fee.exceeded',
        url,
        limit: (candidate.cost ?? offer.amount) - offer.amount,
        fee: BigInt(pending.fee),
      })
    try {
      await context.ledger.savePending(pending, owner)
    } catch (error) {
      // Not kept, not sent: a proof nobody could resume never leaves. Money a wallet already paid
      // is worth the answer, so that proof still goes.
      if (!paidOnSigning) {
        await release(context, id)
        throw fail(context, url, storeFailed('ledger', 'savePending', false, url, error))
      }
      context.emit({ type: 'store.failed', url, error: storeFailed('ledger', 'savePending', true, url, error) })
    }
    const bought = protocol.sessionToken?.(offer, proof)
    if (!request.signal?.aborted) context.emit({ type: 'payment.sent', url, offer, idempotencyKey })
    // A token bought with money that already left is kept once its own request went, answered or
    // lost: a lost answer must not cost a second payment for it, and calls elsewhere that find it
    // must not use up a token the server meters before the request that paid for it is served.
    let hops = await replay(context, request, pending).finally(
      () => bought && paidOnSigning && keepToken(context, url, bought),
    )
    let settled: boolean
    let refused: boolean
    if (turn) {
      ;({ settled, refused, hops, pending } = await settleChannel(context, candidate, turn, request, {
        pending,
        hops,
        owner,
        charges,
      }))
    } else ({ settled, refused } = await settle(context, protocol, pending, hops))
    let receipt: (() => Receipt) | undefined
    if (settled && !refused) {
      receipt = await checkedReceipt(context, protocol, pending, hops, {
        resource: offer.resource,
        offerCheck: candidate.signed,
        proof,
      })
      if (context.observed) context.emit({ type: 'receipt', receipt: receipt() })
      token = bought
      if (token && !paidOnSigning) await keepToken(context, url, token)
    }
    return { candidate, proof, pending, hops, settled, refused, receipt, token }
  } finally {
    stopLease()
    await turn?.end()
  }
}

/** What a channel payment's answers came to, after any resync or resend of the same proof. */
type ChannelSettled = { settled: boolean; refused: boolean; hops: Response[]; pending: PendingPayment }

const busyRetries = 3

/**
 * The server's answer to a channel payment, checked by the channel before anything more is signed.
 * A corrective 402 whose server state the channel verified is answered with one voucher signed
 * again on that state; a busy channel gets the same proof again, a few times, after a pause.
 */
async function settleChannel(
  context: PayingContext,
  candidate: Payable,
  turn: ChannelTurn,
  request: ReplayableRequest,
  sent: { pending: PendingPayment; hops: Response[]; owner: string; charges: Settled['charges'] },
): Promise<ChannelSettled> {
  const { protocol, offer, nanoUsd } = candidate
  let { pending, hops } = sent
  for (let tries = 0; ; tries++) {
    const last = hops[hops.length - 1] as Response
    const refused = protocol.refuses ? protocol.refuses(last.status) : last.status === 402
    const report = hops.flatMap((hop) => settlementOf(protocol, hop, pending) ?? [])[0]
    if (!refused && last.status >= 400 && !report) {
      // No answer about the money: the voucher may have been charged; it stays open in the channel.
      await keep(context, pending.url, 'markUnknown', pending.id)
      reportUnsettled(context, pending, last.status)
      return { settled: false, refused: false, hops, pending }
    }
    // The 402's challenge travels in its header (x402 v2): its body stays for the caller.
    const answer = refused ? { url: pending.url, headers: last.headers, body: undefined } : undefined
    let offered: PaymentMethod | undefined
    try {
      offered = answer && protocol.decode(answer).find((found) => found.method?.kind === offer.method.kind)?.method
    } catch {}
    const outcome = await turn.answered({
      refused,
      report,
      reason: answer && protocol.refusalReason(answer),
      offered,
    })
    if (outcome.kind === 'charged' || outcome.kind === 'invalid') {
      const { charged } = outcome
      // Spent: the charge. Budgets: what was reserved (the deposit, or nothing drawn from one).
      const spend = { network: offer.network, asset: offer.asset.id, host: new URL(pending.url).host }
      await keep(context, pending.url, 'commit', pending.id, {
        spend: { ...spend, amount: charged, nanoUsd: scaled(nanoUsd, charged, offer.amount) },
        charges: sent.charges,
      })
      if (outcome.kind === 'invalid') context.emit({ type: 'payment.failed', url: pending.url, error: outcome.error })
      // The receipt shows the charge, not the price.
      return { settled: true, refused: false, hops, pending: { ...pending, amount: charged.toString() } }
    }
    if (outcome.kind === 'refused' || tries >= busyRetries) {
      await keep(context, pending.url, 'markRefused', pending.id)
      return { settled: false, refused: true, hops, pending }
    }
    if (outcome.kind === 'busy') await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** tries))
    else {
      const proof = await sign(context, candidate, pending.url, request.signal, pending.id, outcome.request)
      await kept(context, pending.url, pending.id, () => turn.signed(proof))
      const headers = await proofHeaders(context, candidate, proof, pending.url, pending.id, pending.idempotencyKey)
      pending = { ...pending, proof: headers }
      await kept(context, pending.url, pending.id, () => context.ledger.savePending(pending, sent.owner))
    }
    hops = await replay(context, request, pending)
  }
}

/** A channel write that must succeed before a proof leaves: else nothing is sent and the room is freed. */
async function kept(context: PayingContext, url: string, id: string, write: () => Promise<void>): Promise<void> {
  try {
    await write()
  } catch (error) {
    await release(context, id)
    throw fail(context, url, storeFailed('sessions', 'set', false, url, error))
  }
}

/**
 * Sends a pending payment's exact request and proof again, without signing: after a lost answer,
 * or in a new process that finds it in a durable ledger.
 *
 * It first claims the payment in the ledger (a lease it renews until the answer): a payment another
 * call or process is sending now is not sent a second time alongside.
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` when it is not pending any more; `PAYMENT_IN_PROGRESS`
 * when another call or process holds it (until `details.until`); `PAYMENT_REJECTED` when the
 * server refuses it; `PAYMENT_OUTCOME_UNKNOWN` when the answer is lost again.
 */
export async function resumePayment(context: PayingContext, pending: PendingPayment): Promise<Response> {
  const protocol = context.protocols.find((candidate) => candidate.name === pending.protocol)
  if (!protocol)
    throw new PayfetchError(
      'INVALID_OPTIONS',
      `Pending payment ${pending.id} uses protocol ${pending.protocol}, which this fetch does not speak.`,
    )
  // Only a payment still pending may go out again, and by one sender at a time.
  const owner = newPaymentKey()
  await claim(context, pending, owner)
  const stopLease = keepLease(context.ledger, pending.id, owner)
  try {
    if (!pending.challenge) return await resend(context, protocol, pending)
    const [paid, token] = await proven(context, protocol, pending, owner)
    // Kept once the request it paid for went, as when paying.
    return await resend(context, protocol, paid).finally(() => token && keepToken(context, pending.url, token))
  } finally {
    stopLease()
  }
}

/**
 * A payment kept before its wallet answered (the process died, or the answer was lost): the
 * wallet is asked for it by payment hash, never to pay it again. Paid: the proof is built from the
 * kept challenge and kept, and returned with the token it bought. Failed: the reservation is
 * released. Otherwise it stays pending.
 */
async function proven(
  context: PayingContext,
  protocol: Protocol,
  pending: PendingPayment,
  owner: string,
): Promise<[PendingPayment, SessionToken | undefined]> {
  const { id, url, reference } = pending
  let offer: Offer | undefined
  try {
    const headers = new Headers(pending.challenge)
    // As of when it was paid: an invoice that expired since was still paid.
    offer = protocol
      .decode({ url, headers, body: undefined, at: pending.time })
      .find((found) => found.method?.kind === 'bolt11' && found.method.paymentHash === reference)
  } catch {}
  const method = offer?.method
  const payer = method && context.signers.map((signer) => payerFor(signer, method)).find((each) => each?.lookup)
  const found =
    (method && (await payer?.lookup?.(method, { url, report: context.emit }).catch(() => undefined))) || 'unknown'
  if (found === 'failed') {
    await release(context, id)
    throw fail(
      context,
      url,
      new PayfetchError('PAYMENT_FAILED', `Payment ${reference} failed in the wallet; nothing was paid.`, {
        details: { url, pendingId: id, paymentHash: reference },
      }),
    )
  }
  if (found === 'unknown' || !offer) {
    await keep(context, url, 'markUnknown', id)
    throw fail(context, url, outcomeUnknown(context, pending, `The wallet cannot say if ${reference} was paid.`))
  }
  const paid: PendingPayment = {
    ...pending,
    challenge: undefined,
    proof: await proofHeaders(context, { protocol, offer } as Payable, found, url, id, pending.idempotencyKey),
    fee: found.kind === 'bolt11' ? found.feeMsat?.toString() : undefined,
  }
  // Not kept: the proof still goes, and the commit after the answer settles it all the same.
  await context.ledger.savePending(paid, owner).catch(() => {})
  return [paid, protocol.sessionToken?.(offer, found)]
}

// Bookkeeping after money moved: a store that cannot keep the token costs a later payment, not this answer.
async function keepToken(context: PayingContext, url: string, token: SessionToken): Promise<void> {
  try {
    await context.sessions.set(originOf(url), token)
  } catch (error) {
    context.emit({ type: 'store.failed', url, error: storeFailed('sessions', 'set', true, url, error) })
  }
}

async function claim(context: PayingContext, pending: PendingPayment, owner: string): Promise<void> {
  let claimed: Awaited<ReturnType<PayingContext['ledger']['claim']>>
  try {
    claimed = await context.ledger.claim(pending.id, owner)
  } catch (error) {
    throw refuse(context, pending.url, storeFailed('ledger', 'claim', false, pending.url, error))
  }
  if (claimed.ok) return
  if (claimed.reason === 'held')
    throw refuse(
      context,
      pending.url,
      new PayfetchError(
        'PAYMENT_IN_PROGRESS',
        `Payment ${pending.id} is held by another call or process until ${new Date(claimed.until).toISOString()}.`,
        { details: { pendingId: pending.id, until: claimed.until } },
      ),
    )
  throw new PayfetchError(
    'INVALID_OPTIONS',
    `Payment ${pending.id} is not pending any more; it was settled or refused.`,
    {
      details: { pendingId: pending.id },
    },
  )
}

async function resend(context: PayingContext, protocol: Protocol, pending: PendingPayment): Promise<Response> {
  const body = pending.body === undefined ? undefined : base64ToBytes(pending.body)
  const request = await captureRequest(
    pending.url,
    { method: pending.method, headers: pending.headers, ...(body ? { body } : {}) },
    context.maxBodyBytes,
  )
  const hops = await replay(context, request, pending, true)
  const response = hops[hops.length - 1] as Response
  const { settled, refused } = await settle(context, protocol, pending, hops)
  if (refused) {
    const answer = await read402(response, pending.url, { timeoutMs: context.readTimeoutMs })
    const reason = withoutProof(protocol.refusalReason(answer), pending.proof)
    throw fail(
      context,
      pending.url,
      new PayfetchError('PAYMENT_REJECTED', `The server refused the resumed payment${reason ? `: ${reason}` : ''}.`, {
        details: { url: pending.url, reason, pendingId: pending.id },
      }),
    )
  }
  if (settled) {
    const receipt = await checkedReceipt(context, protocol, pending, hops)
    if (context.observed) context.emit({ type: 'receipt', receipt: receipt() })
    attachReceipt(response, receipt)
  }
  return response
}

/** The refusal of a second 402 after paying, with the server's reason (proof pieces cut out). */
export function rejected(paid: Paid, response: Response402, url: string, again?: PayfetchError): PayfetchError {
  const reason = withoutProof(paid.candidate.protocol.refusalReason(response), paid.pending.proof, paid.proof)
  const status = paid.hops[paid.hops.length - 1]?.status
  // Why the next payment was not made, when a policy (not the challenge) said no.
  const refused = again && again.code !== 'CHALLENGE_INVALID' ? again : undefined
  return new PayfetchError(
    'PAYMENT_REJECTED',
    `The server ${status === 402 ? 'answered 402 again after payment' : `refused the payment with ${status}`}${reason ? `: ${reason}` : ''}.${refused ? ` Paying again was refused: ${refused.shortMessage}` : ''}`,
    {
      details: { url, reason, ...describeOffer(paid.candidate.offer), ...(refused && { refusal: refused.code }) },
      ...(refused && { cause: refused }),
    },
  )
}

/** A fresh key for a call or a reservation: `pf_` and 32 hex digits, valid as an x402 payment id. */
export function newPaymentKey(): string {
  return `pf_${crypto.randomUUID().replaceAll('-', '')}`
}

async function reserve(
  context: PayingContext,
  candidate: Payable,
  url: string,
  owner: string,
  turn: ChannelTurn | undefined,
): Promise<[string, Settled['charges']]> {
  const { offer } = candidate
  // Caps and budgets count the worst case: the amount plus the signer's fee limit; a channel's
  // deposit when it makes one, and nothing more for a price drawn from a deposit already counted.
  const deposit = turn?.deposit ?? 0n
  const amount = deposit || (candidate.cost ?? offer.amount)
  const nanoUsd = deposit ? scaled(candidate.nanoUsd, deposit, offer.amount) : candidate.nanoUsd
  const target = new URL(url)
  let charges: ReturnType<PayingContext['policy']['charges']>
  try {
    charges = turn && !deposit ? [] : context.policy.charges({ ...offer, amount }, target, nanoUsd)
  } catch (error) {
    throw refuse(context, url, error)
  }
  const id = owner
  const spend = { network: offer.network, asset: offer.asset.id, amount, host: target.host, nanoUsd }
  let result: Awaited<ReturnType<PayingContext['ledger']['reserve']>>
  try {
    result = await context.ledger.reserve({ id, time: Date.now(), spend, charges, owner })
  } catch (error) {
    throw refuse(context, url, storeFailed('ledger', 'reserve', false, url, error))
  }
  if (!result.ok)
    throw refuse(
      context,
      url,
      new PayfetchError('BUDGET_EXHAUSTED', 'A budget has no room left for this payment.', {
        details: {
          ...describeOffer(offer),
          budget: result.key,
          used: result.used.toString(),
          limit: result.limit.toString(),
        },
      }),
    )
  return [id, charges]
}

/** A value in nano-dollars for `amount`, from the value of `of`, rounded up. */
const usd = (nanoUsd: bigint | undefined) => (nanoUsd === undefined ? undefined : formatNanoUsd(nanoUsd))

const scaled = (nanoUsd: bigint | undefined, amount: bigint, of: bigint) =>
  nanoUsd === undefined ? undefined : (nanoUsd * amount + of - 1n) / of

// A wallet that may have paid keeps its reservation counted; any other failure frees it.
async function sign(
  context: PayingContext,
  { signer, payer, offer, protocol }: Payable,
  url: string,
  signal: AbortSignal | undefined,
  id: string,
  method: PaymentMethod = offer.method,
): Promise<MethodProof> {
  try {
    const proof = await payer.pay(method, {
      url,
      signal,
      report: context.emit,
    })
    if (proof?.kind !== offer.method.kind) throw new TypeError(`The signer returned no ${offer.method.kind} proof.`)
    return proof
  } catch (error) {
    const unknown = isPayfetchError(error, 'PAYMENT_OUTCOME_UNKNOWN')
    await (unknown ? keep(context, url, 'markUnknown', id) : release(context, id))
    if (signal?.aborted && !unknown) throw error
    throw fail(
      context,
      url,
      isPayfetchError(error)
        ? error
        : new PayfetchError('PAYMENT_FAILED', `The ${signer.name} signer could not pay.`, {
            details: { url, protocol: protocol.name, ...describeOffer(offer) },
            cause: error,
          }),
    )
  }
}

// The proof headers and the call's idempotency key; a proof that cannot be sent is never sent.
async function proofHeaders(
  context: PayingContext,
  { protocol, offer }: Payable,
  proof: MethodProof,
  url: string,
  id: string,
  idempotencyKey: string,
): Promise<Record<string, string>> {
  let headers: Record<string, string> | undefined
  let cause: unknown
  try {
    headers = withFields(protocol.proofHeaders(offer, proof, { idempotencyKey }), { 'idempotency-key': idempotencyKey })
  } catch (error) {
    cause = error
  }
  const badHeader = headers && invalidProofHeader(headers)
  if (headers && !badHeader) return headers
  // A wallet that may have paid already (Lightning) stays counted.
  const paid = paysOnSigning(offer.method)
  await (paid ? keep(context, url, 'markUnknown', id) : release(context, id))
  throw fail(
    context,
    url,
    new PayfetchError(
      paid ? 'PAYMENT_OUTCOME_UNKNOWN' : 'PAYMENT_FAILED',
      `The ${protocol.name} proof could not be built${paid ? ' after the wallet paid' : ''}.`,
      { details: { url, header: badHeader, ...describeOffer(offer) }, cause },
    ),
  )
}

/**
 * Sends the request with its proof, redirects followed by hand. A network failure after the proof
 * left is `PAYMENT_OUTCOME_UNKNOWN`: the amount stays counted and `error.resume()` sends the same
 * bytes again. A `resumed` payment's proof may have left before, so it is never released here.
 */
async function replay(
  context: PayingContext,
  request: ReplayableRequest,
  pending: PendingPayment,
  resumed = false,
): Promise<Response[]> {
  const paidOnSigning = pending.paidOnSigning ?? pending.protocol === 'l402'
  // Aborted before it left: nothing was sent, and nothing but a paid invoice is counted.
  const abortedBefore = request.signal?.aborted === true
  if (abortedBefore && !paidOnSigning) {
    await release(context, pending.id)
    throw request.signal?.reason
  }
  try {
    return await sendFollowingRedirects(
      context.fetch,
      request,
      { url: pending.url, proof: pending.proof },
      context.maxRedirects,
    )
  } catch (error) {
    if (isPayfetchError(error)) {
      // The server answered the proof (with a redirect the caller would not follow): not refused, not unknown.
      await keep(context, pending.url, 'commit', pending.id)
      throw fail(context, pending.url, error)
    }
    // The connection never opened: the proof did not leave, so nothing can have settled on it.
    if (neverSent(error) && !paidOnSigning && !resumed) {
      await release(context, pending.id)
      throw fail(
        context,
        pending.url,
        new PayfetchError('PAYMENT_FAILED', 'The server could not be reached; the proof was not sent.', {
          details: { url: pending.url, network: pending.network, asset: pending.asset, amount: pending.amount },
          cause: error,
        }),
      )
    }
    await keep(context, pending.url, 'markUnknown', pending.id)
    // A wallet that pays on signing has paid even when the proof never left: say which it was.
    const what =
      paidOnSigning && (abortedBefore || neverSent(error))
        ? 'wallet paid but the proof was not sent'
        : 'proof was sent but no response came back'
    throw fail(
      context,
      pending.url,
      outcomeUnknown(context, pending, `The ${what}; resume it, never pay again.`, { cause: error }),
    )
  }
}

/** `PAYMENT_OUTCOME_UNKNOWN` for a pending payment, with `resume()` to send its exact bytes again. */
function outcomeUnknown(
  context: PayingContext,
  pending: PendingPayment,
  message: string,
  extra: { status?: number | undefined; cause?: unknown } = {},
): PayfetchError {
  const { url, id: pendingId, idempotencyKey, network, asset, amount } = pending
  const unknown = new PayfetchError('PAYMENT_OUTCOME_UNKNOWN', message, {
    details: {
      url,
      ...(extra.status && { status: extra.status }),
      pendingId,
      idempotencyKey,
      network,
      asset,
      amount,
      // A Lightning payment whose wallet answer was lost is known by its hash.
      ...(pending.challenge && { paymentHash: pending.reference }),
    },
    cause: extra.cause,
  })
  unknown.resume = () => resumePayment(context, pending)
  return unknown
}

/**
 * An answer after the proof that neither settled nor refused it (a 500 without a settlement
 * report): the response still goes to the caller, and a `payment.failed` event says the payment
 * stays pending, to resume rather than pay again.
 */
function reportUnsettled(context: PayingContext, pending: PendingPayment, status: number): void {
  const message = `The server answered ${status} after the proof was sent, without saying whether it settled; the payment stays pending.`
  context.emit({
    type: 'payment.failed',
    url: pending.url,
    error: outcomeUnknown(context, pending, message, { status }),
  })
}

/**
 * Records what the server's answer says about the money: money that moved when the signer paid
 * has moved; a proof the server settles is settled by a success, refused by a 402 (still counted:
 * the server holds an authorization it could settle), and unknown after an error without a
 * settlement report. Says whether the payment counts as made and whether the server refused it.
 */
async function settle(
  context: PayingContext,
  protocol: Protocol,
  pending: PendingPayment,
  hops: readonly Response[],
): Promise<{ settled: boolean; refused: boolean }> {
  const { status } = hops[hops.length - 1] as Response
  const refused = protocol.refuses ? protocol.refuses(status) : status === 402
  // Entries saved before `paidOnSigning` existed: only L402 paid on signing then.
  const paidOnSigning = pending.paidOnSigning ?? pending.protocol === 'l402'
  // Reports are read only when they decide something: an error status, or what an `upto` charged.
  const reports = () => hops.flatMap((hop) => settlementOf(protocol, hop, pending) ?? [])
  if (paidOnSigning || (!refused && (status < 400 || reports().length > 0))) {
    const charged =
      pending.scheme === 'upto'
        ? chargedAmount(pending, reports().find((report) => report.amount !== undefined)?.amount)
        : undefined
    await keep(context, pending.url, 'commit', pending.id, settledSpend(context, pending, charged))
    return { settled: true, refused }
  }
  await keep(context, pending.url, refused ? 'markRefused' : 'markUnknown', pending.id)
  if (!refused) reportUnsettled(context, pending, status)
  return { settled: false, refused }
}

/**
 * What an `upto` payment charged: the settled amount the server reports, when it is within the
 * ceiling signed. `undefined` (the ceiling stays counted) for every other scheme, without a
 * report, or for a report above the ceiling, which the receipt flags instead of trusting.
 */
function chargedAmount(pending: PendingPayment, reported: bigint | undefined): bigint | undefined {
  if (pending.scheme !== 'upto' || reported === undefined) return undefined
  return reported <= BigInt(pending.amount) ? reported : undefined
}

/**
 * What left the wallet when it differs from the reservation (an `upto` charge below its ceiling, a
 * Lightning fee reported below or above its limit), valued and charged as the reservation was.
 */
function settledSpend(context: PayingContext, pending: PendingPayment, charged?: bigint): Settled | undefined {
  if (pending.reserved === undefined) return undefined
  const reserved = BigInt(pending.reserved)
  const spent = charged ?? (pending.fee === undefined ? undefined : BigInt(pending.amount) + BigInt(pending.fee))
  if (spent === undefined || spent === reserved || reserved === 0n) return undefined
  // Valued like the reservation, rounded up.
  const nanoUsd =
    pending.nanoUsd === undefined ? undefined : (BigInt(pending.nanoUsd) * spent + reserved - 1n) / reserved
  const offer = { network: pending.network, asset: { id: pending.asset }, amount: spent }
  const target = new URL(pending.url)
  try {
    const charges = context.policy.charges(offer as Offer, target, nanoUsd)
    return {
      spend: { network: pending.network, asset: pending.asset, amount: spent, host: target.host, nanoUsd },
      charges,
    }
  } catch {
    // Charges that cannot be worked out again (the caps changed): the reservation stays as it was.
    return undefined
  }
}

/** Frees a reservation: nothing was paid. A ledger that cannot is left over-counting, never under. */
async function release(context: PayingContext, id: string): Promise<void> {
  await context.ledger.release(id).catch(() => {})
}

/**
 * A ledger write after money may have moved. Its failure must not lose the answer or hide the
 * payment's own error: it is reported as `store.failed` and the call goes on.
 */
async function keep(
  context: PayingContext,
  url: string,
  operation: 'commit' | 'markRefused' | 'markUnknown',
  id: string,
  settled?: Settled,
): Promise<void> {
  try {
    await (operation === 'commit' ? context.ledger.commit(id, settled) : context.ledger[operation](id))
  } catch (error) {
    const paid = operation === 'commit' ? true : 'unknown'
    context.emit({ type: 'store.failed', url, error: storeFailed('ledger', operation, paid, url, error) })
  }
}

/** A successful settlement report for this payment's network, else `undefined`. */
function settlementOf(protocol: Protocol, hop: Response, pending: PendingPayment) {
  const report = protocol.settlement?.(hop)
  return report?.success && (report.network === undefined || report.network === pending.network) ? report : undefined
}

/**
 * The receipt, with what the server signed about the payment checked when the fetch checks signed
 * terms (`verified`, cut of every piece of the proof). A check that fails flags, never loses the answer.
 */
async function checkedReceipt(
  context: PayingContext,
  protocol: Protocol,
  pending: PendingPayment,
  hops: readonly Response[],
  paid: { resource?: string | undefined; offerCheck?: OfferCheck | undefined; proof?: MethodProof } = {},
): Promise<() => Receipt> {
  const receipt = lazyReceipt(protocol, pending, hops, paid.proof)
  if (!context.signedTerms) return receipt
  // The last report with extensions: the paid answer's.
  const extensions = hops
    .map((hop) => protocol.settlement?.(hop)?.extensions)
    .filter(Boolean)
    .pop()
  const verified = await context.signedTerms
    .checkReceipt({
      resource: paid.resource,
      offerCheck: paid.offerCheck,
      receipt: receipt(),
      payer: pending.payer,
      extensions,
      fetch: context.fetch,
    })
    .catch(() => ({ receipt: false, problems: ['the signature check failed'] }))
  if (!verified) return receipt
  const checked = {
    ...receipt(),
    verified: JSON.parse(withoutProof(JSON.stringify(verified), pending.proof, paid.proof) as string),
  }
  return () => checked
}

/** The receipt, built once when first asked for, dated now: when the paid answer arrived. */
function lazyReceipt(
  protocol: Protocol,
  pending: PendingPayment,
  hops: readonly Response[],
  proof?: MethodProof,
): () => Receipt {
  const time = Date.now()
  let receipt: Receipt | undefined
  return () => {
    receipt ??= receiptFor(protocol, pending, hops, time, proof)
    return receipt
  }
}

/**
 * The receipt: what was paid, with the server's settlement report where it agrees with the payment.
 * A report that contradicts it (another amount for an exact charge, more than an `upto` ceiling, a
 * piece of the proof as the reference) is ignored and named in `ignored`.
 */
function receiptFor(
  protocol: Protocol,
  pending: PendingPayment,
  hops: readonly Response[],
  time: number,
  proof?: MethodProof,
): Receipt {
  const ignored = new Set<'amount' | 'reference' | 'payer' | 'network'>()
  const reports = hops.flatMap((hop) => {
    const report = protocol.settlement?.(hop)
    if (!report?.success) return []
    if (report.network !== undefined && report.network !== pending.network) {
      ignored.add('network')
      return []
    }
    return [report]
  })
  const report = reports.find((found) => found.reference) ?? reports[0]
  const authorized = BigInt(pending.amount)
  // A channel's report names the deposit or refund as `amount`; its charge is already in `pending`.
  const reportedAmount =
    pending.scheme === 'batch-settlement' ? undefined : reports.find((found) => found.amount !== undefined)?.amount
  // A settled amount counts only up to an `upto` ceiling; an exact charge settles exactly.
  const amount = chargedAmount(pending, reportedAmount) ?? authorized
  if (reportedAmount !== undefined && reportedAmount !== amount) ignored.add('amount')
  // A server that quotes the proof back (its signature as a "transaction hash") is not believed.
  const honest = (field: 'reference' | 'payer', value: string | undefined) => {
    if (value === undefined || withoutProof(value, pending.proof, proof) === value) return value
    ignored.add(field)
    return undefined
  }
  const receipt: Receipt = {
    protocol: pending.protocol,
    network: pending.network,
    asset: pending.asset,
    amount,
    fee: pending.fee === undefined ? undefined : BigInt(pending.fee),
    payTo: pending.payTo,
    payer: honest('payer', report?.payer) ?? pending.payer,
    reference: honest('reference', report?.reference) ?? pending.reference,
    url: pending.url,
    time,
    ...(ignored.size > 0 && { ignored: [...ignored] }),
    ...(settlementHidden(protocol, hops) && { settlement: 'not-visible' as const }),
  }
  return receipt
}

// A page reads only the headers another origin exposes, and none of a redirect it did not follow
// (`opaqueredirect`): no report there is not "no report sent".
function settlementHidden(protocol: Protocol, hops: readonly Response[]): boolean {
  const type = hops[hops.length - 1]?.type
  return (
    protocol.settlement !== undefined &&
    (type === 'cors' || type === 'opaqueredirect') &&
    hops.every((hop) => protocol.settlement?.(hop) === undefined)
  )
}
