import {
  type Address,
  appendTransactionMessageInstructions,
  createTransactionMessage,
  generateKeyPairSigner,
  getSignatureFromTransaction,
  type Instruction,
  type KeyPairSigner,
  lamports,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signature,
  signTransactionMessageWithSigners,
  type Transaction,
} from '@solana/kit'
import { TOKEN_PROGRAM_ADDRESS } from '@solana-program/token'
import {
  findAssociatedTokenPda,
  getCreateAssociatedTokenIdempotentInstructionAsync,
  getMintEncoder,
  getMintToCheckedInstruction,
  getTokenDecoder,
  TOKEN_2022_PROGRAM_ADDRESS,
} from '@solana-program/token-2022'
import { FailedTransactionMetadata, LiteSVM, type TransactionMetadata } from 'litesvm'

/** An SPL mint on the local chain. */
export type SolanaToken = {
  readonly mint: Address
  readonly decimals: number
  /** Token or Token-2022: the mint's owner. */
  readonly tokenProgram: Address
  readonly symbol: string
}

/** A LiteSVM instance with the helpers the payment stack needs; signatures are verified. */
export type SolanaChain = {
  readonly svm: LiteSVM
  /** Holds SOL, pays for set-up transactions and is every test mint's authority. */
  readonly admin: KeyPairSigner
  /** Places a mint at `address` (a fresh one by default) owned by the token program, authority `admin`. */
  createMint(options: {
    symbol: string
    decimals: number
    tokenProgram?: Address
    address?: Address
  }): Promise<SolanaToken>
  /** Creates `owner`'s associated token account through the associated token account program. */
  createTokenAccount(token: SolanaToken, owner: Address): Promise<Address>
  /** Mints `amount` to `owner`'s associated token account, creating it when missing. */
  mint(token: SolanaToken, owner: Address, amount: bigint): Promise<void>
  /** The associated token account of `owner` for `token`. */
  tokenAccount(token: SolanaToken, owner: Address): Promise<Address>
  /** `owner`'s balance of `token` in atomic units; 0 when the account does not exist. */
  balanceOf(token: SolanaToken, owner: Address): Promise<bigint>
  /** Lamports held by `address`; 0 when the account does not exist. */
  lamports(address: Address): bigint
  /** Sends a fully signed transaction; throws with the program logs when it fails. Returns the signature. */
  send(transaction: Transaction): string
  /** The processed transaction with this signature, if any. */
  transaction(signature: string): TransactionMetadata | FailedTransactionMetadata | null
  /** The transaction `send` landed with this signature, as a node keeps it for `getTransaction`. */
  sentTransaction(signature: string): Transaction | undefined
}

const rentExemptMintLamports = (svm: LiteSVM) => lamports(svm.minimumBalanceForRentExemption(82n))

/** Starts a LiteSVM with SPL Token, Token-2022, associated token account, Memo and ComputeBudget. */
export async function createSolanaChain(): Promise<SolanaChain> {
  const svm = new LiteSVM()
  const admin = await generateKeyPairSigner()
  svm.airdrop(admin.address, lamports(100_000_000_000n))
  let nonce = 0
  // LiteSVM keeps each transaction's outcome but not its message; a node would serve both.
  const landed = new Map<string, Transaction>()

  function send(transaction: Transaction): string {
    const result = svm.sendTransaction(transaction)
    if (result instanceof FailedTransactionMetadata)
      throw new Error(`transaction failed: ${result.toString()}\n${result.meta().logs().join('\n')}`)
    const sent = getSignatureFromTransaction(transaction)
    landed.set(sent, transaction)
    return sent
  }

  async function run(instructions: Instruction[]): Promise<string> {
    // A memo with a counter keeps repeated set-up transactions (same mint, same amount) distinct.
    const unique: Instruction = {
      programAddress: 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr' as Address,
      data: new TextEncoder().encode(`setup ${++nonce}`),
    }
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(admin, m),
      (m) =>
        setTransactionMessageLifetimeUsingBlockhash({ blockhash: svm.latestBlockhash(), lastValidBlockHeight: 0n }, m),
      (m) => appendTransactionMessageInstructions([...instructions, unique], m),
    )
    return send(await signTransactionMessageWithSigners(message))
  }

  async function tokenAccount(token: SolanaToken, owner: Address): Promise<Address> {
    const [address] = await findAssociatedTokenPda({ owner, mint: token.mint, tokenProgram: token.tokenProgram })
    return address
  }

  async function createTokenAccount(token: SolanaToken, owner: Address): Promise<Address> {
    const instruction = await getCreateAssociatedTokenIdempotentInstructionAsync({
      payer: admin,
      owner,
      mint: token.mint,
      tokenProgram: token.tokenProgram,
    })
    await run([instruction])
    return tokenAccount(token, owner)
  }

  return {
    svm,
    admin,
    async createMint({ symbol, decimals, tokenProgram = TOKEN_PROGRAM_ADDRESS, address }) {
      const mint = address ?? (await generateKeyPairSigner()).address
      const data = getMintEncoder().encode({
        mintAuthority: admin.address,
        supply: 0n,
        decimals,
        isInitialized: true,
        freezeAuthority: null,
        extensions: null,
      })
      svm.setAccount({
        address: mint,
        data: Uint8Array.from(data),
        executable: false,
        lamports: rentExemptMintLamports(svm),
        programAddress: tokenProgram,
        space: BigInt(data.length),
      })
      return { mint, decimals, tokenProgram, symbol }
    },
    createTokenAccount,
    async mint(token, owner, amount) {
      const account = await createTokenAccount(token, owner)
      await run([
        getMintToCheckedInstruction(
          { mint: token.mint, token: account, mintAuthority: admin, amount, decimals: token.decimals },
          { programAddress: token.tokenProgram },
        ),
      ])
    },
    tokenAccount,
    async balanceOf(token, owner) {
      const account = svm.getAccount(await tokenAccount(token, owner))
      return account.exists ? getTokenDecoder().decode(account.data).amount : 0n
    },
    lamports: (address) => BigInt(svm.getBalance(address) ?? 0n),
    send,
    transaction: (text) => svm.getTransaction(signature(text)),
    sentTransaction: (text) => landed.get(text),
  }
}

export { TOKEN_2022_PROGRAM_ADDRESS, TOKEN_PROGRAM_ADDRESS }
