import { type Address, generateKeyPairSigner, type KeyPairSigner, lamports } from '@solana/kit'
import { type SolanaChain, TOKEN_2022_PROGRAM_ADDRESS } from './solanaChain.js'
import type { SolanaTokens } from './solanaServers.js'

/** USDC's devnet mint: the stacks place their test USDC there, so default caps know it. */
export const devnetUsdcMint = '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU' as Address

/** The accounts every Solana payment server of the local stack shares. */
export type SolanaPaymentAccounts = {
  /** Test USDC (Token, 6) at devnet USDC's address; `localToken` (Token, 6) and `token2022` (Token-2022, 9) at fresh ones. */
  readonly tokens: SolanaTokens
  /** Who gets paid: its token accounts for every mint exist, holding nothing. */
  readonly payTo: Address
  /** Holds 10 SOL to pay fees for the payers it sponsors. */
  readonly feePayer: KeyPairSigner
}

/** Creates the three test mints, the payee's token accounts and a funded fee payer on `chain`. */
export async function createSolanaPaymentAccounts(chain: SolanaChain): Promise<SolanaPaymentAccounts> {
  const tokens: SolanaTokens = {
    usdc: await chain.createMint({ symbol: 'USDC', decimals: 6, address: devnetUsdcMint }),
    localToken: await chain.createMint({ symbol: 'LOCAL', decimals: 6 }),
    token2022: await chain.createMint({ symbol: 'T22', decimals: 9, tokenProgram: TOKEN_2022_PROGRAM_ADDRESS }),
  }
  const payTo = (await generateKeyPairSigner()).address
  for (const token of Object.values(tokens)) await chain.createTokenAccount(token, payTo)
  const feePayer = await generateKeyPairSigner()
  chain.svm.airdrop(feePayer.address, lamports(10_000_000_000n))
  return { tokens, payTo, feePayer }
}
