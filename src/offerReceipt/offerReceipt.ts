import { PayfetchError } from '../errors/PayfetchError.js'
import type { Offer } from '../offer/Offer.js'
import type { OfferCheck, SignatureCheck, SignedReceiptInput, SignedTerms } from '../offer/SignedTerms.js'
import type { ReceiptVerification } from '../receipts/Receipt.js'
import { addressOf, keyOfJwk, sameKey } from './publicKey.js'
import { type DidWebReader, resolveKid } from './resolveKid.js'
import {
  type OfferPayload,
  readSignedOffers,
  readSignedReceipt,
  type SignedArtifact,
  type SignedOffer,
} from './signedArtifact.js'
import { recoverEip712, type SignatureOwner, verifyJws } from './verifySignature.js'

export type OfferReceiptOptions = {
  /**
   * What to do with signed offers: `'verify'` (default) checks them, reports one that does not
   * verify (an event, and `getReceipt(response).verified.offer === false`) and pays as usual;
   * `'require'` pays only an offer whose signed terms verify (`OFFER_UNVERIFIED` otherwise, nothing
   * spent), which also refuses offers from servers that sign none and from other protocols;
   * `'ignore'` does not look at them. Signed receipts are checked in every mode.
   */
  offers?: 'verify' | 'require' | 'ignore' | undefined
  /**
   * Signers trusted for any resource, besides the `payTo` address (always trusted to sign for its
   * own payments): EVM addresses, DIDs (`did:key:…`, `did:web:api.example.com`) or full key ids.
   */
  trust?: readonly string[] | undefined
  /**
   * Resolve `did:web` key ids whose host is the host that asked for payment, by fetching its
   * `/.well-known/did.json` from that same origin (no redirects, at most 16 KiB, kept 5 minutes):
   * a key listed there is authorized for that host's resources. Default `false`: no request is
   * made, and a did:web signer verifies only through its `jwk` and an address in `trust` or `payTo`.
   */
  didWeb?: boolean | { readonly timeoutMs?: number | undefined } | undefined
  /** How old a signed receipt may be, in seconds. Default 300. */
  maxReceiptAgeSeconds?: number | undefined
  /** The clock, in ms. Default `Date.now`. */
  now?: (() => number) | undefined
}

// A receipt dated this far ahead of the clock is a clock difference, not a forgery.
const clockSkewSeconds = 60

/**
 * Checks what x402 servers sign with the `offer-receipt` extension: a signed offer (EIP-712 or JWS:
 * ES256K, ES256, EdDSA) is verified before anything is reserved, its signer must be authorized for
 * the resource (the offer's `payTo` address, a key in `trust`, or a did:web key published by the
 * resource's own host), and its signed terms must be the 402's (resource, scheme, network, asset,
 * payTo, amount) and still valid. A signed receipt in the paid answer is verified the same way and
 * must name what was paid (network, resource, payer, recent `issuedAt`, the transaction if given).
 *
 * @example
 * ```ts
 * import { createPayingFetch, getReceipt } from 'payfetch'
 * import { evm } from 'payfetch/evm'
 * import { offerReceipt } from 'payfetch/offer-receipt'
 *
 * const fetchPaid = createPayingFetch({ signers: [evm({ account })], signedTerms: offerReceipt({ offers: 'require' }) })
 * const response = await fetchPaid('https://api.example.com/report')
 * console.log(getReceipt(response)?.verified) // { offer: true, receipt: true, signer: '0x…' }
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` for an unknown `offers` mode or a bad `maxReceiptAgeSeconds`.
 */
export function offerReceipt(options: OfferReceiptOptions = {}): SignedTerms {
  const mode = options.offers ?? 'verify'
  if (!['verify', 'require', 'ignore'].includes(mode))
    throw new PayfetchError('INVALID_OPTIONS', "offerReceipt({ offers }) must be 'verify', 'require' or 'ignore'.")
  const maxAge = options.maxReceiptAgeSeconds ?? 300
  if (!Number.isSafeInteger(maxAge) || maxAge < 1)
    throw new PayfetchError('INVALID_OPTIONS', 'maxReceiptAgeSeconds must be a positive integer.')
  const trust = new Set((options.trust ?? []).map((entry) => (isAddress(entry) ? entry.toLowerCase() : entry)))
  const now = () => Math.floor((options.now ?? Date.now)() / 1000)
  const didWeb = options.didWeb
  const timeoutMs = (typeof didWeb === 'object' ? didWeb.timeoutMs : undefined) ?? 5000
  const cache: DidWebReader['cache'] = new Map()
  const reader = (url: string, fetcher: typeof globalThis.fetch, signal: AbortSignal | undefined) =>
    didWeb ? { url, fetch: fetcher, timeoutMs, signal, cache } : undefined

  /** A verified, authorized signer's name, or why the artifact does not verify. */
  async function signerOf(
    kind: 'offer' | 'receipt',
    artifact: SignedArtifact<{ readonly resourceUrl: string }>,
    payTo: string,
    web: DidWebReader | undefined,
  ): Promise<SignatureCheck> {
    let owner: SignatureOwner | string
    let bound: { did: string; webHost?: string | undefined } | undefined
    const kid = artifact.header?.kid
    if (artifact.format === 'eip712' || !artifact.header) owner = recoverEip712(kind, artifact)
    else {
      const binding = await resolveKid(artifact.header.kid, web)
      const jwk = artifact.header.jwk && keyOfJwk(artifact.header.jwk)
      if (typeof jwk === 'string') return { verified: false, reason: jwk }
      if (typeof binding === 'object' && jwk) {
        // A key beside the kid must be the key the kid names (or, for did:pkh, that account's key).
        const same = binding.key
          ? sameKey(binding.key, jwk)
          : jwk.curve === 'secp256k1' && addressOf(jwk.bytes).toLowerCase() === binding.address?.toLowerCase()
        if (!same) return { verified: false, reason: 'the JWS jwk is not the key its kid names' }
      }
      const key = jwk || (typeof binding === 'object' ? (binding.key ?? { address: binding.address ?? '' }) : undefined)
      if (!key)
        return {
          verified: false,
          reason: typeof binding === 'string' ? binding : `the key of ${artifact.header.kid} cannot be resolved`,
        }
      owner = verifyJws(artifact, key)
      if (typeof binding === 'object') bound = binding
    }
    if (typeof owner === 'string') return { verified: false, reason: owner }
    const address = owner.address?.toLowerCase()
    const resourceHost = hostOf(artifact.payload.resourceUrl)
    const authorized =
      (address !== undefined && (address === payTo.toLowerCase() || trust.has(address))) ||
      (bound !== undefined &&
        (trust.has(bound.did) ||
          (kid !== undefined && trust.has(kid)) ||
          (bound.webHost !== undefined && bound.webHost === resourceHost)))
    const signer = bound ? kid : (owner.address ?? kid)
    if (!authorized)
      return {
        verified: false,
        signer,
        reason: `${signer} is not authorized to sign for ${resourceHost ?? 'the resource'}`,
      }
    return { verified: true, signer }
  }

  async function checkOne(offer: Offer, signed: SignedOffer, web: DidWebReader | undefined): Promise<SignatureCheck> {
    const mismatch = termsMismatch(signed.payload, offer)
    if (mismatch) return { verified: false, reason: mismatch }
    const until = signed.payload.validUntil ?? 0
    if (until !== 0 && now() > until)
      return { verified: false, reason: `the signed offer expired at ${new Date(until * 1000).toISOString()}` }
    return signerOf('offer', signed, offer.payTo, web)
  }

  return {
    async checkOffer({ offer, url, extensions, accepts, fetch, signal }): Promise<OfferCheck | undefined> {
      if (mode === 'ignore') return undefined
      const refuse = mode === 'require'
      const read = accepts && offer.protocol === 'x402' ? readSignedOffers(extensions) : undefined
      if (!read || !accepts)
        return refuse ? { verified: false, refuse, reason: 'the server signed no offer' } : undefined
      const web = reader(url, fetch, signal)
      // Signed offers match accepts[] by their terms; acceptIndex is only a hint.
      const index = accepts.indexOf(offer.raw)
      const mine = read.offers.filter((signed) => !termsMismatch(signed.payload, offer))
      const hinted = read.offers.filter(
        (signed, position) => (signed.acceptIndex ?? (read.offers.length === accepts.length ? position : -1)) === index,
      )
      const failures: string[] = []
      let signer: string | undefined
      for (const signed of mine) {
        const check = await checkOne(offer, signed, web)
        if (check.verified) return check
        signer ??= check.signer
        failures.push(check.reason ?? '')
      }
      if (mine.length === 0) for (const signed of hinted) failures.push(termsMismatch(signed.payload, offer) ?? '')
      if (failures.length === 0) failures.push(...read.problems, 'no signed offer names these terms')
      const reason = failures.filter(Boolean).join('; ').slice(0, 512)
      return signer ? { verified: false, refuse, signer, reason } : { verified: false, refuse, reason }
    },

    async checkReceipt({ offerCheck, ...input }): Promise<ReceiptVerification | undefined> {
      const check = await receiptCheck(input)
      if (!offerCheck && !check) return undefined
      const checks = [offerCheck, check]
      const problems = checks.flatMap((found) => (found && !found.verified ? [found.reason ?? 'not verified'] : []))
      const signer = [check, offerCheck].find((found) => found?.verified)?.signer
      return {
        ...(offerCheck && { offer: offerCheck.verified }),
        ...(check && { receipt: check.verified }),
        ...(signer && { signer }),
        ...(problems.length > 0 && { problems }),
      }
    },
  }

  /** The signed receipt's check, or `undefined` when there is none. */
  async function receiptCheck({
    resource,
    receipt,
    payer,
    extensions,
    fetch,
    signal,
  }: Omit<SignedReceiptInput, 'offerCheck'>): Promise<SignatureCheck | undefined> {
    const signed = readSignedReceipt(extensions)
    if (signed === undefined) return undefined
    if (typeof signed === 'string') return { verified: false, reason: signed }
    const { payload } = signed
    const problem =
      payload.network !== receipt.network
        ? `the signed receipt names network ${payload.network}`
        : payload.resourceUrl !== resource && payload.resourceUrl !== receipt.url
          ? 'the signed receipt names another resource'
          : payload.payer.toLowerCase() !== (payer ?? receipt.payer ?? '').toLowerCase()
            ? 'the signed receipt names another payer'
            : payload.issuedAt < now() - maxAge || payload.issuedAt > now() + clockSkewSeconds
              ? 'the signed receipt is not recent'
              : payload.transaction &&
                  receipt.reference &&
                  payload.transaction.toLowerCase() !== receipt.reference.toLowerCase()
                ? 'the signed receipt names another transaction'
                : undefined
    if (problem) return { verified: false, reason: problem }
    return signerOf('receipt', signed, receipt.payTo, reader(receipt.url, fetch, signal))
  }
}

/** Why the signed terms are not the 402's offer, or `undefined` when they are. */
function termsMismatch(payload: OfferPayload, offer: Offer): string | undefined {
  const fields: [string, string, string][] = [
    ['resourceUrl', payload.resourceUrl, offer.resource],
    ['scheme', payload.scheme, offer.scheme],
    ['network', payload.network, offer.network],
    ['asset', payload.asset, offer.asset.id],
    ['payTo', payload.payTo, offer.payTo],
    ['amount', BigInt(payload.amount).toString(), offer.amount.toString()],
  ]
  const differs = fields.find(([, signed, offered]) =>
    isAddress(signed) && isAddress(offered) ? signed.toLowerCase() !== offered.toLowerCase() : signed !== offered,
  )
  return (
    differs &&
    `the signed ${differs[0]} ${JSON.stringify(differs[1].slice(0, 80))} is not the 402's ${JSON.stringify(differs[2].slice(0, 80))}`
  )
}

const isAddress = (value: string) => /^0x[0-9a-fA-F]{40}$/.test(value)

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host
  } catch {
    return undefined
  }
}
