/**
 * An SPL `TransferChecked` transaction to sign on Solana (Token or Token-2022), with the server's
 * fee payer: what x402 `exact` on Solana asks for. The payer only signs; the server's facilitator
 * co-signs and submits.
 */
export type SplTransferRequest = {
  readonly kind: 'spl-transfer'
  /** CAIP-2 id of the cluster. */
  readonly network: string
  readonly mint: string
  readonly payTo: string
  readonly amount: bigint
  /** The decimals the offer was priced with, when payfetch knows the asset: a mint with others on chain is refused. */
  readonly decimals?: number | undefined
  /** The account that pays the network fee and co-signs. */
  readonly feePayer: string
  /** The memo the server requires verbatim; absent: a random one keeps identical payments distinct. */
  readonly memo?: string | undefined
  /** The blockhash to use when the server names one, instead of asking the RPC. */
  readonly recentBlockhash?: string | undefined
  readonly lastValidBlockHeight?: bigint | undefined
}

/** The partially signed transaction, base64 wire format. */
export type SplTransferProof = {
  readonly kind: 'spl-transfer'
  readonly transaction: string
  /** The payer's address. */
  readonly payer: string
}
