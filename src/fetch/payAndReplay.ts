import { formatNanoUsd, type Policy } from '../caps/policy.js'
import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import type { PendingPayment } from '../ledger/Ledger.js'
import { describeOffer } from '../offer/describeOffer.js'
import type { Offer } from '../offer/Offer.js'
import type { Protocol, Response402 } from '../protocols/Protocol.js'
import type { SessionToken } from '../sessions/SessionStore.js'
import type { Payment, Signer } from '../signers/Signer.js'
import { bytesToBase64 } from '../utils/base64.js'
import { requireApproval } from './approval.js'
import type { Payable } from './chooseOffer.js'
import { fail, originOf, type PayingContext, refuse } from './context.js'
import { invalidProofHeader } from './invalidProofHeader.js'
import { replay, settle } from './replay.js'
import type { ReplayableRequest } from './replayableRequest.js'
import { withoutProof } from './withoutProof.js'

/** One payment a call made, and what came back. */
export type Paid = {
  readonly candidate: Payable
  readonly payment: Payment
  readonly proof: Readonly<Record<string, string>>
  readonly hops: Response[]
  readonly reservationId: string
  /** The answer showed the payment went through; a receipt is attached only then. */
  readonly settled: boolean
}

/**
 * Pays one offer and replays the request with the proof, in the order the money rules need:
 * reserve in the ledger, approve, sign, keep the exact request and proof durably, send, then
 * settle the ledger by the server's answer. A payment whose credential can be reused (L402) is a
 * flight other calls to the origin wait for instead of paying again.
 */
export async function payAndReplay(
  context: PayingContext,
  request: ReplayableRequest,
  url: string,
  candidate: Payable,
  idempotencyKey: string,
): Promise<Paid> {
  const { offer, protocol, signer } = candidate
  const { ledger } = context
  const origin = originOf(url)
  let landFlight: ((credential: SessionToken | undefined) => void) | undefined
  if (protocol.credential && !context.flights.has(origin))
    context.flights.set(origin, new Promise<SessionToken | undefined>((resolve) => (landFlight = resolve)))
  let credential: SessionToken | undefined
  try {
    // Reserve first: nobody is asked to approve a payment the budget would refuse, and an approved
    // payment keeps its room while the human thinks.
    const reservationId = await reserve(
      context,
      { ...offer, amount: candidate.cost ?? offer.amount },
      url,
      candidate.nanoUsd,
    )
    await requireApproval(
      {
        url,
        offer,
        usd: candidate.nanoUsd === undefined ? undefined : formatNanoUsd(candidate.nanoUsd),
        signer: signer.name,
      },
      {
        approve: context.approve,
        approveTimeoutMs: context.approveTimeoutMs,
        webhook: context.policyWebhook,
        fetch: context.fetch,
      },
    ).catch(async (error: unknown) => {
      await ledger.release(reservationId)
      throw refuse(context, url, error)
    })
    context.emit({ type: 'offer.chosen', url, offer, signer: signer.name })
    const payment = await sign(context, candidate, url, request, reservationId)
    const proof = await proofFor(context, protocol, offer, payment, url, reservationId, idempotencyKey)
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
    context.emit({ type: 'payment.sent', url, offer, idempotencyKey })
    const hops = await replay(context, request, pending)
    const settled = await settle(context, protocol, hops, offer, payment, reservationId)
    if (settled && (hops[hops.length - 1] as Response).status !== 402) {
      credential = protocol.credential?.(offer, payment)
      if (credential) await context.sessions.set(origin, credential)
    }
    return { candidate, payment, proof, hops, reservationId, settled }
  } finally {
    if (landFlight) {
      context.flights.delete(origin)
      landFlight(credential)
    }
  }
}

/** The refusal of a second 402 after paying, with the server's reason (proof pieces cut out). */
export function rejected(paid: Paid, challenge: Response402, url: string): PayfetchError {
  const reason = withoutProof(paid.candidate.protocol.refusalReason(challenge), paid.proof, paid.payment.payload)
  return new PayfetchError(
    'PAYMENT_REJECTED',
    `The server answered 402 again after payment${reason ? `: ${reason}` : ''}.`,
    {
      details: { url, reason, ...describeOffer(paid.candidate.offer) },
    },
  )
}

async function reserve(
  context: PayingContext,
  offer: Offer,
  url: string,
  nanoUsd: bigint | undefined,
): Promise<string> {
  let charges: ReturnType<Policy['charges']>
  try {
    charges = context.policy.charges(offer, new URL(url), nanoUsd)
  } catch (error) {
    throw refuse(context, url, error)
  }
  const id = newPaymentKey()
  const spend = {
    network: offer.network,
    asset: offer.asset.id,
    amount: offer.amount,
    host: new URL(url).host,
    nanoUsd,
  }
  const result = await context.ledger.reserve({ id, time: Date.now(), spend, charges })
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
  return id
}

// A wallet that may have paid keeps its reservation counted; any other failure frees it.
async function sign(
  context: PayingContext,
  { signer, offer, protocol }: Payable,
  url: string,
  request: ReplayableRequest,
  reservationId: string,
): Promise<Payment> {
  try {
    return await signer.pay(offer, { url, signal: request.signal })
  } catch (error) {
    const unknown = isPayfetchError(error, 'PAYMENT_OUTCOME_UNKNOWN')
    await (unknown ? context.ledger.markUnknown(reservationId) : context.ledger.release(reservationId))
    if (request.signal.aborted && !unknown) throw error
    throw fail(context, url, isPayfetchError(error) ? error : signerFailed(signer, protocol, offer, url, error))
  }
}

// The proof headers and the call's idempotency key; a proof that cannot be sent is never sent.
async function proofFor(
  context: PayingContext,
  protocol: Protocol,
  offer: Offer,
  payment: Payment,
  url: string,
  reservationId: string,
  idempotencyKey: string,
): Promise<Record<string, string>> {
  let proof: Record<string, string> | undefined
  let cause: unknown
  try {
    proof = { ...protocol.proofHeaders(offer, payment, { idempotencyKey }), 'idempotency-key': idempotencyKey }
  } catch (error) {
    cause = error
  }
  const badHeader = proof && invalidProofHeader(proof)
  if (proof && !badHeader) return proof
  // A wallet that may have paid already (Lightning) stays counted.
  const paid = protocol.paysBeforeReplay === true
  await (paid ? context.ledger.markUnknown(reservationId) : context.ledger.release(reservationId))
  throw fail(
    context,
    url,
    new PayfetchError(
      paid ? 'PAYMENT_OUTCOME_UNKNOWN' : 'PAYMENT_FAILED',
      `The ${protocol.name} proof could not be built${paid ? ' after the wallet paid' : ''}.`,
      {
        details: { url, header: badHeader, ...describeOffer(offer) },
        cause,
      },
    ),
  )
}

function signerFailed(signer: Signer, protocol: Protocol, offer: Offer, url: string, cause: unknown): PayfetchError {
  return new PayfetchError('PAYMENT_FAILED', `The ${signer.name} signer could not pay.`, {
    details: { url, protocol: protocol.name, ...describeOffer(offer) },
    cause,
  })
}

/** A fresh key for a call or a reservation: `pf_` and 32 hex digits, valid as an x402 payment id. */
export function newPaymentKey(): string {
  return `pf_${crypto.randomUUID().replaceAll('-', '')}`
}
