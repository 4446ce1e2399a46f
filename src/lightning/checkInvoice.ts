import { decode } from 'bolt11'
import type { Bolt11Request } from '../methods/Bolt11.js'
import { lightningNetworks } from '../protocols/l402/networks.js'

// bolt11's network objects; it knows no signet on its own (`lntbs…`).
const testnets = { pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] }
const bolt11Networks: Record<
  string,
  { bech32: string; pubKeyHash: number; scriptHash: number; validWitnessVersions: number[] }
> = {
  [lightningNetworks.mainnet]: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
  [lightningNetworks.testnet]: { bech32: 'tb', ...testnets },
  [lightningNetworks.signet]: { bech32: 'tbs', ...testnets },
  [lightningNetworks.regtest]: { bech32: 'bcrt', ...testnets },
}

// Requests are read-only: the signature check (the costly part) runs once per request, not again in pay().
const checked = new WeakMap<Bolt11Request, string | number>()

/**
 * Decodes the invoice with `bolt11` (signature included) and checks it against what the request
 * says: network, amount, payment hash, payee and expiry. Returns why it cannot be paid, or
 * `undefined` when it can.
 */
export function checkInvoice(request: Bolt11Request, now = Date.now()): string | undefined {
  let result = checked.get(request)
  if (result === undefined) {
    result = decodeAgainst(request)
    checked.set(request, result)
  }
  return typeof result === 'string' ? result : result <= now ? 'the invoice has expired' : undefined
}

/** Why the invoice does not match the request, or the time (ms) it expires. */
function decodeAgainst(request: Bolt11Request): string | number {
  const { invoice, paymentHash } = request
  const network = bolt11Networks[request.network]
  if (!network) return 'no invoice on a known network'
  let decoded: ReturnType<typeof decode>
  try {
    decoded = decode(invoice, network)
  } catch {
    return 'the invoice does not decode or its signature is invalid'
  }
  if (!decoded.millisatoshis || BigInt(decoded.millisatoshis) !== request.amountMsat)
    return 'the invoice amount differs from the offer'
  if (decoded.tagsObject.payment_hash !== paymentHash) return 'the invoice payment hash differs from the offer'
  if (request.payee !== undefined && decoded.payeeNodeKey !== request.payee)
    return 'the invoice is signed by another node'
  return ((decoded.timestamp ?? 0) + (decoded.tagsObject.expire_time ?? 3600)) * 1000
}
