import type { BatchDepositProof } from '../methods/BatchSettlement.js'
import type { MethodProof } from '../methods/PaymentMethod.js'
import { x402With } from '../protocols/x402/index.js'
import { readBatchOffer } from './readBatchOffer.js'
import { withSponsoredApproval } from './withSponsoredApproval.js'

/**
 * x402 `batch-settlement` as `evm()` speaks it: offers read into channel requests; proofs written
 * as the scheme's `deposit`, `voucher` and `refund` payloads (a sponsored Permit2 approval in its
 * extension).
 */
export const x402Batch = x402With({
  readMethod: readBatchOffer,
  writeProof(proof: MethodProof, extensions: unknown) {
    if (proof.kind !== 'batch-settlement') return undefined
    const { type, channelConfig, voucher, deposit, refundAmount } = proof
    const payload: Record<string, unknown> = { type, channelConfig, voucher }
    if (deposit) payload.deposit = { amount: deposit.amount, authorization: authorizationOf(deposit) }
    if (refundAmount !== undefined) payload.amount = refundAmount
    return { payload, extensions: withSponsoredApproval(extensions, proof.sponsored) }
  },
})

// The scheme names the authorization after its transfer method.
function authorizationOf(deposit: BatchDepositProof) {
  if (deposit.kind === 'permit2')
    return { permit2Authorization: { ...deposit.permit2Authorization, signature: deposit.signature } }
  const { validAfter, validBefore, salt, signature } = deposit
  return { erc3009Authorization: { validAfter, validBefore, salt, signature } }
}
