/** The asset an offer is priced in. `decimals` is known for listed assets and otherwise absent. */
export type Asset = {
  /** Contract address, mint, or a protocol unit such as `sat`. */
  readonly id: string
  readonly decimals?: number | undefined
  readonly symbol?: string | undefined
}

/**
 * One way to pay for a resource, normalised from whatever protocol the server spoke. Every amount
 * is a `bigint` in the asset's atomic units.
 */
export type Offer = {
  /** The protocol that produced the offer, e.g. `x402`. */
  readonly protocol: string
  /** The protocol's version, e.g. `1` or `2` for x402. */
  readonly version?: number | undefined
  /** The payment scheme, e.g. `exact`. */
  readonly scheme: string
  /** CAIP-2 network id, e.g. `eip155:8453`. */
  readonly network: string
  readonly asset: Asset
  readonly amount: bigint
  /** The recipient as the protocol names it (address, node key, …). */
  readonly payTo: string
  /** The URL of the paid resource. */
  readonly resource: string
  readonly description?: string | undefined
  /** How long a signed authorization may stay valid, when the protocol says. */
  readonly maxTimeoutSeconds?: number | undefined
  /** Unix time in milliseconds after which the offer cannot be paid, when the protocol says. */
  readonly expiresAt?: number | undefined
  /** Scheme-specific parameters (e.g. the EIP-712 domain `name`/`version` for x402 on EVM). */
  readonly extra: Readonly<Record<string, unknown>>
  /** The offer exactly as the server sent it. */
  readonly raw: unknown
}
