/**
 * payfetch/lightning: pays L402 invoices with a Lightning wallet (Nostr Wallet Connect, lnd,
 * Core Lightning, LNbits, WebLN, or your own), checked before and after paying: the invoice's
 * signature with `@noble/curves` secp256k1, then the preimage against its payment hash.
 *
 * @module
 */

export { decodeL402 } from '../protocols/l402/decode.js'
export { l402 } from '../protocols/l402/index.js'
export type { LightningNetwork } from '../protocols/l402/networks.js'
export { type AuthChallenge, parseWwwAuthenticate } from '../protocols/wwwAuthenticate/parseWwwAuthenticate.js'
export { type CoreLightningOptions, coreLightning } from './coreLightning.js'
export type {
  LightningWallet,
  LookupPaymentOptions,
  PaidInvoice,
  PayInvoiceOptions,
  PaymentStatus,
} from './LightningWallet.js'
export { type LightningOptions, lightning } from './lightning.js'
export { type LnbitsOptions, lnbits } from './lnbits.js'
export { type LndOptions, lnd } from './lnd.js'
export { type NwcOptions, nwc } from './nwc.js'
export type { WebSocketConstructor, WebSocketLike } from './relayConnection.js'
export { type WebLNProvider, webln } from './webln.js'
