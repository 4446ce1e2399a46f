/**
 * A payment from an x402 `batch-settlement` channel: what the offer asks, and (once payfetch has
 * read the channel's state) what to sign for this call. The payer deposits once into the channel
 * contract and then signs, per call, a cumulative voucher the receiver claims from that deposit.
 */
export type BatchSettlementRequest = {
  readonly kind: 'batch-settlement'
  readonly chainId: number
  /** The ERC-20 token the channel holds (EIP-3009, for the gasless deposit). */
  readonly token: string
  /** The token's EIP-712 domain, which signs the deposit's `receiveWithAuthorization`. */
  readonly tokenDomain: { readonly name: string; readonly version: string }
  /** The receiver (`payTo`), bound in the channel. */
  readonly receiver: string
  /** Who signs the receiver's claims and refunds, bound in the channel. */
  readonly receiverAuthorizer: string
  /** Seconds the payer waits between asking to withdraw and withdrawing, bound in the channel. */
  readonly withdrawDelay: number
  /** This call's price, in atomic units: the voucher's increase. */
  readonly amount: bigint
  /** The smallest deposit the server accepts, when it says. */
  readonly minDeposit?: bigint | undefined
  /** Seconds the deposit authorization stays valid (the offer's `maxTimeoutSeconds`). */
  readonly validForSeconds: number
  /**
   * The server's own record of the channel, sent only with a corrective 402: what it has charged
   * and the last voucher it holds (signature included), checked before it is believed.
   */
  readonly serverState?: BatchServerState | undefined
  /** What payfetch resolved from the channel's stored state before signing; absent on a fresh offer. */
  readonly turn?: BatchTurn | undefined
}

/** The server's record of a channel, as a corrective 402 carries it. */
export type BatchServerState = {
  readonly channelId?: string | undefined
  readonly chargedCumulative: bigint
  readonly signedMaxClaimable: bigint
  readonly signature: `0x${string}`
}

/** What one call signs: a voucher up to `cumulative`, and a deposit first when the channel needs one. */
export type BatchTurn = {
  /** The channel salt (hex, 32 bytes), part of the channel id. */
  readonly salt: `0x${string}`
  /** The voucher's `maxClaimableAmount`: what the receiver may claim in total after this call. */
  readonly cumulative: bigint
  /** The deposit to sign with the voucher, in atomic units; absent when the channel has room. */
  readonly deposit?: bigint | undefined
  /** A cooperative refund: the voucher closes the channel at `cumulative` (what was charged). */
  readonly refund?: { readonly amount?: bigint | undefined } | undefined
}

/** The channel's fixed terms; its EIP-712 hash is the channel id. */
export type BatchChannelConfig = {
  readonly payer: `0x${string}`
  readonly payerAuthorizer: `0x${string}`
  readonly receiver: `0x${string}`
  readonly receiverAuthorizer: `0x${string}`
  readonly token: `0x${string}`
  readonly withdrawDelay: number
  readonly salt: `0x${string}`
}

/** What the signer returns: the voucher, with the deposit authorization when one was asked. */
export type BatchSettlementProof = {
  readonly kind: 'batch-settlement'
  readonly type: 'deposit' | 'voucher' | 'refund'
  readonly channelConfig: BatchChannelConfig
  readonly voucher: {
    readonly channelId: `0x${string}`
    /** Decimal string. */
    readonly maxClaimableAmount: string
    readonly signature: `0x${string}`
  }
  /** `deposit` only: the ERC-3009 `receiveWithAuthorization` into the deposit collector. */
  readonly deposit?:
    | {
        readonly amount: string
        readonly validAfter: string
        readonly validBefore: string
        readonly salt: `0x${string}`
        readonly signature: `0x${string}`
      }
    | undefined
  /** `refund` only: a partial refund's amount; absent refunds everything not charged. */
  readonly refundAmount?: string | undefined
  /** The checksummed address that signed. */
  readonly payer: `0x${string}`
}
