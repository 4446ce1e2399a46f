import { decodeBase64UrlJson } from '../utils/base64.js'
import { isRecord, isShortString } from '../utils/guards.js'

/** The x402 extension key signed offers and receipts travel under. */
export const offerReceiptKey = 'offer-receipt'

/** The terms a server signs in an offer (payload version 1). */
export type OfferPayload = {
  readonly version: 1
  readonly resourceUrl: string
  readonly scheme: string
  /** CAIP-2. */
  readonly network: string
  readonly asset: string
  readonly payTo: string
  /** Atomic units, a decimal string. */
  readonly amount: string
  /** Unix seconds after which the offer no longer holds; `0` or absent: no end. */
  readonly validUntil?: number | undefined
}

/** What a server signs in a receipt (payload version 1). */
export type ReceiptPayload = {
  readonly version: 1
  /** CAIP-2. */
  readonly network: string
  readonly resourceUrl: string
  readonly payer: string
  /** Unix seconds. */
  readonly issuedAt: number
  /** The settlement transaction; `''` or absent when the server keeps it private. */
  readonly transaction?: string | undefined
}

/** A JWS protected header, as far as verifying it goes. */
export type JwsHeader = {
  readonly alg: string
  /** A DID URL naming the key. */
  readonly kid: string
  /** The public key itself (key material only). */
  readonly jwk?: Readonly<Record<string, unknown>> | undefined
}

/** One signed offer or receipt, read but not yet verified. */
export type SignedArtifact<payload> = {
  readonly format: 'eip712' | 'jws'
  readonly payload: payload
  /** The signature as sent: 65 bytes of hex (EIP-712) or the JWS compact string. */
  readonly signature: string
  /** JWS only. */
  readonly header?: JwsHeader | undefined
  /** The unsigned hint into `accepts[]` (offers only); never relied on. */
  readonly acceptIndex?: number | undefined
}

export type SignedOffer = SignedArtifact<OfferPayload>
export type SignedReceipt = SignedArtifact<ReceiptPayload>

const maxOffers = 32
const maxJwsLength = 8 * 1024
const jwsPattern = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
const eip712Signature = /^0x[0-9a-fA-F]{130}$/

const offerFields = ['version', 'resourceUrl', 'scheme', 'network', 'asset', 'payTo', 'amount', 'validUntil']
const receiptFields = ['version', 'network', 'resourceUrl', 'payer', 'issuedAt', 'transaction']

/**
 * The signed offers of an x402 402's `extensions["offer-receipt"].info.offers`, each read or
 * skipped with a reason (a malformed offer is ignored, as the extension is optional). `undefined`
 * when the server sent none. Never throws.
 */
export function readSignedOffers(extensions: unknown): { offers: SignedOffer[]; problems: string[] } | undefined {
  const info = infoOf(extensions)
  if (info === undefined || info.offers === undefined) return undefined
  if (!Array.isArray(info.offers)) return { offers: [], problems: ['offers is not an array'] }
  const offers: SignedOffer[] = []
  const problems: string[] = []
  info.offers.slice(0, maxOffers).forEach((entry, index) => {
    const read = readArtifact(entry, readOfferPayload)
    if (typeof read === 'string') problems.push(`offers[${index}]: ${read}`)
    else offers.push(read)
  })
  return { offers, problems }
}

/**
 * The signed receipt of an x402 settlement report's `extensions["offer-receipt"].info.receipt`,
 * a sentence saying why it cannot be read, or `undefined` when there is none. Never throws.
 */
export function readSignedReceipt(extensions: unknown): SignedReceipt | string | undefined {
  const info = infoOf(extensions)
  if (info?.receipt === undefined) return undefined
  const read = readArtifact(info.receipt, readReceiptPayload)
  return typeof read === 'string' ? `the signed receipt is malformed: ${read}` : read
}

function infoOf(extensions: unknown): Record<string, unknown> | undefined {
  const extension = isRecord(extensions) ? extensions[offerReceiptKey] : undefined
  return isRecord(extension) && isRecord(extension.info) ? extension.info : undefined
}

function readArtifact<payload>(
  entry: unknown,
  readPayload: (value: unknown, format: 'eip712' | 'jws') => payload | string,
): SignedArtifact<payload> | string {
  if (!isRecord(entry)) return 'not an object'
  const { format, signature, acceptIndex } = entry
  if (acceptIndex !== undefined && !(Number.isSafeInteger(acceptIndex) && (acceptIndex as number) >= 0))
    return 'acceptIndex is not an index'
  const hint = acceptIndex as number | undefined
  if (format === 'eip712') {
    if (typeof signature !== 'string' || !eip712Signature.test(signature)) return 'the signature is not 65 bytes of hex'
    const payload = readPayload(entry.payload, format)
    if (typeof payload === 'string') return payload
    return { format, payload, signature, acceptIndex: hint }
  }
  // Never String() a server's value: `{"toString": false}` makes that throw.
  if (format !== 'jws')
    return typeof format === 'string' ? `unknown format ${JSON.stringify(format.slice(0, 16))}` : 'no format'
  // The compact string carries the payload; a second copy beside it could say something else.
  if (entry.payload !== undefined) return 'a JWS offer or receipt carries no separate payload'
  if (typeof signature !== 'string' || signature.length > maxJwsLength || !jwsPattern.test(signature))
    return 'the signature is not a JWS compact string'
  const [head, body] = signature.split('.') as [string, string, string]
  const header = readHeader(decodeBase64UrlJson(head))
  if (typeof header === 'string') return header
  const payload = readPayload(decodeBase64UrlJson(body), format)
  if (typeof payload === 'string') return payload
  return { format, payload, signature, header, acceptIndex: hint }
}

function readHeader(value: unknown): JwsHeader | string {
  if (!isRecord(value)) return 'the JWS header is not JSON'
  const { alg, kid, jwk, crit } = value
  // RFC 7515 §4.1.11: a critical extension the verifier does not know fails the JWS.
  if (crit !== undefined) return 'the JWS header names critical extensions'
  if (!isShortString(alg, 16)) return 'the JWS header has no alg'
  if (!isShortString(kid, 2048)) return 'the JWS header has no kid'
  if (jwk !== undefined && !isRecord(jwk)) return 'the JWS header jwk is not an object'
  return { alg, kid, jwk }
}

function readOfferPayload(value: unknown, format: 'eip712' | 'jws'): OfferPayload | string {
  const fields = payloadFields(value, offerFields)
  if (typeof fields === 'string') return fields
  const { resourceUrl, scheme, network, asset, payTo, amount, validUntil } = fields
  if (!isShortString(resourceUrl, 2048)) return 'resourceUrl is missing'
  if (!isShortString(scheme, 64)) return 'scheme is missing'
  if (!isShortString(network, 64)) return 'network is missing'
  if (!isShortString(asset)) return 'asset is missing'
  if (!isShortString(payTo)) return 'payTo is missing'
  if (typeof amount !== 'string' || !/^[0-9]{1,78}$/.test(amount)) return 'amount is not an integer string'
  // EIP-712 signs every field: an absent validUntil is sent as 0.
  if (validUntil === undefined ? format === 'eip712' : !isSeconds(validUntil)) return 'validUntil is not a time'
  // Spec §3.1.1: an EIP-712 offer is for an EVM network and an EVM address.
  if (format === 'eip712' && !(/^eip155:[0-9]+$/.test(network) && /^0x[0-9a-fA-F]{40}$/.test(payTo)))
    return 'an EIP-712 offer names an eip155 network and an EVM payTo'
  return { version: 1, resourceUrl, scheme, network, asset, payTo, amount, validUntil: validUntil as number }
}

function readReceiptPayload(value: unknown, format: 'eip712' | 'jws'): ReceiptPayload | string {
  const fields = payloadFields(value, receiptFields)
  if (typeof fields === 'string') return fields
  const { network, resourceUrl, payer, issuedAt, transaction } = fields
  if (!isShortString(network, 64)) return 'network is missing'
  if (!isShortString(resourceUrl, 2048)) return 'resourceUrl is missing'
  if (!isShortString(payer)) return 'payer is missing'
  if (!isSeconds(issuedAt)) return 'issuedAt is not a time'
  if (transaction === undefined ? format === 'eip712' : typeof transaction !== 'string' || transaction.length > 256)
    return 'transaction is not a string'
  return { version: 1, network, resourceUrl, payer, issuedAt, transaction: transaction as string | undefined }
}

// Version 1 is the only payload version; fields it does not define are not guessed at.
function payloadFields(value: unknown, known: readonly string[]): Record<string, unknown> | string {
  if (!isRecord(value)) return 'the payload is not an object'
  if (value.version !== 1) return 'the payload version is not 1'
  const unknown = Object.keys(value).find((key) => !known.includes(key))
  return unknown === undefined ? value : `unknown payload field ${JSON.stringify(unknown.slice(0, 32))}`
}

const isSeconds = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
