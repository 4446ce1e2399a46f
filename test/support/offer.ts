import type { PaymentMethod } from '../../src/methods/PaymentMethod.js'
import type { Offer } from '../../src/offer/Offer.js'

const payTo = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'

/**
 * An offer of `amount` in `where`'s asset, for tests of caps and choice, with the method its network
 * pays by: an EIP-3009 authorization on EVM chains, an SPL transfer on Solana, an invoice elsewhere.
 */
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
    payTo,
    resource: 'https://api.example.com/report',
    method: methodFor(where.network, where.asset, amount),
    raw: {},
  }
}

function methodFor(network: string, asset: string, amount: bigint): PaymentMethod {
  const chainId = /^eip155:(\d+)$/.exec(network)?.[1]
  if (chainId)
    return {
      kind: 'eip3009',
      chainId: Number(chainId),
      token: asset,
      domain: { name: 'USDC', version: '2' },
      to: payTo,
      value: amount,
      validBefore: { afterSeconds: 60 },
      nonce: 'random',
    }
  if (network.startsWith('solana:'))
    return { kind: 'spl-transfer', network, mint: asset, payTo, amount, feePayer: payTo }
  return { kind: 'bolt11', invoice: 'lnbc1test', paymentHash: '00'.repeat(32), amountMsat: amount, network }
}
