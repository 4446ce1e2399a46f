/**
 * payfetch/evm: the EVM signer (EIP-3009 authorizations for x402 `exact` and the `Payment` scheme's `evm` charge), built on viem.
 *
 * @module
 */
export type { EvmAccount, EvmWalletClient } from './account.js'
export { type Eip1193Options, type Eip1193Provider, eip1193 } from './eip1193.js'
export { type EvmOptions, evm } from './evm.js'
export type { EvmToken } from './tokenDomains.js'
