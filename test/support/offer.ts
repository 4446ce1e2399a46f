import type { Offer } from '../../src/offer/Offer.js'

/** An x402-shaped offer of `amount` in `where`'s asset, for tests of caps and choice. */
export function offer(
  where: { network: string; asset: string; decimals?: number },
  amount: bigint,
  protocol = 'x402',
): Offer {
  return {
    protocol,
    version: 2,
    scheme: 'exact',
    network: where.network,
    asset: where.decimals === undefined ? { id: where.asset } : { id: where.asset, decimals: where.decimals },
    amount,
    payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
    resource: 'https://api.example.com/report',
    extra: {},
    raw: {},
  }
}
