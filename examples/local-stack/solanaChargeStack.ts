import { type Address, generateKeyPairSigner, type KeyPairSigner, lamports } from '@solana/kit'
import type { LiteSVM } from 'litesvm'
import type { ChargeOutcome } from './chargeServer.js'
import type { ChallengeParams } from './paymentAuth.js'
import type { RequestLog } from './requestLog.js'
import { createSolanaChain, type SolanaChain, type SolanaToken } from './solanaChain.js'
import { type SolanaChargeRoute, startSolanaChargeServer } from './solanaChargeServer.js'
import { createSolanaPaymentAccounts } from './solanaPaymentAccounts.js'
import { startSolanaRpc } from './solanaRpc.js'
import type { SolanaTokens } from './solanaServers.js'

export type { SolanaChargeRoute, SolanaTerms } from './solanaChargeServer.js'
export { defaultSolanaChargeRoutes } from './solanaChargeServer.js'
export { devnetUsdcMint } from './solanaPaymentAccounts.js'

/** A LiteSVM posing as devnet, its RPC (which also sends), and a Solana `charge` server, all on 127.0.0.1. */
export type SolanaChargeStack = {
  readonly svm: LiteSVM
  readonly chain: SolanaChain
  /** JSON-RPC over the LiteSVM, with `sendTransaction` and `getSignatureStatuses` for push mode. */
  readonly rpcUrl: string
  /** Methods called on the RPC so far, oldest first; grows live. */
  readonly rpcCalls: readonly string[]
  /** `methodDetails.network` of every challenge. */
  readonly network: 'devnet'
  /** Test USDC at devnet USDC's mint (Token, 6), `localToken` (Token, 6), `token2022` (Token-2022, 9). */
  readonly tokens: SolanaTokens
  /** The recipient of every route; its token accounts exist, holding nothing. */
  readonly payTo: Address
  /** The server's fee payer, offered as `methodDetails.feePayerKey` on sponsored routes. */
  readonly feePayer: Address
  /** The charge server (see `defaultSolanaChargeRoutes`). */
  readonly url: string
  readonly realm: string
  readonly requests: RequestLog
  readonly challenges: readonly ChallengeParams[]
  readonly outcomes: readonly ChargeOutcome[]
  /** A fresh kit keypair holding nothing, not even SOL: sponsored payers need none. */
  newPayer(): Promise<KeyPairSigner>
  /** Mints `amount` of `token` to `owner`, creating its associated token account. */
  fund(token: SolanaToken, owner: Address, amount: bigint): Promise<void>
  /** Airdrops lamports, for payers that pay their own fees or pay in SOL. */
  airdrop(owner: Address, amount: bigint): void
  balanceOf(token: SolanaToken, owner: Address): Promise<bigint>
  lamports(address: Address): bigint
  /** Closes the server and the RPC. Safe to call twice. */
  stop(): Promise<void>
}

/**
 * Starts the Solana `Payment`-scheme stack: the same chain set-up as the x402 Solana stack (a
 * LiteSVM, test USDC at devnet's USDC mint, a Token and a Token-2022 mint, a funded fee payer), an
 * RPC that also sends, and the charge server built from draft-solana-charge-00.
 *
 * @example
 * const stack = await startSolanaChargeStack()
 * const payer = await stack.newPayer()
 * await stack.fund(stack.tokens.usdc, payer.address, 1_000_000n)
 * // … pay `${stack.url}/weather` with payer …
 * await stack.stop()
 */
export async function startSolanaChargeStack(
  options: { routes?: readonly SolanaChargeRoute[] } = {},
): Promise<SolanaChargeStack> {
  const chain = await createSolanaChain()
  const { tokens, payTo, feePayer } = await createSolanaPaymentAccounts(chain)
  const rpc = await startSolanaRpc(chain.svm, { send: chain.send })
  let server: Awaited<ReturnType<typeof startSolanaChargeServer>>
  try {
    server = await startSolanaChargeServer({ chain, tokens, payTo, feePayer }, options.routes)
  } catch (error) {
    await rpc.close()
    throw error
  }
  let stopping: Promise<void> | undefined
  return {
    svm: chain.svm,
    chain,
    rpcUrl: rpc.url,
    rpcCalls: rpc.calls,
    network: 'devnet',
    tokens,
    payTo,
    feePayer: feePayer.address,
    url: server.url,
    realm: server.realm,
    requests: server.requests,
    challenges: server.challenges,
    outcomes: server.outcomes,
    newPayer: () => generateKeyPairSigner(),
    fund: (token, owner, amount) => chain.mint(token, owner, amount),
    airdrop: (owner, amount) => void chain.svm.airdrop(owner, lamports(amount)),
    balanceOf: (token, owner) => chain.balanceOf(token, owner),
    lamports: (address) => chain.lamports(address),
    stop: () => (stopping ??= Promise.allSettled([server.close(), rpc.close()]).then(() => {})),
  }
}
