/**
 * A Permit2 `PermitWitnessTransferFrom` to sign: what x402 `exact` with
 * `extra.assetTransferMethod: "permit2"` and x402 `upto` on EVM ask for. The payer signs EIP-712
 * typed data under Permit2's domain; the spender is one of the x402 Permit2 proxies, which only ever
 * pays `to`. Nothing moves until the server's facilitator submits it.
 */
export type Permit2Request = {
  readonly kind: 'permit2'
  readonly chainId: number
  /** The ERC-20 token. */
  readonly token: string
  /**
   * `exact`: the x402 exact proxy moves exactly `amount`. `upto`: the x402 upto proxy moves at most
   * `amount` (the ceiling), and only when `facilitator` submits it.
   */
  readonly proxy: 'exact' | 'upto'
  /** The amount signed: the price (`exact`) or the ceiling (`upto`), in atomic units. */
  readonly amount: bigint
  /** The recipient, bound in the witness. */
  readonly to: string
  /** `upto` only: the one address allowed to settle, bound in the witness. */
  readonly facilitator?: string | undefined
  /** Seconds after signing at which the permit's deadline falls (the offer's `maxTimeoutSeconds`). */
  readonly deadlineAfterSeconds: number
  /** The token's EIP-712 domain, when the server names it: needed to sign an EIP-2612 permit. */
  readonly tokenDomain?: { readonly name: string; readonly version: string } | undefined
  /**
   * The ways the server offers to grant Permit2 its allowance without the payer's gas, when the
   * payer has none yet: an EIP-2612 permit (`eip2612`) or a signed, unbroadcast `approve`
   * transaction (`erc20Approval`).
   */
  readonly sponsoring?: readonly ('eip2612' | 'erc20Approval')[] | undefined
}

/** The signed permit, as x402 carries it. Numbers are decimal strings. */
export type Permit2Proof = {
  readonly kind: 'permit2'
  readonly signature: `0x${string}`
  readonly permit2Authorization: {
    readonly from: `0x${string}`
    readonly permitted: { readonly token: `0x${string}`; readonly amount: string }
    readonly spender: `0x${string}`
    readonly nonce: string
    readonly deadline: string
    readonly witness:
      | { readonly to: `0x${string}`; readonly validAfter: string }
      | { readonly to: `0x${string}`; readonly facilitator: `0x${string}`; readonly validAfter: string }
  }
  /** The checksummed address that signed. */
  readonly payer: `0x${string}`
  /**
   * The allowance grant the server sponsors, when Permit2 had none: the `info` of the
   * `eip2612GasSponsoring` or `erc20ApprovalGasSponsoring` extension.
   */
  readonly sponsored?:
    | {
        readonly extension: 'eip2612GasSponsoring' | 'erc20ApprovalGasSponsoring'
        readonly info: Readonly<Record<string, string>>
      }
    | undefined
}
