/**
 * payfetch/payment: the IETF `Payment` HTTP authentication scheme (draft-httpauth-payment, "MPP"),
 * `charge` intent. The signers that pay its methods (`evm`, `solana`, `lightning`, `tempo`) bring it
 * along; import it from here to decode challenges yourself.
 *
 * @module
 */
export { decodePayment, type PaymentChallenge } from '../protocols/payment/decodePayment.js'
export { payment } from '../protocols/payment/index.js'
