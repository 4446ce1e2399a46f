import type { Address, Chain, Client, Hash, TransactionReceipt } from 'viem'
import { createClient, createPublicClient, createTestClient, createWalletClient, erc20Abi, http } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { tempoLocalnet } from 'viem/chains'
import { createNonceManager, jsonRpc } from 'viem/nonce'
import { startAnvil } from './anvil.js'
import { devKeys } from './constants.js'

/** viem's `tempoLocalnet` id, which anvil's Tempo mode also uses. */
export const tempoChainId = 1337

/** pathUSD, the first TIP-20 token anvil's Tempo mode preinstalls (6 decimals). */
export const pathUsd: Address = '0x20c0000000000000000000000000000000000000'

// Receipts are ready as soon as anvil answers; viem's default polling would only add waiting.
const pollingInterval = 50

/** A Tempo chain on loopback: anvil in Tempo mode, with the clients and helpers payments need. */
export type TempoChain = {
  readonly rpcUrl: string
  readonly chainId: typeof tempoChainId
  /** `tempoLocalnet` pointed at this node. */
  readonly chain: Chain
  readonly pathUsd: Address
  /** anvil dev account #0: co-signs sponsored payments and pays their fees in pathUSD. */
  readonly feePayer: PrivateKeyAccount
  readonly publicClient: ReturnType<typeof createPublicClient>
  /** A viem client for this chain, in the shape mppx's `getClient` option asks for. */
  getClient(): Client
  /**
   * A fresh account holding `amount` pathUSD (default 1 USDC-worth, 1 000 000 base units).
   * anvil mines only one expiring-nonce transaction per sender, and mppx pays with expiring
   * nonces, so each Tempo payment needs a payer of its own.
   */
  newPayer(amount?: bigint): Promise<PrivateKeyAccount>
  balanceOf(owner: Address, token?: Address): Promise<bigint>
  getTransactionReceipt(hash: Hash): Promise<TransactionReceipt>
  /** Kills anvil. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts anvil with `--network tempo --chain-id 1337` and mines one block, because calls against
 * the genesis block see timestamp 1 and every expiring nonce would look expired.
 */
export async function startTempoChain(): Promise<TempoChain> {
  const anvil = await startAnvil({ chainId: tempoChainId, network: 'tempo' })
  try {
    const { rpcUrl } = anvil
    const chain: Chain = { ...tempoLocalnet, rpcUrls: { default: { http: [rpcUrl] } } }
    const transport = http(rpcUrl)
    await createTestClient({ chain, mode: 'anvil', transport }).mine({ blocks: 1 })
    const publicClient = createPublicClient({ chain, transport, pollingInterval })
    // The admin key funds payers with ordinary nonces; the fee payer never sends transactions itself.
    const funder = createWalletClient({
      account: privateKeyToAccount(devKeys.admin, { nonceManager: createNonceManager({ source: jsonRpc() }) }),
      chain,
      transport,
      pollingInterval,
    })
    const balanceOf = (owner: Address, token: Address = pathUsd) =>
      publicClient.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [owner] })
    return {
      rpcUrl,
      chainId: tempoChainId,
      chain,
      pathUsd,
      feePayer: privateKeyToAccount(devKeys.facilitator),
      publicClient,
      getClient: () => createClient({ chain, transport, pollingInterval }),
      async newPayer(amount = 1_000_000n) {
        const payer = privateKeyToAccount(generatePrivateKey())
        const hash = await funder.writeContract({
          address: pathUsd,
          abi: erc20Abi,
          functionName: 'transfer',
          args: [payer.address, amount],
        })
        const receipt = await publicClient.waitForTransactionReceipt({ hash })
        if (receipt.status !== 'success') throw new Error(`funding ${payer.address} reverted: ${hash}`)
        return payer
      },
      balanceOf,
      getTransactionReceipt: (hash) => publicClient.getTransactionReceipt({ hash }),
      stop: anvil.stop,
    }
  } catch (error) {
    await anvil.stop()
    throw error
  }
}
