import type { Offer, Signer } from '../../src/index.js'

/** The signer, wrapped to record every offer it is asked to pay: "nothing signed" is `calls.length === 0`. */
export function countingSigner(signer: Signer): Signer & { calls: Offer[] } {
  const calls: Offer[] = []
  return {
    name: signer.name,
    calls,
    canPay: (offer) => signer.canPay(offer),
    pay(offer, context) {
      calls.push(offer)
      return signer.pay(offer, context)
    },
  }
}
