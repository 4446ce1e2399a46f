import type { Permit2Request } from '../methods/Permit2.js'
import type { X402Terms } from '../protocols/x402/decode.js'
import { sponsoringOffered } from './sponsoringOffered.js'

const addressPattern = /^0x[0-9a-fA-F]{40}$/

/**
 * The Permit2 request an x402 option asks for: `exact` with `extra.assetTransferMethod: "permit2"`
 * (the exact proxy moves the price) or `upto` (Permit2 only; the upto proxy moves at most the
 * amount, settled by the facilitator the server names in `extra.facilitatorAddress`). `undefined`
 * for any other option.
 */
export function readPermit2Offer(terms: X402Terms): Permit2Request | undefined {
  const { scheme, network, asset, amount, payTo, extra, extensions } = terms
  const chainId = Number(/^eip155:([1-9][0-9]{0,15})$/.exec(network)?.[1])
  if (!Number.isSafeInteger(chainId)) return undefined
  const { name, version, assetTransferMethod, facilitatorAddress } = extra
  let facilitator: string | undefined
  if (scheme === 'upto') {
    if (assetTransferMethod !== undefined && assetTransferMethod !== 'permit2') return undefined
    if (typeof facilitatorAddress !== 'string' || !addressPattern.test(facilitatorAddress)) return undefined
    facilitator = facilitatorAddress
  } else if (scheme !== 'exact' || assetTransferMethod !== 'permit2') return undefined
  return {
    kind: 'permit2',
    chainId,
    token: asset,
    proxy: scheme === 'upto' ? 'upto' : 'exact',
    amount,
    to: payTo,
    facilitator,
    deadlineAfterSeconds: terms.maxTimeoutSeconds ?? 60,
    tokenDomain: typeof name === 'string' && typeof version === 'string' ? { name, version } : undefined,
    sponsoring: sponsoringOffered(extensions),
  }
}
