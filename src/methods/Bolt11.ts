/**
 * A BOLT11 invoice to pay: what an L402 challenge, a `Payment` lightning charge and an x402
 * Lightning offer ask for. Money moves when the wallet pays, before the server sees the proof.
 */
export type Bolt11Request = {
  readonly kind: 'bolt11'
  /** The invoice, lower case. */
  readonly invoice: string
  /** 64 lowercase hex characters, as read from the invoice. */
  readonly paymentHash: string
  /** The invoice amount in millisatoshis, as read from the invoice. */
  readonly amountMsat: bigint
  /** CAIP-2 id of the Bitcoin network the invoice is issued on. */
  readonly network: string
  /** The payee node key (66 hex characters) when the invoice names it. */
  readonly payee?: string | undefined
}

/** What the wallet returned for a paid invoice; `sha256(preimage) == paymentHash` was checked. */
export type Bolt11Proof = {
  readonly kind: 'bolt11'
  /** 64 lowercase hex characters. */
  readonly preimage: string
  /** The routing fee the wallet reported, in millisatoshis. */
  readonly feeMsat?: bigint | undefined
}
