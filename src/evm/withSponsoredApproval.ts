import type { Permit2Proof } from '../methods/Permit2.js'

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The echoed extensions with the payer's sponsored Permit2 approval added to the extension the
 * server declared (`eip2612GasSponsoring` or `erc20ApprovalGasSponsoring`): the server's `info`
 * fields are kept and the signed ones added, as x402 asks of a client enriching an extension.
 */
export function withSponsoredApproval(extensions: unknown, sponsored: Permit2Proof['sponsored']): unknown {
  if (!sponsored || !isRecord(extensions)) return extensions
  const { extension, info } = sponsored
  const declared = extensions[extension]
  if (!isRecord(declared)) return extensions
  return {
    ...extensions,
    [extension]: { ...declared, info: { ...(isRecord(declared.info) ? declared.info : {}), ...info } },
  }
}
