/**
 * payfetch/evm: the EVM signer for x402 `exact` (EIP-3009), built on viem.
 *
 * @module
 */
export type { EvmAccount, EvmWalletClient } from './account.js'
export type { Eip3009Payload } from './eip3009.js'
export { type EvmOptions, evm } from './evm.js'
