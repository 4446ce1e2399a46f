import type { MethodProof } from '../../methods/PaymentMethod.js'
import type { Offer } from '../../offer/Offer.js'
import { encodeBase64Json } from '../../utils/base64.js'
import { withFields } from '../../utils/withFields.js'
import type { ProofContext, Protocol, Response402 } from '../Protocol.js'
import { type DecodeX402Options, decodeX402, messageOf, readPaymentRequired } from './decode.js'
import { withPaymentIdentifier } from './paymentIdentifier.js'
import { readSettlement } from './settlement.js'

type X402Protocol = Protocol & { readonly options?: DecodeX402Options }

/**
 * x402 with the offers a signer's subpath knows decoded too: Lightning invoices (`lightning()`),
 * Permit2 and `upto` (`evm()`). Signers bring it in `protocols`; the variants they bring merge, so
 * every signer's offers are read.
 */
export function x402With(options: DecodeX402Options): Protocol {
  const { writeProof } = options
  return {
    ...base,
    options,
    decode: (response) => decodeX402(response, options),
    proofHeaders: (offer, proof, context) => proofHeaders(offer, proof, context, writeProof),
    merge(other: X402Protocol) {
      const more = other.options
      if (!more) return other
      // Every hook: this variant's answer, else the other's (an invoice reader always answers).
      return x402With({
        readInvoice: options.readInvoice ?? more.readInvoice,
        readMethod: either(options.readMethod, more.readMethod),
        writeProof: either(options.writeProof, more.writeProof),
      })
    },
  } as X402Protocol
}

/** A hook asking `first`, then `second` when `first` has no answer (`undefined`). */
function either<args extends unknown[], result>(
  first: ((...input: args) => result | undefined) | undefined,
  second: ((...input: args) => result | undefined) | undefined,
): ((...input: args) => result | undefined) | undefined {
  return first && second ? (...input) => first(...input) ?? second(...input) : (first ?? second)
}

/**
 * The x402 protocol: v2 `PAYMENT-REQUIRED` / `PAYMENT-SIGNATURE` / `PAYMENT-RESPONSE` headers and
 * the v1 JSON body with `X-PAYMENT` / `X-PAYMENT-RESPONSE`.
 */
const base: Protocol = {
  name: 'x402',
  decode: decodeX402,
  proofHeaders: (offer, proof, context) => proofHeaders(offer, proof, context),
  settlement(response: Response) {
    const settlement = readSettlement(response.headers)
    return settlement && withFields(settlement, { reference: settlement.transaction || undefined })
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
  // 412: the server's facilitator found no Permit2 allowance (the signed permit stays valid until its deadline).
  refuses: (status) => status === 402 || status === 412,
}

function proofHeaders(
  offer: Offer,
  proof: MethodProof,
  context: ProofContext,
  writeProof?: DecodeX402Options['writeProof'],
): Record<string, string> {
  const message = messageOf(offer)
  // Servers require their declared extensions to be echoed back.
  const echoed =
    message?.extensions === undefined ? undefined : withPaymentIdentifier(message.extensions, context.idempotencyKey)
  const { payload, extensions } = writeProof?.(proof, echoed) ?? {
    payload: payloadOf(offer, proof),
    extensions: echoed,
  }
  if (offer.version === 1) {
    const { scheme, network } = offer.raw as { scheme: string; network: string }
    return { 'x-payment': encodeBase64Json({ x402Version: 1, scheme, network, payload }) }
  }
  const signed: Record<string, unknown> = { x402Version: 2, resource: message?.resource, accepted: offer.raw, payload }
  if (extensions !== undefined) signed.extensions = extensions
  return { 'payment-signature': encodeBase64Json(signed) }
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

/** The x402 protocol every paying fetch speaks, before signers add the offers they know. */
export const x402: Protocol = x402With({})

/**
 * x402 with its Lightning offers decoded too (`exact` on `bip122:…`, `extra.paymentMethod:
 * "lightning"`): the protocol `lightning()` brings.
 */
export function x402WithInvoices(readInvoice: NonNullable<DecodeX402Options['readInvoice']>): Protocol {
  return x402With({ readInvoice })
}
