import type { MethodProof } from '../methods/PaymentMethod.js'
import { x402With } from '../protocols/x402/index.js'
import { readBatchOffer } from './readBatchOffer.js'

/**
 * x402 `batch-settlement` as `evm()` speaks it: offers read into channel requests; proofs written
 * as the scheme's `deposit`, `voucher` and `refund` payloads.
 */
export const x402Batch = x402With({
  readMethod: readBatchOffer,
  writeProof(proof: MethodProof, extensions: unknown) {
    if (proof.kind !== 'batch-settlement') return undefined
    const { type, channelConfig, voucher, deposit, refundAmount } = proof
    const payload: Record<string, unknown> = { type, channelConfig, voucher }
    if (deposit) {
      const { amount, validAfter, validBefore, salt, signature } = deposit
      payload.deposit = {
        amount,
        authorization: { erc3009Authorization: { validAfter, validBefore, salt, signature } },
      }
    }
    if (refundAmount !== undefined) payload.amount = refundAmount
    return { payload, extensions }
  },
})
