import type { MethodProof } from '../../methods/PaymentMethod.js'
import type { Offer } from '../../offer/Offer.js'
import { encodeBase64Json } from '../../utils/base64.js'
import type { ProofContext, Protocol, Response402 } from '../Protocol.js'
import { type DecodeX402Options, decodeX402, messageOf, readPaymentRequired } from './decode.js'
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
    const payload = payloadOf(offer, proof)
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
function payloadOf(offer: Offer, proof: MethodProof): unknown {
  switch (proof.kind) {
    case 'eip3009':
      return { signature: proof.signature, authorization: proof.authorization }
    case 'spl-transfer':
      return { transaction: proof.transaction }
    case 'bolt11':
      // x402 exact on Lightning: the server looks the paid invoice up on its node; no preimage travels.
      return { invoice: offer.method?.kind === 'bolt11' ? offer.method.invoice : undefined }
    default:
      throw new TypeError(`x402 carries no ${proof.kind} proof.`)
  }
}

/**
 * x402 with its Lightning offers decoded too (`exact` on `bip122:…`, `extra.paymentMethod:
 * "lightning"`): the protocol `lightning()` brings in place of the default one.
 */
export function x402WithInvoices(readInvoice: NonNullable<DecodeX402Options['readInvoice']>): Protocol {
  return { ...x402, decode: (response) => decodeX402(response, { readInvoice }) }
}
