import type { Address, Hex } from 'viem'

/** Base Sepolia's chain id: both x402 v2 (`eip155:84532`) and x402 v1 (`base-sepolia`) can name it. */
export const chainId = 84532

/** The CAIP-2 network the v2 reference stack speaks. */
export const v2Network = `eip155:${chainId}` as const

/** The closed-set v1 name of the same chain. */
export const v1Network = 'base-sepolia'

/** The real Base Sepolia USDC address; the local stack puts TestUSDC's code there. */
export const baseSepoliaUsdc: Address = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'

/** Canonical Multicall3 address, where x402 facilitators look for `tryAggregate`. */
export const multicall3: Address = '0xcA11bde05977b3631167028862bE2a173976CA11'

/**
 * anvil's funded dev keys (mnemonic `test test … junk`). Public knowledge; they only ever hold
 * value on a local chain.
 */
export const devKeys = {
  /** Account #0: the facilitator that submits settlements. */
  facilitator: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  /** Account #1: deploys contracts and mints, so test set-up never races the facilitator's nonces. */
  admin: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
} as const satisfies Record<string, Hex>

/** Where x402 facilitators expect the `exact` Permit2 proxy (the same address on every chain). */
export const exactPermit2Proxy: Address = '0x402085c248EeA27D92E8b30b2C58ed07f9E20001'

/** Where x402 facilitators expect the `upto` Permit2 proxy. */
export const uptoPermit2Proxy: Address = '0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002'

/** The x402 `batch-settlement` channel contract (`x402BatchSettlement`), the same address on every chain. */
export const batchSettlement: Address = '0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003'

/** The batch-settlement collector that pulls a deposit with ERC-3009 `receiveWithAuthorization`. */
export const erc3009DepositCollector: Address = '0x4020806089470a89826cB9fB1f4059150b550004'

/** The batch-settlement collector that pulls a deposit through Permit2 with a channel-id witness. */
export const permit2DepositCollector: Address = '0x4020425FAf3B746C082C2f942b4E5159887B0005'
