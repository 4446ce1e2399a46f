import type { PaymentMethod } from '../methods/PaymentMethod.js'

/** The asset an offer is priced in. `decimals` is known for listed assets and otherwise absent. */
export type Asset = {
  /** Contract address, mint, or a protocol unit such as `BTC` (counted in msat). */
  readonly id: string
  readonly decimals?: number | undefined
  readonly symbol?: string | undefined
}

/**
 * When an offer's money moves (x402 `extra.paymentFlow`): `authorization` (verified, the work done,
 * then settled), `upfront` (settled before the work runs: a failing handler keeps the money) or
 * `escrow` (settled into escrow before the work, released to the server after).
 */
export type PaymentFlow = 'authorization' | 'upfront' | 'escrow'

/**
 * One way to pay for a resource, normalised from whatever protocol the server spoke. Every amount
 * is a `bigint` in the asset's atomic units.
 */
export type Offer = {
  /** The protocol (envelope) that produced the offer: `x402`, `l402` or `payment`. */
  readonly protocol: string
  /** The protocol's version, e.g. `1` or `2` for x402. */
  readonly version?: number | undefined
  /** The payment scheme or intent, e.g. `exact`, `charge`. */
  readonly scheme: string
  /** CAIP-2 network id, e.g. `eip155:8453`. */
  readonly network: string
  readonly asset: Asset
  readonly amount: bigint
  /** The recipient as the protocol names it (address, node key, …). */
  readonly payTo: string
  /** The URL of the paid resource. */
  readonly resource: string
  /** The server's description: for display only, never trusted. */
  readonly description?: string | undefined
  /**
   * When the money moves, when the server says (absent: `authorization`). Caps allow `upfront` and
   * `escrow` only when listed in `caps.flows`.
   */
  readonly flow?: PaymentFlow | undefined
  /** Unix time in milliseconds after which the offer cannot be paid, when the protocol says. */
  readonly expiresAt?: number | undefined
  /**
   * What a signer signs or pays to accept the offer, typed by kind; `undefined` when payfetch knows
   * no method for it (the offer is shown, never paid).
   */
  readonly method?: PaymentMethod | undefined
  /** The offer exactly as the server sent it. */
  readonly raw: unknown
}
