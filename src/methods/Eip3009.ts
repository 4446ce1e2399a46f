/**
 * An EIP-3009 `transferWithAuthorization` to sign: what x402 `exact` on EVM and the `Payment`
 * scheme's `evm` charge ask for. The payer signs EIP-712 typed data; the server settles it on chain.
 */
export type Eip3009Request = {
  readonly kind: 'eip3009'
  readonly chainId: number
  /** The token contract (the EIP-712 `verifyingContract`). */
  readonly token: string
  /**
   * The token's EIP-712 domain name and version (`USD Coin` / `2`) when the server names it (x402);
   * otherwise the signer supplies it for the tokens it knows (the `Payment` evm charge omits it).
   */
  readonly domain?: { readonly name: string; readonly version: string } | undefined
  readonly to: string
  readonly value: bigint
  /** Seconds before signing at which the authorization starts (x402 v1 starts 600 s back); absent: valid from 0. */
  readonly validAfterSeconds?: number | undefined
  /** When it stops being valid: seconds after signing, or a Unix time in seconds. Signers cap both at an hour. */
  readonly validBefore: { readonly afterSeconds: number } | { readonly at: number }
  /**
   * The nonce rule: a fresh random 32 bytes (x402), or keccak256 of this UTF-8 text (the `Payment`
   * `evm` charge binds the nonce to the challenge id and realm, so a credential fits one challenge).
   */
  readonly nonce: 'random' | { readonly keccak256Of: string }
}

/** The signed authorization. Numbers are decimal strings, as both envelopes send them. */
export type Eip3009Proof = {
  readonly kind: 'eip3009'
  readonly signature: `0x${string}`
  readonly authorization: {
    readonly from: `0x${string}`
    readonly to: `0x${string}`
    readonly value: string
    readonly validAfter: string
    readonly validBefore: string
    readonly nonce: `0x${string}`
  }
  /** The checksummed address that signed. */
  readonly payer: `0x${string}`
}
