import type { Address, Hash, TransactionReceipt } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { startAnvil } from './anvil.js'
import { loadArtifacts } from './artifacts.js'
import { type AuthorizationSettlement, createAuthorizationSettler } from './authorizationSettler.js'
import { createLocalClients, type LocalClients } from './clients.js'
import { chainId } from './constants.js'
import { deployToken, installContracts, type TestToken } from './installContracts.js'
import { startMppxServer } from './mppxServer.js'
import type { RequestLog } from './requestLog.js'
import { startTempoChain, type TempoChain, tempoChainId } from './tempoChain.js'
import { tokenAbi } from './tokenAbi.js'

export type { AuthorizationSettlement } from './authorizationSettler.js'
export { appBearerToken } from './mppxServer.js'
export type { RecordedRequest, RequestLog } from './requestLog.js'
export { pathUsd, tempoChainId } from './tempoChain.js'

/** Two mppx 0.11 servers (two origins) over an EVM chain and a Tempo chain, all on 127.0.0.1. */
export type MppxStack = {
  /** The server with every route (see `startMppxServer`). */
  readonly url: string
  /** `127.0.0.1:<port>` of `url`: the realm of its challenges. */
  readonly realm: string
  /** Every request `url` received: headers and body hash as they arrived. */
  readonly requests: RequestLog
  /** A second origin running the same routes; the redirect routes of `url` point there. */
  readonly otherOriginUrl: string
  readonly otherOriginRequests: RequestLog
  /** Who every route pays, on both chains. Starts with nothing. */
  readonly payTo: Address
  readonly evm: {
    readonly rpcUrl: string
    /** 84532: anvil posing as Base Sepolia. */
    readonly chainId: number
    /** TestUSDC at Base Sepolia's USDC address (`USDC`/`2`, 6 decimals): mppx's `evm.assets.baseSepolia.USDC`. */
    readonly usdc: TestToken
    /** A TestUSDC named `EURC`/`2` at a fresh address. */
    readonly eurc: TestToken
    /** Every EIP-3009 authorization settled so far (by anvil dev account #0). */
    readonly settlements: readonly AuthorizationSettlement[]
    readonly publicClient: LocalClients['publicClient']
    /** A fresh account holding `amount` (default 1 000 000) of both USDC and EURC; it needs no ETH. */
    newPayer(amount?: bigint): Promise<PrivateKeyAccount>
    balanceOf(token: Address | TestToken, owner: Address): Promise<bigint>
    getTransactionReceipt(hash: Hash): Promise<TransactionReceipt>
  }
  readonly tempo: Pick<
    TempoChain,
    'rpcUrl' | 'chain' | 'pathUsd' | 'getClient' | 'newPayer' | 'balanceOf' | 'getTransactionReceipt' | 'publicClient'
  > & {
    readonly chainId: typeof tempoChainId
    /** Co-signs sponsored payments (anvil dev account #0). */
    readonly feePayer: Address
  }
  /** Closes both servers and kills both anvils. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts the `Payment`-scheme stack built on mppx's own server: anvil as Base Sepolia (TestUSDC at
 * the USDC address, plus EURC), anvil in Tempo mode (pathUSD preinstalled), and two mppx servers
 * on two origins. The two chains start in parallel.
 *
 * @example
 * const stack = await startMppxStack()
 * const payer = await stack.evm.newPayer()
 * // … pay `${stack.url}/weather` with payer …
 * await stack.stop()
 */
export async function startMppxStack(): Promise<MppxStack> {
  const stoppers: Array<() => Promise<void>> = []
  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      for (const stopOne of stoppers.reverse()) await stopOne().catch(() => {})
    })())

  try {
    const [anvil, tempo] = await Promise.all([
      startAnvil({ chainId }).then((started) => (stoppers.push(started.stop), started)),
      startTempoChain().then((started) => (stoppers.push(started.stop), started)),
    ])
    const clients = createLocalClients(anvil.rpcUrl)
    const [{ usdc }, eurc] = await Promise.all([
      installContracts(clients),
      deployToken(clients.admin, loadArtifacts(), 'EURC', '2'),
    ])
    const settler = createAuthorizationSettler(clients.facilitator)
    const payTo = privateKeyToAccount(generatePrivateKey()).address
    const serverOptions = { usdc, eurc, settler, tempo, payTo }
    const other = await startMppxServer(serverOptions)
    stoppers.push(other.close)
    const main = await startMppxServer({ ...serverOptions, otherOrigin: other.url })
    stoppers.push(main.close)

    const { admin, publicClient } = clients
    const mint = async (token: TestToken, to: Address, amount: bigint) => {
      const hash = await admin.writeContract({
        address: token.address,
        abi: tokenAbi,
        functionName: 'mint',
        args: [to, amount],
      })
      const receipt = await publicClient.waitForTransactionReceipt({ hash })
      if (receipt.status !== 'success') throw new Error(`mint reverted: ${hash}`)
    }
    return {
      url: main.url,
      realm: main.realm,
      requests: main.requests,
      otherOriginUrl: other.url,
      otherOriginRequests: other.requests,
      payTo,
      evm: {
        rpcUrl: anvil.rpcUrl,
        chainId,
        usdc,
        eurc,
        settlements: settler.settlements,
        publicClient,
        async newPayer(amount = 1_000_000n) {
          const payer = privateKeyToAccount(generatePrivateKey())
          await Promise.all([mint(usdc, payer.address, amount), mint(eurc, payer.address, amount)])
          return payer
        },
        balanceOf: (token, owner) =>
          publicClient.readContract({
            address: typeof token === 'string' ? token : token.address,
            abi: tokenAbi,
            functionName: 'balanceOf',
            args: [owner],
          }),
        getTransactionReceipt: (hash) => publicClient.getTransactionReceipt({ hash }),
      },
      tempo: {
        rpcUrl: tempo.rpcUrl,
        chainId: tempoChainId,
        chain: tempo.chain,
        pathUsd: tempo.pathUsd,
        feePayer: tempo.feePayer.address,
        publicClient: tempo.publicClient,
        getClient: tempo.getClient,
        newPayer: tempo.newPayer,
        balanceOf: tempo.balanceOf,
        getTransactionReceipt: tempo.getTransactionReceipt,
      },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
