/**
 * A Tempo transaction of TIP-20 `transferWithMemo` calls to sign: what the `Payment` scheme's
 * `tempo` charge asks for. The payer signs; the server broadcasts it (co-signing as fee payer when
 * it sponsors the fees).
 */
export type TempoTransferRequest = {
  readonly kind: 'tempo-transfer'
  readonly chainId: number
  /** The TIP-20 token address. */
  readonly token: string
  /** The primary recipient: it receives `amount` less the splits. */
  readonly to: string
  /** The total the payer pays, in the token's base units. */
  readonly amount: bigint
  /** Further recipients paid out of `amount`, each with its own memo when the server names one. */
  readonly splits?:
    | readonly { readonly to: string; readonly amount: bigint; readonly memo?: string | undefined }[]
    | undefined
  /**
   * The primary transfer's memo: the `bytes32` the server names, or the challenge it is bound to
   * (mppx servers require an attribution memo derived from the challenge id and realm).
   */
  readonly memo: string | { readonly challengeId: string; readonly realm: string }
  /** The server pays the network fee (fee-payer mode). */
  readonly feePayer: boolean
  /** Unix time in seconds the signed transaction must not outlive (the challenge's expiry). */
  readonly validBefore?: number | undefined
}

/** The signed Tempo transaction, RLP hex. */
export type TempoTransferProof = {
  readonly kind: 'tempo-transfer'
  readonly transaction: `0x${string}`
  /** The checksummed address that signed. */
  readonly payer: `0x${string}`
}
