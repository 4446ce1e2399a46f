/**
 * payfetch/evm: the EVM signer (EIP-3009 authorizations for x402 `exact` and the `Payment` scheme's `evm`
 * charge; Permit2 witness transfers for x402 `exact` with Permit2 and `upto`), built on viem.
 *
 * @module
 */
export type { EvmAccount, EvmWalletClient, TypedDataRequest, TypedDataSigner } from './account.js'
export type { ChannelOptions } from './batchChannel.js'
export { type BatchSettlement, batchSettlement } from './batchSettlement.js'
export { batchSettlementAddress, erc3009DepositCollector, permit2DepositCollector } from './batchSignatures.js'
export { type Eip1193Options, type Eip1193Provider, eip1193 } from './eip1193.js'
export { type EvmOptions, evm } from './evm.js'
export { permit2Address, permit2Proxies } from './permit2.js'
export type { EvmChainReader, Permit2AllowanceOptions, Permit2Approval } from './permit2Allowance.js'
export { privateKeyAccount } from './privateKeyAccount.js'
export { type ChannelRefund, type RefundChannelOptions, refundChannel } from './refundChannel.js'
export type { EvmToken } from './tokenDomains.js'
