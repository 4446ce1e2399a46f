import { findKnownAsset } from '../../caps/knownAssets.js'
import { PayfetchError } from '../../errors/PayfetchError.js'
import type { MethodProof, PaymentMethod } from '../../methods/PaymentMethod.js'
import type { Offer, PaymentFlow } from '../../offer/Offer.js'
import { decodeBase64Json } from '../../utils/base64.js'
import { isRecord, isShortString, parseAtomicAmount, parseJson } from '../../utils/guards.js'
import type { InvoiceSummary } from '../l402/readInvoice.js'
import type { Response402 } from '../Protocol.js'
import { isCaip2, networkFromV1 } from './networks.js'

/** The x402 v2 challenge header. */
export const paymentRequiredHeader = 'payment-required'

const maxHeaderLength = 64 * 1024
const maxOffers = 32

// The message each offer came from: a v2 proof echoes its `resource` and `extensions`.
const messages = new WeakMap<Offer, PaymentRequired>()

/** @internal The x402 message `offer` was decoded from. */
export function messageOf(offer: Offer): PaymentRequired | undefined {
  return messages.get(offer)
}

/** The x402 message a 402 carries (header first, then body), before it is turned into offers. */
export type PaymentRequired = {
  readonly x402Version: 1 | 2
  readonly error?: string | undefined
  readonly resource?: unknown
  readonly accepts: readonly unknown[]
  readonly extensions?: unknown
}

/**
 * Reads the x402 `PaymentRequired` message of a 402: the v2 `PAYMENT-REQUIRED` header, else a v1
 * (or v2) JSON body. `undefined` when the response does not speak x402.
 *
 * @throws {PayfetchError} `CHALLENGE_INVALID` when it speaks x402 but the message is malformed,
 * oversized or contradicts itself.
 */
export function readPaymentRequired(challenge: Response402): PaymentRequired | undefined {
  // Read once per 402: the offers' decoder and the sign-in step both ask.
  if (readMessages.has(challenge)) return readMessages.get(challenge)
  const message = parsePaymentRequired(challenge)
  readMessages.set(challenge, message)
  return message
}

const readMessages = new WeakMap<Response402, PaymentRequired | undefined>()

function parsePaymentRequired(challenge: Response402): PaymentRequired | undefined {
  const header = challenge.headers.get(paymentRequiredHeader)
  const body = parseJsonBody(challenge.body)
  if (header !== null) {
    if (header.length > maxHeaderLength)
      throw invalid('the PAYMENT-REQUIRED header is too large', { length: header.length })
    const message = toPaymentRequired(decodeBase64Json(header), 'the PAYMENT-REQUIRED header')
    if (message.x402Version !== 2)
      throw invalid('the PAYMENT-REQUIRED header must carry x402Version 2', { x402Version: message.x402Version })
    if (
      isRecord(body) &&
      body.x402Version === 2 &&
      Array.isArray(body.accepts) &&
      JSON.stringify(body.accepts) !== JSON.stringify(message.accepts)
    )
      throw invalid('the PAYMENT-REQUIRED header and the body offer different payments')
    return message
  }
  if (challenge.body === undefined) return undefined
  if (!isRecord(body) || !('x402Version' in body)) return undefined
  return toPaymentRequired(body, 'the 402 body')
}

/**
 * Decodes every payment option of an x402 402 into offers.
 *
 * @example
 * ```ts
 * import { decodeX402 } from 'payfetch'
 *
 * const response = await fetch('https://api.example.com/weather')
 * const offers = decodeX402({ url: response.url, headers: response.headers, body: await response.text() })
 * // [{ protocol: 'x402', version: 2, network: 'eip155:8453', amount: 10000n, … }]
 * ```
 *
 * @throws {PayfetchError} `CHALLENGE_INVALID` when the message is malformed or no option is usable.
 */
export function decodeX402(challenge: Response402, options: DecodeX402Options = {}): Offer[] {
  const message = readPaymentRequired(challenge)
  if (message === undefined) return []
  return offersOf(message, challenge.url, options)
}

/**
 * Decodes an x402 `PaymentRequired`-shaped value met outside a 402 (a discovery listing's entry)
 * into offers, with the same checks.
 *
 * @throws {PayfetchError} `CHALLENGE_INVALID` when it is malformed or no option is usable.
 */
export function decodeX402Message(value: unknown, url: string, options: DecodeX402Options = {}): Offer[] {
  return offersOf(toPaymentRequired(value, 'the x402 message'), url, options)
}

function offersOf(message: PaymentRequired, url: string, options: DecodeX402Options): Offer[] {
  const resource = resourceOf(message, url)
  const problems: string[] = []
  const offers: Offer[] = []
  message.accepts.forEach((entry, index) => {
    const offer = toOffer(entry, message, resource, options)
    if (typeof offer === 'string') {
      problems.push(`accepts[${index}]: ${offer}`)
      return
    }
    messages.set(offer, message)
    offers.push(offer)
  })
  if (offers.length === 0) throw invalid('no usable payment option in the x402 challenge', { problems })
  return offers
}

function toPaymentRequired(value: unknown, where: string): PaymentRequired {
  if (!isRecord(value)) throw invalid(`${where} is not base64 JSON`)
  const { x402Version, accepts, error } = value
  if (x402Version !== 1 && x402Version !== 2)
    throw invalid(`${where} has an unsupported x402Version`, { x402Version: String(x402Version) })
  if (!Array.isArray(accepts) || accepts.length === 0) throw invalid(`${where} has no accepts`)
  if (accepts.length > maxOffers) throw invalid(`${where} has too many accepts`, { count: accepts.length })
  return {
    x402Version,
    accepts,
    error: typeof error === 'string' ? error.slice(0, 512) : undefined,
    resource: value.resource,
    extensions: value.extensions,
  }
}

function parseJsonBody(body: string | undefined): unknown {
  return body === undefined || body.length === 0 ? undefined : parseJson(body)
}

function resourceOf(message: PaymentRequired, fallback: string): string {
  const url = isRecord(message.resource) ? message.resource.url : undefined
  return isShortString(url, 2048) ? url : fallback
}

/** What the x402 decoder needs for offers whose method lives in a signer's subpath. */
export type DecodeX402Options = {
  /**
   * Reads a BOLT11 invoice, so `exact` offers on Lightning (`extra.paymentMethod: "lightning"`)
   * carry an invoice request; `payfetch/lightning` supplies it, keeping the reader out of the root.
   */
  readInvoice?: ((invoice: string) => InvoiceSummary | string) | undefined
  /**
   * Reads the methods a signer's subpath knows, before the built-in ones: `payfetch/evm` reads
   * Permit2 (`exact` with `assetTransferMethod: "permit2"`, and `upto`). `undefined`: not one of its.
   */
  readMethod?: ((terms: X402Terms) => PaymentMethod | undefined) | undefined
  /**
   * Writes the scheme payload of the proofs those methods return, and the extensions echoed with
   * it (`undefined`: not one of its proofs). `extensions` are the server's, ready to echo.
   */
  writeProof?:
    | ((proof: MethodProof, extensions: unknown) => { payload: unknown; extensions: unknown } | undefined)
    | undefined
}

/** One x402 option, validated, as method readers see it. */
export type X402Terms = {
  readonly scheme: string
  /** CAIP-2. */
  readonly network: string
  readonly asset: string
  readonly amount: bigint
  readonly payTo: string
  readonly version: 1 | 2
  readonly extra: Record<string, unknown>
  readonly maxTimeoutSeconds?: number | undefined
  /** The message's `extensions` (v2), as the server sent them. */
  readonly extensions?: unknown
}

/** An offer, or a sentence saying why the entry cannot be one. */
function toOffer(
  entry: unknown,
  message: PaymentRequired,
  resource: string,
  options: DecodeX402Options,
): Offer | string {
  const version = message.x402Version
  if (!isRecord(entry)) return 'not an object'
  const { scheme, network, asset, payTo, maxTimeoutSeconds, extra } = entry
  if (!isShortString(scheme, 64)) return 'scheme is missing'
  if (!isShortString(network, 64)) return 'network is missing'
  if (!isShortString(asset)) return 'asset is missing'
  if (!isShortString(payTo)) return 'payTo is missing'
  const rawAmount = version === 1 ? entry.maxAmountRequired : entry.amount
  const amount = parseAtomicAmount(rawAmount)
  if (amount === undefined) return `${version === 1 ? 'maxAmountRequired' : 'amount'} is not a positive integer string`
  if (version === 2 && 'maxAmountRequired' in entry && entry.maxAmountRequired !== rawAmount)
    return 'amount and maxAmountRequired disagree'
  if (
    maxTimeoutSeconds !== undefined &&
    !(Number.isSafeInteger(maxTimeoutSeconds) && (maxTimeoutSeconds as number) > 0)
  )
    return 'maxTimeoutSeconds is not a positive integer'
  if (extra !== undefined && extra !== null && !isRecord(extra)) return 'extra is not an object'
  const caip2 = version === 1 ? networkFromV1(network) : isCaip2(network) ? network : undefined
  if (caip2 === undefined) return `unknown network ${JSON.stringify(network)}`
  const known = findKnownAsset(caip2, asset)
  const entryResource = version === 1 && isShortString(entry.resource, 2048) ? entry.resource : resource
  const terms: X402Terms = {
    scheme,
    network: caip2,
    asset,
    amount,
    payTo,
    version,
    extra: isRecord(extra) ? extra : {},
    maxTimeoutSeconds: maxTimeoutSeconds as number | undefined,
    extensions: message.extensions,
  }
  // `extra.paymentFlow`: absent means `authorization` (verify, work, settle).
  const flow = terms.extra.paymentFlow as PaymentFlow | null | undefined
  const knownFlow = flow == null || flows.includes(flow)
  return {
    protocol: 'x402',
    version,
    scheme,
    network: caip2,
    asset: { id: asset, decimals: known?.decimals, symbol: known?.symbol },
    amount,
    payTo,
    resource: entryResource,
    description: typeof entry.description === 'string' ? entry.description : undefined,
    // An offer whose money would move in a way payfetch does not know is shown, never paid.
    method: knownFlow ? (options.readMethod?.(terms) ?? methodOf(terms, options)) : undefined,
    raw: entry,
    ...(knownFlow && flow && { flow }),
  }
}

const flows: readonly unknown[] = ['authorization', 'upfront', 'escrow'] satisfies PaymentFlow[]

/** The payment method an x402 option asks for, when payfetch speaks its scheme on its network. */
function methodOf(terms: X402Terms, { readInvoice }: DecodeX402Options): PaymentMethod | undefined {
  const { scheme, network, asset, amount, payTo, extra, maxTimeoutSeconds } = terms
  if (scheme !== 'exact') return undefined
  if (network.startsWith('bip122:') && extra.paymentMethod === 'lightning' && typeof extra.invoice === 'string') {
    // The invoice is authoritative: it must be for this network and exactly this amount (msat).
    const summary = readInvoice?.(extra.invoice)
    if (typeof summary !== 'object' || summary.network !== network || summary.amount !== amount || asset !== 'BTC')
      return undefined
    return {
      kind: 'bolt11',
      invoice: extra.invoice.toLowerCase(),
      paymentHash: summary.paymentHash,
      amountMsat: amount,
      network,
      payee: summary.payee,
    }
  }
  const chainId = Number(/^eip155:([1-9][0-9]{0,15})$/.exec(network)?.[1])
  if (Number.isSafeInteger(chainId)) {
    const { name, version, assetTransferMethod } = extra
    if (assetTransferMethod !== undefined && assetTransferMethod !== 'eip3009') return undefined
    if (typeof name !== 'string' || typeof version !== 'string') return undefined
    return {
      kind: 'eip3009',
      chainId,
      token: asset,
      domain: { name, version },
      to: payTo,
      value: amount,
      // v1 clients start the window ten minutes back; v2 clients leave it open from 0.
      validAfterSeconds: terms.version === 1 ? 600 : undefined,
      validBefore: { afterSeconds: maxTimeoutSeconds ?? 60 },
      nonce: 'random',
    }
  }
  if (network.startsWith('solana:')) {
    const { feePayer, memo, recentBlockhash, lastValidBlockHeight } = extra
    if (typeof feePayer !== 'string') return undefined
    if (memo !== undefined && memo !== null && typeof memo !== 'string') return undefined
    return {
      kind: 'spl-transfer',
      network,
      mint: asset,
      payTo,
      amount,
      decimals: findKnownAsset(network, asset)?.decimals,
      feePayer,
      memo: memo || undefined,
      recentBlockhash: typeof recentBlockhash === 'string' ? recentBlockhash : undefined,
      lastValidBlockHeight: blockHeight(lastValidBlockHeight),
    }
  }
  return undefined
}

// The height only bounds how long a sender waits; it is not part of the signed message.
function blockHeight(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  if (typeof value === 'string' && /^[0-9]{1,20}$/.test(value)) return BigInt(value)
  return undefined
}

function invalid(reason: string, details: Record<string, unknown> = {}): PayfetchError {
  return new PayfetchError('CHALLENGE_INVALID', `Invalid x402 challenge: ${reason}.`, {
    details: { protocol: 'x402', ...details },
  })
}
