const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The ways an x402 server offers to grant Permit2 its allowance without the payer's gas, read from
 * the gas-sponsoring extensions its 402 declares: an EIP-2612 permit (`eip2612`) or the payer's
 * signed, unbroadcast `approve` (`erc20Approval`). `undefined` when it offers none.
 */
export function sponsoringOffered(extensions: unknown): ('eip2612' | 'erc20Approval')[] | undefined {
  if (!isRecord(extensions)) return undefined
  const offered = (['eip2612', 'erc20Approval'] as const).filter((way) => isRecord(extensions[`${way}GasSponsoring`]))
  return offered.length > 0 ? offered : undefined
}
