import {
  type Address,
  getBase58Encoder,
  getCompiledTransactionMessageDecoder,
  getSignatureFromTransaction,
  getTransactionDecoder,
  type KeyPairSigner,
  partiallySignTransaction,
  type Transaction,
} from '@solana/kit'
import { FailedTransactionMetadata } from 'litesvm'
import { type ChargeMethod, type ChargeRoute, type ChargeServer, problem, startChargeServer } from './chargeServer.js'
import { echo, json } from './routes.js'
import { type SolanaChain, type SolanaToken, TOKEN_2022_PROGRAM_ADDRESS, TOKEN_PROGRAM_ADDRESS } from './solanaChain.js'
import type { SolanaTokens } from './solanaServers.js'

/** How a Solana charge route is priced. */
export type SolanaTerms = {
  /** Base units of `currency` (lamports for SOL). */
  readonly amount: bigint
  /** One of the stack's tokens, or native SOL. */
  readonly currency: keyof SolanaTokens | 'sol'
  /** The server pays the transaction fee (`methodDetails.feePayer`, `feePayerKey`): pull mode only. */
  readonly sponsored?: boolean | undefined
  /** Sends `methodDetails.recentBlockhash`, so the client needs no RPC. Default true. */
  readonly recentBlockhash?: boolean | undefined
}

export type SolanaChargeRoute = ChargeRoute<SolanaTerms>

/** The routes of the Solana charge server unless a caller passes its own. */
export const defaultSolanaChargeRoutes: readonly SolanaChargeRoute[] = [
  {
    method: 'GET',
    path: '/weather',
    terms: { amount: 10_000n, currency: 'usdc', sponsored: true },
    description: 'weather report',
    handler: () => json({ weather: 'sunny', temperature: 21, chain: 'solana' }),
  },
  {
    method: 'GET',
    path: '/unsponsored',
    terms: { amount: 10_000n, currency: 'usdc' },
    handler: () => json({ sponsored: false }),
  },
  {
    method: 'GET',
    path: '/no-blockhash',
    terms: { amount: 10_000n, currency: 'usdc', sponsored: true, recentBlockhash: false },
    handler: () => json({ blockhash: 'from your RPC' }),
  },
  { method: 'POST', path: '/echo', terms: { amount: 10_000n, currency: 'usdc', sponsored: true }, handler: echo },
  {
    method: 'GET',
    path: '/pricey',
    terms: { amount: 5_000_000n, currency: 'usdc', sponsored: true },
    handler: () => json({ pricey: true }),
  },
  {
    method: 'GET',
    path: '/expired',
    terms: { amount: 10_000n, currency: 'usdc', sponsored: true },
    expiresInSeconds: -60,
    handler: () => json({ expired: false }),
  },
  {
    method: 'GET',
    path: '/token-2022',
    terms: { amount: 2_500_000n, currency: 'token2022', sponsored: true },
    handler: () => json({ paidIn: 'T22' }),
  },
  {
    method: 'GET',
    path: '/sol',
    terms: { amount: 10_000_000n, currency: 'sol' },
    handler: () => json({ paidIn: 'SOL' }),
  },
]

export type SolanaChargeOptions = {
  readonly chain: SolanaChain
  readonly tokens: SolanaTokens
  /** The `recipient` of every route; its token accounts must exist (the draft forbids creating them). */
  readonly payTo: Address
  /** Co-signs and pays the fee of sponsored routes. */
  readonly feePayer: KeyPairSigner
  /** `methodDetails.network`. Default `devnet`, the cluster the local RPC's genesis hash names. */
  readonly network?: 'mainnet' | 'devnet' | 'localnet' | undefined
}

type Priced = {
  readonly amount: bigint
  readonly token: SolanaToken | undefined
  readonly sponsored: boolean
}

const core = 'https://paymentauth.org/problems/'
const failed = (title: string, detail: string) => problem(`${core}verification-failed`, title, detail)
const programs = {
  system: '11111111111111111111111111111111',
  computeBudget: 'ComputeBudget111111111111111111111111111111',
  memo: 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr',
  memoV1: 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo',
  associatedToken: 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL',
}
// Above this a sponsored transaction's priority fee is the client spending the server's SOL.
const maxSponsoredMicroLamports = 100_000n

/**
 * The `solana` charge method of draft-solana-charge-00, on a LiteSVM. Accepts `type="transaction"`
 * (pull: the server checks the instructions, co-signs as fee payer when sponsored, simulates, sends,
 * and checks the payee's balance moved by the amount) and `type="signature"` (push, unsponsored
 * routes only: the transaction must have landed through the chain and pass the same instruction
 * checks). Refuses `type="bundle"` (no route is confidential). Each transaction signature is
 * accepted once; the receipt's `reference` is that signature. Problem types are the core ones.
 */
export function solanaChargeMethod(options: SolanaChargeOptions): ChargeMethod<SolanaTerms, Priced> {
  const { chain, tokens, payTo, feePayer, network = 'devnet' } = options
  const consumed = new Set<string>()

  // The draft's pull-mode structure check, also applied to a pushed transaction.
  async function inspect(transaction: Transaction, priced: Priced): Promise<string | undefined> {
    const message = getCompiledTransactionMessageDecoder().decode(transaction.messageBytes)
    if (message.version === 0 && (message.addressTableLookups?.length ?? 0) > 0)
      return 'address lookup tables are not accepted'
    const accounts = message.staticAccounts
    const signers = accounts.slice(0, message.header.numSignerAccounts)
    const payer = accounts[0]
    if (priced.sponsored && payer !== feePayer.address) return `the fee payer must be ${feePayer.address}`
    if (!priced.sponsored && payer === feePayer.address) return 'this route is not fee-sponsored'
    const expectedAta = priced.token ? await chain.tokenAccount(priced.token, payTo) : undefined
    let legs = 0
    for (const instruction of message.instructions) {
      const program = accounts[instruction.programAddressIndex]
      const keys = (instruction.accountIndices ?? []).map((index) => accounts[index])
      const data = Uint8Array.from(instruction.data ?? [])
      const view = new DataView(data.buffer)
      if (priced.sponsored && keys.includes(feePayer.address)) return 'an instruction uses the server fee payer'
      if (program === programs.memo || program === programs.memoV1) continue
      if (program === programs.computeBudget) {
        if (data[0] === 2 && data.length === 5) continue
        if (data[0] === 3 && data.length === 9) {
          if (priced.sponsored && view.getBigUint64(1, true) > maxSponsoredMicroLamports)
            return 'the priority fee is too high for a sponsored transaction'
          continue
        }
        return 'only SetComputeUnitLimit and SetComputeUnitPrice compute-budget instructions are accepted'
      }
      if (program === programs.associatedToken) return 'no route here has splits, so no token account may be created'
      if (program === TOKEN_PROGRAM_ADDRESS || program === TOKEN_2022_PROGRAM_ADDRESS) {
        if (data[0] !== 12 || data.length !== 10) return 'only transferChecked token instructions are accepted'
        const [, mint, destination, authority] = keys
        const leg =
          priced.token !== undefined &&
          program === priced.token.tokenProgram &&
          mint === priced.token.mint &&
          destination === expectedAta &&
          view.getBigUint64(1, true) === priced.amount &&
          data[9] === priced.token.decimals
        if (!leg) return 'a token transfer does not match the challenge (program, mint, recipient, amount, decimals)'
        if (authority === undefined || !signers.includes(authority)) return 'the transfer authority did not sign'
        legs++
        continue
      }
      if (program === programs.system) {
        if (data.length !== 12 || view.getUint32(0, true) !== 2) return 'only System transfer instructions are accepted'
        const [source, destination] = keys
        const leg = priced.token === undefined && destination === payTo && view.getBigUint64(4, true) === priced.amount
        if (!leg) return 'a SOL transfer does not match the challenge (recipient, amount)'
        if (source === undefined || !signers.includes(source)) return 'the transfer source did not sign'
        legs++
        continue
      }
      return `unexpected program ${program}`
    }
    return legs === 1 ? undefined : `expected one transfer to ${payTo}, found ${legs}`
  }

  const balance = async (priced: Priced) =>
    priced.token ? chain.balanceOf(priced.token, payTo) : chain.lamports(payTo)

  async function pull(encoded: unknown, priced: Priced) {
    const bytes = Buffer.from(String(encoded), 'base64')
    if (bytes.length === 0 || bytes.length > 1232) return failed('Invalid Transaction', 'not 1 to 1232 bytes')
    let transaction: Transaction
    try {
      transaction = getTransactionDecoder().decode(bytes)
    } catch {
      return failed('Invalid Transaction', 'payload.transaction is not a serialized transaction')
    }
    const wrong = await inspect(transaction, priced)
    if (wrong) return failed('Transfer Mismatch', wrong)
    if (priced.sponsored) {
      if (transaction.signatures[feePayer.address] !== null)
        return failed('Transfer Mismatch', 'the fee payer signature slot must be left empty')
      transaction = await partiallySignTransaction([feePayer.keyPair], transaction)
    }
    if (Object.values(transaction.signatures).some((one) => one === null))
      return failed('Missing Signature', 'the transaction is not fully signed')
    const reference = getSignatureFromTransaction(transaction)
    if (consumed.has(reference)) return failed('Replayed', 'Signature already consumed')
    const simulated = chain.svm.simulateTransaction(transaction)
    if (simulated instanceof FailedTransactionMetadata)
      return failed('Simulation Failed', `${simulated.toString()} ${simulated.meta().logs().join(' ')}`)
    consumed.add(reference)
    const before = await balance(priced)
    try {
      chain.send(transaction)
    } catch (error) {
      consumed.delete(reference)
      return failed('Transaction Failed', (error as Error).message)
    }
    // The draft's step 7, read off the chain: the payee's balance moved by exactly the amount.
    if ((await balance(priced)) - before !== priced.amount)
      return failed('Transfer Mismatch', 'the payee did not receive the amount')
    return { reference }
  }

  async function push(text: unknown, priced: Priced) {
    if (priced.sponsored) return failed('Push Mode Refused', 'type="signature" cannot be used when feePayer is true')
    const reference = String(text)
    let length = 0
    try {
      length = getBase58Encoder().encode(reference).length
    } catch {}
    if (length !== 64) return failed('Invalid Signature', 'payload.signature is not a base58 signature')
    if (consumed.has(reference)) return failed('Replayed', 'Signature already consumed')
    const processed = chain.transaction(reference)
    const transaction = chain.sentTransaction(reference)
    if (processed === null || transaction === undefined) return failed('Not Found', 'Transaction not found')
    if (processed instanceof FailedTransactionMetadata) return failed('Transaction Failed', processed.toString())
    const wrong = await inspect(transaction, priced)
    if (wrong) return failed('Transfer Mismatch', wrong)
    consumed.add(reference)
    return { reference }
  }

  return {
    name: 'solana',
    problems: {
      malformed: `${core}malformed-credential`,
      unknownChallenge: `${core}invalid-challenge`,
      expired: `${core}invalid-challenge`,
    },
    async issue(route) {
      const { amount, currency, sponsored = false, recentBlockhash = true } = route.terms
      const token = currency === 'sol' ? undefined : tokens[currency]
      const request = {
        amount: amount.toString(),
        currency: token?.mint ?? 'sol',
        recipient: payTo,
        ...(route.description === undefined ? {} : { description: route.description }),
        methodDetails: {
          network,
          ...(token ? { decimals: token.decimals, tokenProgram: token.tokenProgram } : {}),
          ...(sponsored ? { feePayer: true, feePayerKey: feePayer.address } : {}),
          ...(recentBlockhash ? { recentBlockhash: chain.svm.latestBlockhash() } : {}),
        },
      }
      return { request, state: { amount, token, sponsored } }
    },
    malformedPayload(payload) {
      if (payload.type === 'transaction' && typeof payload.transaction === 'string') return undefined
      if (payload.type === 'signature' && typeof payload.signature === 'string') return undefined
      return 'payload must be {type:"transaction", transaction} or {type:"signature", signature}; no route here is confidential'
    },
    async verify({ payload, state }) {
      return payload.type === 'signature' ? push(payload.signature, state) : pull(payload.transaction, state)
    },
  }
}

/** A Solana `charge` server (draft-solana-charge-00) on 127.0.0.1. Routes: {@link defaultSolanaChargeRoutes} unless given. */
export function startSolanaChargeServer(
  options: SolanaChargeOptions,
  routes: readonly SolanaChargeRoute[] = defaultSolanaChargeRoutes,
): Promise<ChargeServer> {
  return startChargeServer(solanaChargeMethod(options), routes)
}
