import {
  type Address,
  generateKeyPairSigner,
  getBase64Encoder,
  getTransactionDecoder,
  type KeyPairSigner,
  lamports,
  type Transaction,
  type TransactionPartialSigner,
} from '@solana/kit'
import {
  createSolanaChain,
  type SolanaChain,
  type SolanaToken,
  TOKEN_2022_PROGRAM_ADDRESS,
} from '../../examples/local-stack/solanaChain.js'
import { liteSvmFacilitatorSigner } from '../../examples/local-stack/solanaFacilitator.js'
import { type SolanaRpcServer, startSolanaRpc } from '../../examples/local-stack/solanaRpc.js'
import type { Offer, SplTransferProof, SplTransferRequest } from '../../src/index.js'
import type { MethodPayer, PayContext, Signer } from '../../src/signers/Signer.js'

export const devnet = 'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1'
export const mainnet = 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp'

/** A LiteSVM with two mints, a merchant whose token accounts exist, a funded fee payer and an RPC over HTTP. */
export type Ledger = {
  chain: SolanaChain
  rpc: SolanaRpcServer
  usdc: SolanaToken
  t22: SolanaToken
  merchant: Address
  feePayer: KeyPairSigner
  /** Co-signs as fee payer and sends, as the facilitator does; returns the signature. */
  settle(payloadTransaction: string): Promise<string>
  close(): Promise<void>
}

export async function startLedger(): Promise<Ledger> {
  const chain = await createSolanaChain()
  const rpc = await startSolanaRpc(chain.svm)
  const usdc = await chain.createMint({ symbol: 'USDC', decimals: 6 })
  const t22 = await chain.createMint({ symbol: 'T22', decimals: 9, tokenProgram: TOKEN_2022_PROGRAM_ADDRESS })
  const merchant = (await generateKeyPairSigner()).address
  await chain.createTokenAccount(usdc, merchant)
  await chain.createTokenAccount(t22, merchant)
  const feePayer = await generateKeyPairSigner()
  chain.svm.airdrop(feePayer.address, lamports(5_000_000_000n))
  const facilitator = liteSvmFacilitatorSigner(chain.svm, feePayer)
  return {
    chain,
    rpc,
    usdc,
    t22,
    merchant,
    feePayer,
    async settle(transaction) {
      const signed = await facilitator.signTransaction(transaction, feePayer.address, devnet)
      return facilitator.sendTransaction(signed, devnet)
    },
    close: () => rpc.close(),
  }
}

/** An x402 v2 `exact` offer for `token` on devnet, with the SPL transfer request payfetch decodes from it. */
export function offerFor(
  ledger: Ledger,
  overrides: Partial<Omit<SplTransferRequest, 'kind'>> = {},
  token: SolanaToken = ledger.usdc,
): Offer {
  const method: SplTransferRequest = {
    kind: 'spl-transfer',
    network: devnet,
    mint: token.mint,
    payTo: ledger.merchant,
    amount: 10_000n,
    feePayer: ledger.feePayer.address,
    ...overrides,
  }
  const { network, mint, payTo, amount, feePayer, memo } = method
  return {
    protocol: 'x402',
    version: 2,
    scheme: 'exact',
    network,
    asset: { id: mint },
    amount,
    payTo,
    resource: 'http://127.0.0.1/resource',
    method,
    // The requirement as the server sent it, for the reference facilitator's verification.
    raw: {
      scheme: 'exact',
      network,
      amount: amount.toString(),
      asset: mint,
      payTo,
      maxTimeoutSeconds: 60,
      extra: { feePayer, ...(memo === undefined ? {} : { memo }) },
    },
  }
}

/** The signer's SPL payer, taking offers, as these tests use it. */
export function payerOf(signer: Signer) {
  const payer = signer.methods['spl-transfer'] as MethodPayer<'spl-transfer'>
  const requestOf = (offer: Offer) => offer.method as SplTransferRequest
  return {
    canPay: (offer: Offer) => payer.refusal?.(requestOf(offer)) === undefined,
    pay: (offer: Offer, context: PayContext) => payer.pay(requestOf(offer), context),
  }
}

/** A kit signer that counts how often it was asked to sign. */
export function countingSigner(signer: KeyPairSigner): TransactionPartialSigner & { calls: number } {
  const counting = {
    address: signer.address,
    calls: 0,
    signTransactions(transactions: Parameters<KeyPairSigner['signTransactions']>[0]) {
      counting.calls++
      return signer.signTransactions(transactions)
    },
  }
  return counting
}

export function decodeWire(base64: string): Transaction {
  return getTransactionDecoder().decode(getBase64Encoder().encode(base64))
}

export const payloadOf = (proof: SplTransferProof) => proof.transaction
