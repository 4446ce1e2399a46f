/**
 * payfetch/offer-receipt: checks what x402 servers sign with the `offer-receipt` extension (signed
 * offers before paying, signed receipts after), EIP-712 and JWS (ES256K, ES256, EdDSA), with
 * `@noble/curves` and `@noble/hashes`. Pass `offerReceipt()` as `createPayingFetch({ signedTerms })`.
 *
 * @module
 */
export { type OfferReceiptOptions, offerReceipt } from './offerReceipt.js'
export {
  type JwsHeader,
  type OfferPayload,
  offerReceiptKey,
  type ReceiptPayload,
  readSignedOffers,
  readSignedReceipt,
  type SignedArtifact,
  type SignedOffer,
  type SignedReceipt,
} from './signedArtifact.js'
