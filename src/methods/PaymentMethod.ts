import type { BatchSettlementProof, BatchSettlementRequest } from './BatchSettlement.js'
import type { Bolt11Proof, Bolt11Request } from './Bolt11.js'
import type { Eip3009Proof, Eip3009Request } from './Eip3009.js'
import type { Permit2Proof, Permit2Request } from './Permit2.js'
import type { SplTransferProof, SplTransferRequest } from './SplTransfer.js'
import type { TempoTransferProof, TempoTransferRequest } from './TempoTransfer.js'

/**
 * Every payment method payfetch speaks, by kind: what a signer is asked to sign or pay, and the
 * proof it returns. The same method can arrive in several envelopes (a BOLT11 invoice in L402 and in
 * a `Payment` lightning charge); signers see only the method, never the envelope.
 */
export type PaymentMethods = {
  eip3009: { request: Eip3009Request; proof: Eip3009Proof }
  permit2: { request: Permit2Request; proof: Permit2Proof }
  bolt11: { request: Bolt11Request; proof: Bolt11Proof }
  'spl-transfer': { request: SplTransferRequest; proof: SplTransferProof }
  'tempo-transfer': { request: TempoTransferRequest; proof: TempoTransferProof }
  'batch-settlement': { request: BatchSettlementRequest; proof: BatchSettlementProof }
}

export type MethodKind = keyof PaymentMethods

/** A typed method request, discriminated by `kind`. */
export type PaymentMethod<kind extends MethodKind = MethodKind> = PaymentMethods[kind]['request']

/** The proof a signer returns for a method request of the same kind. */
export type MethodProof<kind extends MethodKind = MethodKind> = PaymentMethods[kind]['proof']

/** The CAIP-2 network a method request pays on. */
export function networkOf(method: PaymentMethod): string {
  return 'chainId' in method ? `eip155:${method.chainId}` : method.network
}

/** What a method request moves, in its asset's atomic units (millisatoshis for an invoice). */
export function amountOf(method: PaymentMethod): bigint {
  switch (method.kind) {
    case 'eip3009':
      return method.value
    case 'bolt11':
      return method.amountMsat
    default:
      return method.amount
  }
}

/**
 * Whether money moves when the signer pays (a Lightning invoice), before the server sees the proof,
 * rather than when the server settles what the proof authorises.
 */
export function paysOnSigning(method: PaymentMethod): boolean {
  return method.kind === 'bolt11'
}
