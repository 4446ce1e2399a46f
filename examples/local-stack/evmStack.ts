import { HTTPFacilitatorClient } from '@x402/core/server'
import type { Address, Chain, Hash, Hex, HttpTransport, TransactionReceipt, WalletClient } from 'viem'
import { createWalletClient, http, maxUint256 } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { Anvil } from './anvil.js'
import { startAnvil } from './anvil.js'
import type { BatchSettlementStack } from './batchSettlement.js'
import { createBatchSettlement } from './batchSettlement.js'
import type { LocalClients } from './clients.js'
import { createLocalClients, localChain } from './clients.js'
import { chainId, v1Network, v2Network } from './constants.js'
import type { Settlement } from './facilitator.js'
import { startFacilitator } from './facilitator.js'
import type { TestToken } from './installContracts.js'
import { installContracts } from './installContracts.js'
import { permit2Address } from './permit2.js'
import type { PaidRoute } from './routes.js'
import { defaultBatchRoutes, defaultV1Routes, defaultV2Routes } from './routes.js'
import { tokenAbi } from './tokenAbi.js'
import { startV1Server } from './v1Server.js'
import { startV2Server } from './v2Server.js'

export type { BatchSettlementStack, OnchainChannel } from './batchSettlement.js'
export { batchSettlementAbi } from './batchSettlementAbi.js'
export type { Settlement } from './facilitator.js'
export type { TestToken } from './installContracts.js'
export type { PaidRoute, RouteHandler, RouteRequest, RouteResponse } from './routes.js'
export { charge, defaultBatchRoutes, defaultV1Routes, defaultV2Routes, echo, json } from './routes.js'

export type EvmStackOptions = {
  /** Priced routes of the v2 reference server. Default: {@link defaultV2Routes}. */
  readonly v2Routes?: readonly PaidRoute[]
  /**
   * `batch-settlement` routes of the v2 reference server, served beside `v2Routes`.
   * Default: {@link defaultBatchRoutes} (`GET /batch/weather`, `/batch/metered`, `/batch/permit2/weather`).
   */
  readonly batchRoutes?: readonly PaidRoute[]
  /** Priced routes of the v1 server. Default: {@link defaultV1Routes}. */
  readonly v1Routes?: readonly PaidRoute[]
  /** Who gets paid. Default: a fresh address, so balances start at zero. */
  readonly payTo?: Address
}

/** A token by address, or any object carrying one (such as {@link TestToken}). */
export type TokenRef = Address | { readonly address: Address }

/** A local chain, tokens, a facilitator and two resource servers, all on 127.0.0.1. */
export type EvmStack = {
  readonly rpcUrl: string
  /** 84532, Base Sepolia's id. */
  readonly chainId: number
  /** `eip155:84532`, the x402 v2 name of the chain. */
  readonly v2Network: typeof v2Network
  /** `base-sepolia`, the x402 v1 name of the chain. */
  readonly v1Network: typeof v1Network
  /** TestUSDC at the real Base Sepolia USDC address (domain `USDC`/`2`, 6 decimals). */
  readonly usdc: TestToken
  /** A TestUSDC named `Test Token`/`1` at an ordinary address: an asset no default list knows. */
  readonly unknownToken: TestToken
  /** The recipient of every priced route. */
  readonly payTo: Address
  readonly facilitatorUrl: string
  /** The facilitator's account, which submits settlements and pays their gas. */
  readonly facilitatorAddress: Address
  /** Base URL of the x402 v2 reference server (`@x402/express`). */
  readonly v2Url: string
  /** Base URL of the hand-written x402 v1 server. */
  readonly v1Url: string
  /**
   * `batch-settlement` on the v2 server: the channel contracts, the receiver authorizer, the server's channel
   * records, and its claim, settle and refund (nothing happens on a timer).
   */
  readonly batch: BatchSettlementStack & {
    /** `GET` 0.001 USDC a call (the default batch route). */
    readonly weatherUrl: string
    /** `GET` up to 0.005 USDC a call; `?charge=<atomic units>` charges less (the default batch route). */
    readonly meteredUrl: string
    /** `GET` 0.001 USDC a call, deposits through Permit2 (`extra.assetTransferMethod: permit2`; default route). */
    readonly permit2WeatherUrl: string
  }
  /** Every `/settle` the facilitator received, oldest first; grows live. */
  readonly settlements: readonly Settlement[]
  /** Reads the chain (receipts, blocks, logs, contract calls). */
  readonly publicClient: LocalClients['publicClient']
  /** Mints test tokens (no ETH needed by `to`); resolves once mined. */
  mint(token: TokenRef, to: Address, amount: bigint): Promise<Hash>
  balanceOf(token: TokenRef, owner: Address): Promise<bigint>
  /** Whether an EIP-3009 nonce has been used (or cancelled) on chain. */
  authorizationUsed(token: TokenRef, authorizer: Address, nonce: Hex): Promise<boolean>
  getTransactionReceipt(hash: Hash): Promise<TransactionReceipt>
  /** A fresh random account holding nothing; EIP-3009 payments need no ETH from the payer. */
  newAccount(): PrivateKeyAccount
  /** Gives `address` this much ETH (wei), e.g. for a payer that sends its own Permit2 approval. */
  setBalance(address: Address, wei: bigint): Promise<void>
  /** The ETH balance of `address`, in wei. */
  ethBalance(address: Address): Promise<bigint>
  /** An ERC-20 allowance: what `spender` (Permit2) may move for `owner`. */
  allowance(token: TokenRef, owner: Address, spender: Address): Promise<bigint>
  /**
   * The payer's own `approve(Permit2, allowance)` (unlimited by default), as a wallet sends once:
   * gives it gas for it first; resolves once mined.
   */
  approvePermit2(account: PrivateKeyAccount, options?: { token?: TokenRef; allowance?: bigint }): Promise<void>
  /** A wallet client for `account` on the local chain, that can also read it. */
  walletFor(account: PrivateKeyAccount): WalletClient<HttpTransport, Chain, PrivateKeyAccount>
  /** The latest block number. */
  blockNumber(): Promise<bigint>
  /** How many transactions were mined after block `since` (all accounts). */
  transactionsSince(since: bigint): Promise<number>
  /** Closes the servers and kills anvil. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts the local EVM payment stack: anvil on chain 84532 with USDC impersonated at its Base
 * Sepolia address, a real x402 facilitator, the x402 v2 reference server (with `batch-settlement`
 * channels: see `batchSettlement.ts`) and an x402 v1 server.
 *
 * @example
 * const stack = await startEvmStack()
 * const payer = stack.newAccount()
 * await stack.mint(stack.usdc, payer.address, 1_000_000n)
 * // … pay `${stack.v2Url}/weather` with payer …
 * await stack.stop()
 */
export async function startEvmStack(options: EvmStackOptions = {}): Promise<EvmStack> {
  const payTo = options.payTo ?? privateKeyToAccount(generatePrivateKey()).address
  const stoppers: Array<() => Promise<void>> = []
  const stop = once(async () => {
    // Servers first, in reverse start order, so nothing calls a chain that is already gone.
    for (const stopOne of stoppers.reverse()) await stopOne().catch(() => {})
  })

  try {
    const anvil: Anvil = await startAnvil({ chainId })
    stoppers.push(anvil.stop)
    const clients = createLocalClients(anvil.rpcUrl)
    const tokens = await installContracts(clients)

    const facilitator = await startFacilitator(clients.facilitator)
    stoppers.push(facilitator.close)
    const serverOptions = { facilitatorUrl: facilitator.url, tokens, payTo }
    const batch = createBatchSettlement({
      clients,
      facilitator: new HTTPFacilitatorClient({ url: facilitator.url }),
      payTo,
      token: tokens.usdc.address,
    })
    const v2Routes = [...(options.v2Routes ?? defaultV2Routes), ...(options.batchRoutes ?? defaultBatchRoutes)]
    const [v2, v1] = await Promise.all([
      startV2Server({ ...serverOptions, routes: v2Routes, schemes: [batch.scheme] }),
      startV1Server({ ...serverOptions, routes: options.v1Routes ?? defaultV1Routes }),
    ])
    stoppers.push(v2.close, v1.close)

    const { publicClient, admin } = clients
    const walletFor = (account: PrivateKeyAccount) =>
      createWalletClient({ account, chain: localChain(anvil.rpcUrl), transport: http(anvil.rpcUrl) })
    return {
      rpcUrl: anvil.rpcUrl,
      chainId,
      v2Network,
      v1Network,
      usdc: tokens.usdc,
      unknownToken: tokens.unknownToken,
      payTo,
      facilitatorUrl: facilitator.url,
      facilitatorAddress: facilitator.address,
      v2Url: v2.url,
      v1Url: v1.url,
      batch: {
        ...batch,
        weatherUrl: `${v2.url}/batch/weather`,
        meteredUrl: `${v2.url}/batch/metered`,
        permit2WeatherUrl: `${v2.url}/batch/permit2/weather`,
      },
      settlements: facilitator.settlements,
      publicClient,
      async mint(token, to, amount) {
        const hash = await admin.writeContract({
          address: addressOf(token),
          abi: tokenAbi,
          functionName: 'mint',
          args: [to, amount],
        })
        const receipt = await publicClient.waitForTransactionReceipt({ hash })
        if (receipt.status !== 'success') throw new Error(`mint reverted: ${hash}`)
        return hash
      },
      balanceOf: (token, owner) =>
        publicClient.readContract({
          address: addressOf(token),
          abi: tokenAbi,
          functionName: 'balanceOf',
          args: [owner],
        }),
      authorizationUsed: (token, authorizer, nonce) =>
        publicClient.readContract({
          address: addressOf(token),
          abi: tokenAbi,
          functionName: 'authorizationState',
          args: [authorizer, nonce],
        }),
      getTransactionReceipt: (hash) => publicClient.getTransactionReceipt({ hash }),
      newAccount: () => privateKeyToAccount(generatePrivateKey()),
      setBalance: (address, wei) => clients.testClient.setBalance({ address, value: wei }),
      ethBalance: (address) => publicClient.getBalance({ address }),
      allowance: (token, owner, spender) =>
        publicClient.readContract({
          address: addressOf(token),
          abi: tokenAbi,
          functionName: 'allowance',
          args: [owner, spender],
        }),
      walletFor,
      async approvePermit2(account, { token = tokens.usdc, allowance = maxUint256 } = {}) {
        await clients.testClient.setBalance({ address: account.address, value: 10n ** 17n })
        const hash = await walletFor(account).writeContract({
          address: addressOf(token),
          abi: tokenAbi,
          functionName: 'approve',
          args: [permit2Address, allowance],
        })
        const receipt = await publicClient.waitForTransactionReceipt({ hash })
        if (receipt.status !== 'success') throw new Error(`approve reverted: ${hash}`)
      },
      // Uncached: viem reuses a block number read within its polling interval, which can predate the last receipt.
      blockNumber: () => publicClient.getBlockNumber({ cacheTime: 0 }),
      async transactionsSince(since) {
        const latest = await publicClient.getBlockNumber({ cacheTime: 0 })
        let count = 0
        for (let block = since + 1n; block <= latest; block++)
          count += await publicClient.getBlockTransactionCount({ blockNumber: block })
        return count
      },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

function addressOf(token: TokenRef): Address {
  return typeof token === 'string' ? token : token.address
}

function once(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined
  return () => (running ??= run())
}
