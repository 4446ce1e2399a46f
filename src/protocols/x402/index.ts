import type { MethodProof } from '../../methods/PaymentMethod.js'
import type { Offer } from '../../offer/Offer.js'
import { encodeBase64Json } from '../../utils/base64.js'
import type { ProofContext, Protocol, Response402 } from '../Protocol.js'
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
  proofHeaders(offer: Offer, proof: MethodProof, context: ProofContext): Record<string, string> {
    const payload = payloadOf(proof)
    if (offer.version === 1) {
      const { scheme, network } = offer.raw as { scheme: string; network: string }
      return { 'x-payment': encodeBase64Json({ x402Version: 1, scheme, network, payload }) }
    }
    const message = messageOf(offer)
    const signed: Record<string, unknown> = {
      x402Version: 2,
      resource: message?.resource,
      accepted: offer.raw,
      payload,
    }
    // Servers require their declared extensions to be echoed back.
    if (message?.extensions !== undefined)
      signed.extensions = withPaymentIdentifier(message.extensions, context.idempotencyKey)
    return { 'payment-signature': encodeBase64Json(signed) }
  },
  settlement(response: Response) {
    const settlement = readSettlement(response.headers)
    return settlement && { ...settlement, reference: settlement.transaction || undefined }
  },
  refusalReason(response: Response402): string | undefined {
    const settlement = readSettlement(response.headers)
    if (settlement?.errorReason) return settlement.errorReason
    try {
      return readPaymentRequired(response)?.error
    } catch {
      return undefined
    }
  },
}

/** The scheme payload x402 carries for each method's proof. */
function payloadOf(proof: MethodProof): unknown {
  switch (proof.kind) {
    case 'eip3009':
      return { signature: proof.signature, authorization: proof.authorization }
    case 'spl-transfer':
      return { transaction: proof.transaction }
    default:
      throw new TypeError(`x402 carries no ${proof.kind} proof.`)
  }
}
