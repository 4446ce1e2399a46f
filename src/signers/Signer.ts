import type { Offer } from '../offer/Offer.js'
import type { Protocol } from '../protocols/Protocol.js'

/**
 * A signer pays offers of the protocols and networks it knows. payfetch checks caps before calling
 * `pay`, so a signer only decides what it is able to pay, not what it should.
 */
export type Signer = {
  /** A short name for events and errors, e.g. `evm`. */
  readonly name: string
  /**
   * Protocols only this kind of signer can pay (L402 comes with the Lightning signer), so an
   * app that never pays them never bundles their decoders. x402 is always spoken.
   */
  readonly protocols?: readonly Protocol[] | undefined
  /**
   * The most this signer may spend on top of `offer.amount` (routing fees), in the offer's atomic
   * units. Caps and budgets count amount plus this.
   */
  maxFee?(offer: Offer): bigint
  /** Whether this signer can pay the offer (protocol, scheme, network, asset, amount). */
  canPay(offer: Offer): boolean
  /** Signs or pays the offer and returns the protocol payload that proves it. */
  pay(offer: Offer, context: PayContext): Promise<Payment>
}

export type PayContext = {
  /** The URL that asked for payment. */
  readonly url: string
  readonly signal?: AbortSignal | undefined
}

export type Payment = {
  /** The scheme payload the protocol adapter puts into its proof header. */
  readonly payload: unknown
  /** Who paid (an address or public key), when known before settlement. */
  readonly payer?: string | undefined
}
