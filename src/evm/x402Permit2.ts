import type { MethodProof } from '../methods/PaymentMethod.js'
import type { X402Terms } from '../protocols/x402/decode.js'
import { x402With } from '../protocols/x402/index.js'
import { readPermit2Offer } from './readPermit2Offer.js'
import { withSponsoredApproval } from './withSponsoredApproval.js'

/**
 * x402 as `evm()` speaks it: Permit2 offers (`exact` with Permit2, `upto`) read and their proofs
 * written (`{ signature, permit2Authorization }`, a sponsored approval in its extension).
 */
export const x402Permit2 = x402With({
  readMethod: (terms: X402Terms) => readPermit2Offer(terms),
  writeProof(proof: MethodProof, extensions: unknown) {
    if (proof.kind !== 'permit2') return undefined
    const { signature, permit2Authorization } = proof
    return {
      payload: { signature, permit2Authorization },
      extensions: withSponsoredApproval(extensions, proof.sponsored),
    }
  },
})
