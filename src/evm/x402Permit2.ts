import type { MethodProof } from '../methods/PaymentMethod.js'
import type { X402Terms } from '../protocols/x402/decode.js'
import { x402With } from '../protocols/x402/index.js'
import { readPermit2Offer } from './readPermit2Offer.js'

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * x402 as `evm()` speaks it: Permit2 offers (`exact` with Permit2, `upto`) read and their proofs
 * written (`{ signature, permit2Authorization }`, a sponsored approval in its extension).
 */
export const x402Permit2 = x402With({
  readMethod: (terms: X402Terms) => readPermit2Offer(terms),
  writeProof(proof: MethodProof, extensions: unknown) {
    if (proof.kind !== 'permit2') return undefined
    const { signature, permit2Authorization } = proof
    return { payload: { signature, permit2Authorization }, extensions: withSponsoredApproval(extensions, proof) }
  },
})

/**
 * The echoed extensions with the payer's sponsored Permit2 approval added to the extension the
 * server declared (`eip2612GasSponsoring` or `erc20ApprovalGasSponsoring`): the server's `info`
 * fields are kept and the signed ones added, as x402 asks of a client enriching an extension.
 */
function withSponsoredApproval(extensions: unknown, proof: MethodProof & { kind: 'permit2' }): unknown {
  if (!proof.sponsored || !isRecord(extensions)) return extensions
  const { extension, info } = proof.sponsored
  const declared = extensions[extension]
  if (!isRecord(declared)) return extensions
  return {
    ...extensions,
    [extension]: { ...declared, info: { ...(isRecord(declared.info) ? declared.info : {}), ...info } },
  }
}
