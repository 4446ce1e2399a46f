import type { BatchDepositMethod, BatchServerState, BatchSettlementRequest } from '../methods/BatchSettlement.js'
import type { X402Terms } from '../protocols/x402/decode.js'
import { sponsoringOffered } from './sponsoringOffered.js'

const addressPattern = /^0x[0-9a-fA-F]{40}$/
const zeroAddress = /^0x0{40}$/
// The spec's bounds on the payer's wait before a withdrawal: 15 minutes to 30 days.
const minWithdrawDelay = 900
const maxWithdrawDelay = 2_592_000

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const atomic = (value: unknown): bigint | undefined =>
  typeof value === 'string' && /^[0-9]{1,39}$/.test(value) ? BigInt(value) : undefined

/**
 * The channel payment an x402 `batch-settlement` option asks for, its deposit through EIP-3009
 * (the default) or Permit2 (`extra.assetTransferMethod: "permit2"`); `undefined` for any other
 * option, or one whose channel terms are missing or out of the spec's bounds (shown, never paid).
 * A corrective 402's `channelState` and `voucherState` come along as `serverState`, unchecked: the
 * channel checks the signature before believing it.
 */
export function readBatchOffer(terms: X402Terms): BatchSettlementRequest | undefined {
  const { scheme, network, asset, amount, payTo, extra, maxTimeoutSeconds, extensions } = terms
  if (scheme !== 'batch-settlement' || terms.version !== 2) return undefined
  const chainId = Number(/^eip155:([1-9][0-9]{0,15})$/.exec(network)?.[1])
  if (!Number.isSafeInteger(chainId)) return undefined
  const { name, version, receiverAuthorizer, withdrawDelay, assetTransferMethod, minDeposit } = extra
  const tokenDomain = typeof name === 'string' && typeof version === 'string' ? { name, version } : undefined
  let depositMethod: BatchDepositMethod
  if (assetTransferMethod === 'permit2')
    depositMethod = { kind: 'permit2', tokenDomain, sponsoring: sponsoringOffered(extensions) }
  // An EIP-3009 deposit is signed under the token's domain: without it there is nothing to sign.
  else if ((assetTransferMethod === undefined || assetTransferMethod === 'eip3009') && tokenDomain)
    depositMethod = { kind: 'eip3009', tokenDomain }
  else return undefined
  if (
    ![asset, payTo, receiverAuthorizer].every((address) => typeof address === 'string' && addressPattern.test(address))
  )
    return undefined
  if (zeroAddress.test(receiverAuthorizer as string)) return undefined
  const delay = withdrawDelay ?? minWithdrawDelay
  if (!Number.isSafeInteger(delay) || (delay as number) < minWithdrawDelay || (delay as number) > maxWithdrawDelay)
    return undefined
  return {
    kind: 'batch-settlement',
    chainId,
    token: asset,
    depositMethod,
    receiver: payTo,
    receiverAuthorizer: receiverAuthorizer as string,
    withdrawDelay: delay as number,
    amount,
    minDeposit: atomic(minDeposit),
    validForSeconds: maxTimeoutSeconds ?? 60,
    serverState: serverStateOf(extra),
  }
}

function serverStateOf({ channelState, voucherState }: Record<string, unknown>): BatchServerState | undefined {
  if (!isRecord(channelState) || !isRecord(voucherState)) return undefined
  const chargedCumulative = atomic(channelState.chargedCumulativeAmount)
  const signedMaxClaimable = atomic(voucherState.signedMaxClaimable)
  const { signature } = voucherState
  if (chargedCumulative === undefined || signedMaxClaimable === undefined) return undefined
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130,}$/.test(signature) || signature.length > 1024)
    return undefined
  const channelId = typeof channelState.channelId === 'string' ? channelState.channelId : undefined
  return { channelId, chargedCumulative, signedMaxClaimable, signature: signature as `0x${string}` }
}
