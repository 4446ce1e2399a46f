import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import type { PendingPayment } from '../ledger/Ledger.js'
import type { Offer } from '../offer/Offer.js'
import type { Protocol } from '../protocols/Protocol.js'
import { attachReceipt, type Receipt } from '../receipts/Receipt.js'
import type { Payment } from '../signers/Signer.js'
import { base64ToBytes } from '../utils/base64.js'
import { fail, type PayingContext } from './context.js'
import { read402 } from './read402.js'
import { captureRequest, type ReplayableRequest } from './replayableRequest.js'
import { sendFollowingRedirects } from './sendFollowingRedirects.js'
import { withoutProof } from './withoutProof.js'

/**
 * Sends the request with its proof, redirects followed by hand. A network failure after the proof
 * left is `PAYMENT_OUTCOME_UNKNOWN`: the amount stays counted and `error.resume()` sends the same
 * bytes again.
 */
export async function replay(
  context: PayingContext,
  request: ReplayableRequest,
  pending: PendingPayment,
): Promise<Response[]> {
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
      await context.ledger.commit(pending.id)
      throw fail(context, pending.url, error)
    }
    await context.ledger.markUnknown(pending.id)
    const unknown = new PayfetchError(
      'PAYMENT_OUTCOME_UNKNOWN',
      'The proof was sent but no response came back; the payment may have settled.',
      {
        details: {
          url: pending.url,
          pendingId: pending.id,
          idempotencyKey: pending.idempotencyKey,
          network: pending.network,
          asset: pending.asset,
          amount: pending.amount,
        },
        cause: error,
      },
    )
    unknown.resume = () => resume(context, pending)
    throw fail(context, pending.url, unknown)
  }
}

/**
 * Records what the server's answer says about the money: a Lightning payment has moved already;
 * an x402 proof is settled by a success, refused by a 402 (still counted: the server holds an
 * authorization it could settle), and unknown after an error without a settlement report.
 * Returns whether the payment counts as made.
 */
export async function settle(
  context: PayingContext,
  protocol: Protocol,
  hops: readonly Response[],
  offer: Offer,
  payment: Payment,
  id: string,
): Promise<boolean> {
  const answer = hops[hops.length - 1] as Response
  const reported = hops.some((hop) => protocol.receipt(hop, offer, payment).reference !== undefined)
  if (protocol.paysBeforeReplay || (answer.status !== 402 && (answer.status < 400 || reported))) {
    await context.ledger.commit(id)
    return true
  }
  await (answer.status === 402 ? context.ledger.markRefused(id) : context.ledger.markUnknown(id))
  return false
}

/** Reads the receipt off the answer (or an earlier hop, when the paid response redirected) and reports it. */
export function receiptFor(
  context: PayingContext,
  protocol: Protocol,
  offer: Offer,
  payment: Payment,
  hops: readonly Response[],
  url: string,
): Receipt {
  const readings = hops.map((hop) => protocol.receipt(hop, offer, payment))
  const reading =
    readings.find((candidate) => candidate.reference !== undefined) ?? (readings[0] as (typeof readings)[number])
  const receipt: Receipt = { ...reading, url, time: Date.now() }
  context.emit({ type: 'receipt', receipt })
  return receipt
}

/**
 * Sends a pending payment's exact request and proof again, without signing: after a lost answer,
 * or in a new process that finds it in a durable ledger.
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` when it is not pending any more; `PAYMENT_REJECTED`
 * when the server refuses it; `PAYMENT_OUTCOME_UNKNOWN` when the answer is lost again.
 */
export async function resume(context: PayingContext, pending: PendingPayment): Promise<Response> {
  const protocol = context.protocols.find((candidate) => candidate.name === pending.protocol)
  if (!protocol)
    throw new PayfetchError(
      'INVALID_OPTIONS',
      `Pending payment ${pending.id} uses protocol ${pending.protocol}, which this fetch does not speak.`,
    )
  // Only a payment still pending may go out again: a settled or refused one must not be resent.
  if (!(await context.ledger.pending()).some((entry) => entry.id === pending.id))
    throw new PayfetchError(
      'INVALID_OPTIONS',
      `Payment ${pending.id} is not pending any more; it was settled or refused.`,
      { details: { pendingId: pending.id } },
    )
  const body = pending.body === undefined ? undefined : base64ToBytes(pending.body)
  const request = await captureRequest(
    pending.url,
    { method: pending.method, headers: pending.headers, ...(body ? { body } : {}) },
    context.maxBodyBytes,
  )
  const hops = await replay(context, request, pending)
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
  const settled = await settle(context, protocol, hops, offer, payment, pending.id)
  if (response.status === 402) {
    const reason = withoutProof(protocol.refusalReason(await read402(response, pending.url)), pending.proof)
    throw fail(
      context,
      pending.url,
      new PayfetchError('PAYMENT_REJECTED', `The server refused the resumed payment${reason ? `: ${reason}` : ''}.`, {
        details: { url: pending.url, reason, pendingId: pending.id },
      }),
    )
  }
  if (settled) attachReceipt(response, receiptFor(context, protocol, offer, payment, hops, pending.url))
  return response
}
