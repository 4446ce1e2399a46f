import type { Offer } from '../../offer/Offer.js'
import type { Payment } from '../../signers/Signer.js'
import { encodeBase64Json } from '../../utils/base64.js'
import type { PaidReceipt, ProofContext, Protocol, Response402 } from '../Protocol.js'
import { decodeX402, messageOf, readPaymentRequired } from './decode.js'
import { withPaymentIdentifier } from './paymentIdentifier.js'
import { readSettlement } from './settlement.js'

/**
 * The x402 protocol: v2 `PAYMENT-REQUIRED` / `PAYMENT-SIGNATURE` / `PAYMENT-RESPONSE` headers and
 * the v1 JSON body with `X-PAYMENT` / `X-PAYMENT-RESPONSE`.
 */
export const x402: Protocol = {
  name: 'x402',
  decode: decodeX402,
  proofHeaders(offer: Offer, payment: Payment, context: ProofContext): Record<string, string> {
    if (offer.version === 1) {
      const { scheme, network } = offer.raw as { scheme: string; network: string }
      return { 'x-payment': encodeBase64Json({ x402Version: 1, scheme, network, payload: payment.payload }) }
    }
    const message = messageOf(offer)
    const proof: Record<string, unknown> = {
      x402Version: 2,
      resource: message?.resource,
      accepted: offer.raw,
      payload: payment.payload,
    }
    // Servers require their declared extensions to be echoed back.
    if (message?.extensions !== undefined)
      proof.extensions = withPaymentIdentifier(message.extensions, context.idempotencyKey)
    return { 'payment-signature': encodeBase64Json(proof) }
  },
  receipt(response: Response, offer: Offer, payment: Payment): PaidReceipt {
    const settlement = readSettlement(response.headers)
    // A report of failure, or of another network, is no settlement of this offer; a settled amount
    // counts only below what was authorised (`upto`), so a server cannot inflate the receipt.
    const settled =
      settlement?.success === true && (settlement.network === undefined || settlement.network === offer.network)
        ? settlement
        : undefined
    return {
      protocol: 'x402',
      network: offer.network,
      asset: offer.asset.id,
      amount: settled?.amount !== undefined && settled.amount <= offer.amount ? settled.amount : offer.amount,
      payTo: offer.payTo,
      payer: settled?.payer ?? payment.payer,
      reference: settled?.transaction || undefined,
    }
  },
  refusalReason(challenge: Response402): string | undefined {
    const settlement = readSettlement(challenge.headers)
    if (settlement?.errorReason) return settlement.errorReason
    try {
      return readPaymentRequired(challenge)?.error
    } catch {
      return undefined
    }
  },
}
