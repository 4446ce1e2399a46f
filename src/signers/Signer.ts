import type { MethodKind, MethodProof, PaymentMethod } from '../methods/PaymentMethod.js'
import type { Protocol } from '../protocols/Protocol.js'
import type { SignInWithX } from './SignInWithX.js'

/**
 * A signer pays the payment methods it declares, whatever envelope (x402, L402, `Payment`) an offer
 * arrived in. payfetch checks caps before calling `pay`, so a signer only decides what it is able
 * to pay, not what it should.
 *
 * @example
 * ```ts
 * import type { Signer } from 'payfetch'
 *
 * const signer: Signer = {
 *   name: 'my-wallet',
 *   methods: {
 *     bolt11: {
 *       refusal: (invoice) => (invoice.amountMsat > 1_000_000n ? 'too large for this wallet' : undefined),
 *       pay: async (invoice) => ({ kind: 'bolt11', preimage: await myWallet.pay(invoice.invoice) }),
 *     },
 *   },
 * }
 * ```
 */
export type Signer = {
  /** A short name for events and errors, e.g. `evm`. */
  readonly name: string
  /** One payer per method kind this signer pays. */
  readonly methods: MethodPayers
  /**
   * Envelopes only this kind of signer can pay (L402 comes with the Lightning signer), so an app
   * that never pays them never bundles their decoders. x402 is always spoken.
   */
  readonly protocols?: readonly Protocol[] | undefined
  /**
   * Signs in to x402 servers that advertise `sign-in-with-x`, so a resource this signer's address
   * paid for is reached again by signing instead of paying (`evm()` signs SIWE messages).
   */
  readonly signIn?: SignInWithX | undefined
}

export type MethodPayers = { readonly [kind in MethodKind]?: MethodPayer<kind> | undefined }

/** How a signer pays one method kind. */
export type MethodPayer<kind extends MethodKind = MethodKind> = {
  /** Why this signer cannot pay the request (network, asset, fee payer, …); `undefined` when it can. */
  refusal?(request: PaymentMethod<kind>): string | undefined
  /**
   * The most paying may cost on top of the request's amount (routing fees), in its atomic units.
   * Caps and budgets count amount plus this.
   */
  maxFee?(request: PaymentMethod<kind>): bigint
  /** Signs or pays the request and returns the proof. */
  pay(request: PaymentMethod<kind>, context: PayContext): Promise<MethodProof<kind>>
}

export type PayContext = {
  /** The URL that asked for payment. */
  readonly url: string
  readonly signal?: AbortSignal | undefined
  /** Reports what a payer did on its own besides signing (an on-chain approval), as a payfetch event. */
  readonly report?: ((report: SignerReport) => void) | undefined
}

/** Something a payer did on chain on its way to paying, reported as an event of the same type. */
export type SignerReport = {
  /** An ERC-20 approval the payer's wallet sent (Permit2), mined before the payment was signed. */
  readonly type: 'approval.sent'
  /** The URL whose payment needed it. */
  readonly url: string
  /** CAIP-2 network id. */
  readonly network: string
  readonly token: string
  /** Who may now move the token (Permit2). */
  readonly spender: string
  /** The allowance granted, in atomic units. */
  readonly amount: bigint
  /** The approval's transaction hash. */
  readonly transaction: string
}

/** The signer's payer for `method`, when it declares one. */
export function payerFor<kind extends MethodKind>(
  signer: Signer,
  method: PaymentMethod<kind>,
): MethodPayer<kind> | undefined {
  // TypeScript cannot correlate the key with the entry's type parameter on its own.
  return signer.methods[method.kind] as MethodPayer<kind> | undefined
}
