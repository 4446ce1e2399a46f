import type { Chain, Hex } from 'viem'
import { createPublicClient, createTestClient, createWalletClient, defineChain, http, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { createNonceManager, jsonRpc } from 'viem/nonce'
import { chainId, devKeys } from './constants.js'

// anvil mines on every transaction, so receipts are ready at once; viem's default 4 s poll would only add waiting.
const pollingInterval = 50

/** The local anvil chain, named like Base Sepolia so x402 treats it as such. */
export function localChain(rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: 'Base Sepolia (local anvil)',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    testnet: true,
  })
}

/** A funded dev-key wallet that can also read the chain. */
export function createDevWallet(rpcUrl: string, privateKey: Hex) {
  // One nonce manager per wallet: viem's shared default remembers nonces per chain id, and every
  // stack is a fresh chain with the same id. The manager keeps concurrent settlements apart.
  const nonceManager = createNonceManager({ source: jsonRpc() })
  const account = privateKeyToAccount(privateKey, { nonceManager })
  const chain = localChain(rpcUrl)
  return createWalletClient({ account, chain, transport: http(rpcUrl), pollingInterval }).extend(publicActions)
}

export type DevWallet = ReturnType<typeof createDevWallet>

/**
 * The clients one stack needs: a reader, anvil's cheat codes, the admin that deploys and mints,
 * and the facilitator's wallet.
 */
export function createLocalClients(rpcUrl: string) {
  const chain = localChain(rpcUrl)
  return {
    publicClient: createPublicClient({ chain, transport: http(rpcUrl), pollingInterval }),
    testClient: createTestClient({ chain, mode: 'anvil', transport: http(rpcUrl), pollingInterval }),
    admin: createDevWallet(rpcUrl, devKeys.admin),
    facilitator: createDevWallet(rpcUrl, devKeys.facilitator),
  }
}

export type LocalClients = ReturnType<typeof createLocalClients>
