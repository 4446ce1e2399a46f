/**
 * payfetch: a `fetch` that pays HTTP 402 challenges within the caps you set.
 *
 * @module
 */

export { bitcoinMainnet, bitcoinRegtest, bitcoinSignet, bitcoinTestnet } from './caps/bitcoinNetworks.js'
export type { Budget, BudgetRule, Charge } from './caps/budgets.js'
export { findKnownAsset, type KnownAsset, knownAssets } from './caps/knownAssets.js'
export type { AssetAllowance, CallLimits, Caps } from './caps/policy.js'
export type { Rates } from './caps/valuation.js'
export { type ErrorCode, isPayfetchError, PayfetchError } from './errors/PayfetchError.js'
export type { ApprovalRequest, Approve, PolicyWebhook } from './fetch/approval.js'
export { createPayingFetch, type PayingFetch, type PayingFetchOptions } from './fetch/createPayingFetch.js'
export type { PayfetchEvent } from './fetch/events.js'
export type { Quote, QuotedOffer } from './fetch/quote.js'
export type {
  ClaimResult,
  EntryState,
  Ledger,
  PendingPayment,
  Reservation,
  ReserveResult,
  Settled,
  Spend,
  SpendReport,
} from './ledger/Ledger.js'
export { type MemoryLedgerOptions, memoryLedger } from './ledger/memoryLedger.js'
export type {
  BatchChannelConfig,
  BatchDepositMethod,
  BatchDepositProof,
  BatchServerState,
  BatchSettlementProof,
  BatchSettlementRequest,
  BatchTurn,
} from './methods/BatchSettlement.js'
export type { Bolt11Proof, Bolt11Request } from './methods/Bolt11.js'
export type { Eip3009Proof, Eip3009Request } from './methods/Eip3009.js'
export type { MethodKind, MethodProof, PaymentMethod, PaymentMethods } from './methods/PaymentMethod.js'
export type { Permit2Proof, Permit2Request } from './methods/Permit2.js'
export type { SplTransferProof, SplTransferRequest } from './methods/SplTransfer.js'
export type { TempoTransferProof, TempoTransferRequest } from './methods/TempoTransfer.js'
export type { Asset, Offer, PaymentFlow } from './offer/Offer.js'
export type {
  OfferCheck,
  SignatureCheck,
  SignedOfferInput,
  SignedReceiptInput,
  SignedTerms,
} from './offer/SignedTerms.js'
export type { InvoiceSummary, SignedInvoice } from './protocols/l402/readInvoice.js'
export type { ProofContext, Protocol, Response402, SettlementReport } from './protocols/Protocol.js'
export {
  type DecodeX402Options,
  decodeX402,
  decodeX402Message,
  type PaymentRequired,
  readPaymentRequired,
  type X402Terms,
} from './protocols/x402/decode.js'
export { x402With } from './protocols/x402/index.js'
export { networkFromV1 } from './protocols/x402/networks.js'
export { readSettlement, type Settlement } from './protocols/x402/settlement.js'
export { getReceipt, type Receipt, type ReceiptVerification } from './receipts/Receipt.js'
export {
  type ChannelRecord,
  memorySessions,
  type SessionLock,
  type SessionStore,
  type SessionToken,
} from './sessions/SessionStore.js'
export type {
  ApprovalReport,
  ChannelAnswer,
  ChannelContext,
  ChannelOutcome,
  ChannelPayer,
  ChannelReport,
  ChannelTurn,
  MethodPayer,
  MethodPayers,
  PayContext,
  Signer,
  SignerReport,
} from './signers/Signer.js'
export type { SignInWithX, SiwxAccess, SiwxRequest } from './signers/SignInWithX.js'
export { decodeBase64Json, encodeBase64Json } from './utils/base64.js'
