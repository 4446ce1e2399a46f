// What the code blocks of README.md and docs/*.md take as given: the few names a snippet uses
// without defining them, the way prose says "with your account". Type-checked with every snippet
// by test/docs/snippets.test.ts; it is never run.
import type { BaseChatModel } from '@langchain/core/language_models/chat_models'
import type { KeyPairSigner } from '@solana/kit'
import type { LanguageModel } from 'ai'
import type Redis from 'ioredis'
import type { PayingFetch, Signer } from 'payfetch'
import type { LocalAccount } from 'viem'

declare global {
  /** A viem account: `privateKeyToAccount(…)`, or a wallet's. */
  const account: LocalAccount
  /** The signers of an earlier snippet. */
  const signers: Signer[]
  /** A paying fetch from an earlier snippet. */
  const fetchPaid: PayingFetch
  /** A `@solana/kit` signer. */
  const keypairSigner: KeyPairSigner
  /** A LangChain chat model that can call tools (ChatOpenAI, ChatAnthropic, …). */
  const chatModel: BaseChatModel & { bindTools: NonNullable<BaseChatModel['bindTools']> }
  /** An AI SDK model. */
  const model: LanguageModel
  /** An ioredis client. */
  const redis: Redis
  /** Your own Lightning node's pay call: resolves to the preimage. */
  function payWithMyNode(invoice: string): Promise<string>
  /** Your own Lightning node's record of the payment it made for a payment hash, if any. */
  function findPaymentOnMyNode(
    paymentHash: string,
  ): Promise<{ status: 'succeeded' | 'failed' | 'in-flight'; preimage: string } | undefined>
  interface Window {
    /** A browser wallet's EIP-1193 provider (MetaMask, Coinbase Wallet, Rabby…). */
    ethereum: import('payfetch/evm').Eip1193Provider
  }
}
