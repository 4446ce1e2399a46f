import type { Offer } from './Offer.js'

/** The safe, loggable summary of an offer used in error details and events. */
export function describeOffer(offer: Offer): Record<string, string> {
  return {
    protocol: offer.protocol,
    scheme: offer.scheme,
    network: offer.network,
    asset: offer.asset.id,
    amount: offer.amount.toString(),
    payTo: offer.payTo,
    ...(offer.flow && { flow: offer.flow }),
  }
}
