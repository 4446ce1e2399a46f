import type { Permit2Proof } from './Permit2.js'

/**
 * A payment from an x402 `batch-settlement` channel: what the offer asks, and (once payfetch has
 * read the channel's state) what to sign for this call. The payer deposits once into the channel
 * contract and then signs, per call, a cumulative voucher the receiver claims from that deposit.
 */
export type BatchSettlementRequest = {
  readonly kind: 'batch-settlement'
  readonly chainId: number
  /** The ERC-20 token the channel holds. */
  readonly token: string
  /** How a deposit moves the payer's tokens into the channel, as the server asks. */
  readonly depositMethod: BatchDepositMethod
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

/**
 * How a channel's deposit moves the payer's tokens, gaslessly (the server's facilitator submits it):
 * an EIP-3009 `receiveWithAuthorization` to the ERC-3009 deposit collector, or a Permit2 witness
 * transfer to the Permit2 deposit collector (any ERC-20; Permit2 needs the payer's allowance first).
 */
export type BatchDepositMethod =
  | {
      readonly kind: 'eip3009'
      /** The token's EIP-712 domain, which signs the `receiveWithAuthorization`. */
      readonly tokenDomain: { readonly name: string; readonly version: string }
    }
  | {
      readonly kind: 'permit2'
      /** The token's EIP-712 domain when the server names it: needed to sign a sponsored EIP-2612 permit. */
      readonly tokenDomain?: { readonly name: string; readonly version: string } | undefined
      /** The ways the server offers to grant Permit2 its allowance without the payer's gas. */
      readonly sponsoring?: readonly ('eip2612' | 'erc20Approval')[] | undefined
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

/** A signed deposit. Numbers are decimal strings. */
export type BatchDepositProof =
  | {
      /** A `receiveWithAuthorization` to the ERC-3009 deposit collector; its nonce hashes the channel id and `salt`. */
      readonly kind: 'eip3009'
      readonly amount: string
      readonly validAfter: string
      readonly validBefore: string
      readonly salt: `0x${string}`
      readonly signature: `0x${string}`
    }
  | {
      /** A `PermitWitnessTransferFrom` to the Permit2 deposit collector, its witness the channel id. */
      readonly kind: 'permit2'
      readonly amount: string
      readonly signature: `0x${string}`
      readonly permit2Authorization: {
        readonly from: `0x${string}`
        readonly permitted: { readonly token: `0x${string}`; readonly amount: string }
        readonly spender: `0x${string}`
        readonly nonce: string
        readonly deadline: string
        readonly witness: { readonly channelId: `0x${string}` }
      }
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
  /** `deposit` only: the signed deposit into the channel, by the offer's deposit method. */
  readonly deposit?: BatchDepositProof | undefined
  /**
   * A Permit2 deposit's allowance grant the server sponsors, when Permit2 had none: the `info` of the
   * `eip2612GasSponsoring` or `erc20ApprovalGasSponsoring` extension.
   */
  readonly sponsored?: Permit2Proof['sponsored']
  /** `refund` only: a partial refund's amount; absent refunds everything not charged. */
  readonly refundAmount?: string | undefined
  /** The checksummed address that signed. */
  readonly payer: `0x${string}`
}
