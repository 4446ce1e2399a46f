import { type Address, generateKeyPairSigner, type KeyPairSigner } from '@solana/kit'
import type { LiteSVM } from 'litesvm'
import type { SolanaChain, SolanaToken } from './solanaChain.js'
import { createSolanaChain } from './solanaChain.js'
import type { SolanaSettlement } from './solanaFacilitator.js'
import { startSolanaFacilitator } from './solanaFacilitator.js'
import { createSolanaPaymentAccounts } from './solanaPaymentAccounts.js'
import { startSolanaRpc } from './solanaRpc.js'
import type { SolanaRoute, SolanaTokens } from './solanaServers.js'
import { defaultSolanaRoutes, startSolanaV1Server, startSolanaV2Server } from './solanaServers.js'

export type { SolanaChain, SolanaToken } from './solanaChain.js'
export { createSolanaChain } from './solanaChain.js'
export type { SolanaSettlement } from './solanaFacilitator.js'
export { liteSvmFacilitatorSigner } from './solanaFacilitator.js'
export { devnetUsdcMint } from './solanaPaymentAccounts.js'
export { startSolanaRpc } from './solanaRpc.js'
export type { SolanaRoute, SolanaTokens } from './solanaServers.js'
export { defaultSolanaRoutes } from './solanaServers.js'

/** Devnet's CAIP-2 id: the x402 reference SDK only accepts the three public clusters' ids. */
export const solanaDevnet = 'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1'
/** The x402 v1 name of the same cluster. */
export const solanaDevnetV1 = 'solana-devnet'
export type SolanaStackOptions = {
  /** Priced routes of every server. Default: {@link defaultSolanaRoutes}. */
  readonly routes?: readonly SolanaRoute[]
}

/** A LiteSVM posing as devnet, its RPC, a facilitator and three resource servers, all on 127.0.0.1. */
export type SolanaStack = {
  readonly svm: LiteSVM
  readonly chain: SolanaChain
  /** The JSON-RPC endpoint over the LiteSVM (`getAccountInfo`, `getLatestBlockhash`, …). */
  readonly rpcUrl: string
  /** Methods called on the RPC so far, oldest first; grows live. */
  readonly rpcCalls: readonly string[]
  readonly network: typeof solanaDevnet
  readonly v1Network: typeof solanaDevnetV1
  /** Test USDC (Token program, 6 decimals) at devnet USDC's address; `localToken` (Token, 6) at a fresh one; `token2022` (Token-2022, 9) at a fresh one. */
  readonly tokens: SolanaTokens
  /** The recipient of every route; its token accounts exist, holding nothing. */
  readonly payTo: Address
  /** The facilitator's fee payer, offered to clients as `extra.feePayer`. */
  readonly feePayer: Address
  readonly facilitatorUrl: string
  /** The x402 v2 reference server; clients read the blockhash from their own RPC. */
  readonly v2Url: string
  /** The same reference server with an RPC of its own: it sends `extra.recentBlockhash`. */
  readonly v2BlockhashUrl: string
  /** The x402 v1 server (`solana-devnet`, `X-PAYMENT`). */
  readonly v1Url: string
  /** Every `/settle` the facilitator received, oldest first; grows live. */
  readonly settlements: readonly SolanaSettlement[]
  /** A fresh kit keypair holding nothing, not even SOL: x402 payers need none. */
  newPayer(): Promise<KeyPairSigner>
  /** Mints `amount` of `token` to `owner`, creating its associated token account. */
  fund(token: SolanaToken, owner: Address, amount: bigint): Promise<void>
  balanceOf(token: SolanaToken, owner: Address): Promise<bigint>
  lamports(address: Address): bigint
  /** Closes the servers. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts the local Solana payment stack: a LiteSVM with test USDC at devnet USDC's address, a
 * Token mint and a Token-2022 mint, a JSON-RPC shim over it, a real x402 facilitator (the reference
 * `ExactSvmScheme` on a LiteSVM signer), the x402 v2 reference server twice (with and without a
 * server-side blockhash) and an x402 v1 server.
 *
 * @example
 * const stack = await startSolanaStack()
 * const payer = await stack.newPayer()
 * await stack.fund(stack.tokens.usdc, payer.address, 1_000_000n)
 * // … pay `${stack.v2Url}/weather` with payer …
 * await stack.stop()
 */
export async function startSolanaStack(options: SolanaStackOptions = {}): Promise<SolanaStack> {
  const stoppers: Array<() => Promise<void>> = []
  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      for (const stopOne of stoppers.reverse()) await stopOne().catch(() => {})
    })())

  try {
    const chain = await createSolanaChain()
    const { svm } = chain
    const { tokens, payTo, feePayer } = await createSolanaPaymentAccounts(chain)

    const rpc = await startSolanaRpc(svm)
    stoppers.push(rpc.close)
    const facilitator = await startSolanaFacilitator({
      svm,
      feePayer,
      network: solanaDevnet,
      v1Network: solanaDevnetV1,
    })
    stoppers.push(facilitator.close)
    const serverOptions = {
      facilitatorUrl: facilitator.url,
      network: solanaDevnet,
      routes: options.routes ?? defaultSolanaRoutes,
      tokens,
      payTo,
    }
    const [v2, v2Blockhash, v1] = await Promise.all([
      startSolanaV2Server(serverOptions),
      startSolanaV2Server({ ...serverOptions, rpcUrl: rpc.url }),
      startSolanaV1Server({ ...serverOptions, v1Network: solanaDevnetV1 }),
    ])
    stoppers.push(v2.close, v2Blockhash.close, v1.close)

    return {
      svm,
      chain,
      rpcUrl: rpc.url,
      rpcCalls: rpc.calls,
      network: solanaDevnet,
      v1Network: solanaDevnetV1,
      tokens,
      payTo,
      feePayer: feePayer.address,
      facilitatorUrl: facilitator.url,
      v2Url: v2.url,
      v2BlockhashUrl: v2Blockhash.url,
      v1Url: v1.url,
      settlements: facilitator.settlements,
      newPayer: () => generateKeyPairSigner(),
      fund: (token, owner, amount) => chain.mint(token, owner, amount),
      balanceOf: (token, owner) => chain.balanceOf(token, owner),
      lamports: (address) => chain.lamports(address),
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
