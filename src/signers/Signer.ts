import type { PayfetchError } from '../errors/PayfetchError.js'
import type { MethodKind, MethodProof, PaymentMethod } from '../methods/PaymentMethod.js'
import type { Protocol, SettlementReport } from '../protocols/Protocol.js'
import type { SessionStore } from '../sessions/SessionStore.js'
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
  /**
   * For methods paid on signing (a Lightning invoice): what the wallet knows of a payment asked for
   * before, found by the request's payment hash, without paying again. The proof when it was paid,
   * `failed` when it provably was not, `unknown` when the wallet cannot say (in flight, not found).
   */
  lookup?(request: PaymentMethod<kind>, context: PayContext): Promise<MethodProof<kind> | 'failed' | 'unknown'>
  /**
   * For methods that draw on money put aside before (an x402 `batch-settlement` channel): the
   * channel's state, read before anything is reserved or signed and kept after each answer.
   */
  channel?: ChannelPayer<kind> | undefined
}

/**
 * A payer that keeps a channel per receiver in the sessions. payfetch takes the channel for one call,
 * reserves its deposit (money put at risk) or, with room left, its price, signs the request the turn
 * resolved, and hands the server's answer back to the turn before anything more is signed.
 */
export type ChannelPayer<kind extends MethodKind = MethodKind> = {
  /** The deposit paying now would make (`0n`: the channel has room), without taking the channel. */
  peek(request: PaymentMethod<kind>, context: ChannelContext): Promise<bigint>
  /**
   * Takes the channel for one call (a lock every process sharing the sessions respects) and
   * resolves what to sign.
   *
   * @throws {PayfetchError} `CHANNEL_INVALID` when the channel was marked unusable;
   * `PAYMENT_IN_PROGRESS` when another call holds it past the wait.
   */
  take(request: PaymentMethod<kind>, context: ChannelContext): Promise<ChannelTurn<kind>>
}

export type ChannelContext = PayContext & { readonly sessions: SessionStore }

/** One call's hold on a channel. */
export type ChannelTurn<kind extends MethodKind = MethodKind> = {
  /** The request with the channel's state resolved: what `pay` signs. */
  readonly request: PaymentMethod<kind>
  /** The deposit this call makes, in the request's atomic units; `0n` when the channel has room. */
  readonly deposit: bigint
  /** Keeps what was signed, before the proof leaves. */
  signed(proof: MethodProof<kind>): Promise<void>
  /** Checks the server's answer to the proof and keeps the channel's new state. */
  answered(answer: ChannelAnswer): Promise<ChannelOutcome<kind>>
  /** Lets the channel go. */
  end(): Promise<void>
}

/** The server's answer to a channel payment, as the protocol read it. */
export type ChannelAnswer = {
  readonly refused: boolean
  readonly report?: SettlementReport | undefined
  /** The refusal's reason code. */
  readonly reason?: string | undefined
  /** The same method as the refusing 402 offers it again (a corrective 402 carries the server's state). */
  readonly offered?: PaymentMethod | undefined
}

/**
 * What the answer means: `charged` (the server's charge, checked); `resync` (the server's state
 * was checked and adopted: sign this request once more); `busy` (send the same proof again after a
 * pause); `refused`; `invalid` (the server contradicted what was signed: the channel is unusable,
 * and `charged` is what counts as spent).
 */
export type ChannelOutcome<kind extends MethodKind = MethodKind> =
  | { readonly kind: 'charged'; readonly charged: bigint }
  | { readonly kind: 'resync'; readonly request: PaymentMethod<kind> }
  | { readonly kind: 'busy' }
  | { readonly kind: 'refused' }
  | { readonly kind: 'invalid'; readonly error: PayfetchError; readonly charged: bigint }

export type PayContext = {
  /** The URL that asked for payment. */
  readonly url: string
  readonly signal?: AbortSignal | undefined
  /** Reports what a payer did on its own besides signing (an on-chain approval), as a payfetch event. */
  readonly report?: ((report: SignerReport) => void) | undefined
}

/** Something a payer did on its way to paying (an approval, a channel step), reported as an event of the same type. */
export type SignerReport = ApprovalReport | ChannelReport

/**
 * A payment channel step: a deposit signed (`channel.deposit`, money put at risk), a voucher signed
 * (`channel.voucher`, `amount` is this call's price, `cumulative` the channel's total), a refund
 * answered (`channel.refund`, `amount` returned), or a channel set aside (`channel.unusable`).
 */
export type ChannelReport = {
  readonly type: 'channel.deposit' | 'channel.voucher' | 'channel.refund' | 'channel.unusable'
  readonly url: string
  /** CAIP-2 network id. */
  readonly network: string
  readonly token: string
  readonly channelId: string
  readonly amount: bigint
  /** The voucher's cumulative amount, after this step. */
  readonly cumulative?: bigint | undefined
  /** `channel.refund`: its transaction hash; `channel.unusable`: why. */
  readonly detail?: string | undefined
}

/** An ERC-20 approval a payer's wallet sent on chain before signing. */
export type ApprovalReport = {
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
