import {
  type Address,
  createKeyPairSignerFromBytes,
  createSignableMessage,
  getAddressDecoder,
  isAddress,
  isMessagePartialSigner,
  type MessagePartialSigner,
  type Transaction,
  type TransactionModifyingSigner,
  type TransactionPartialSigner,
  type TransactionWithinSizeLimit,
  type TransactionWithLifetime,
} from '@solana/kit'
import { PayfetchError } from '../errors/PayfetchError.js'

/**
 * A `@solana/web3.js` 1.x `Keypair`, or anything holding the same 64 bytes: the 32-byte secret seed
 * followed by the 32-byte public key. payfetch imports it once into a non-extractable WebCrypto key.
 */
export type Web3Keypair = {
  readonly secretKey: Uint8Array
  readonly publicKey?: { toBase58(): string } | undefined
}

/**
 * Who pays, in any of the shapes Solana code already has:
 * - a `@solana/kit` `TransactionPartialSigner` (`generateKeyPairSigner()`,
 *   `createKeyPairSignerFromBytes()`) or `TransactionModifyingSigner` (wallet-standard wallets);
 * - a `@solana/web3.js` 1.x `Keypair`;
 * - a wallet adapter wrapped with {@link walletAdapter}.
 */
export type SolanaSigner = TransactionPartialSigner | TransactionModifyingSigner | Web3Keypair

/** @internal The payer's address and a way to get its signature on a payment transaction. */
export type PayerSigner = {
  readonly address: Address
  /** Returns the transaction with the payer's signature; a modifying signer may change the message. */
  sign(transaction: SignableTransaction, signal?: AbortSignal): Promise<Transaction>
  /** Signs message bytes with the payer's key (Ed25519), when the signer can: signing in (SIWS). */
  signMessage?: ((message: Uint8Array) => Promise<Uint8Array>) | undefined
}

/** @internal */
export type SignableTransaction = Transaction & TransactionWithinSizeLimit & TransactionWithLifetime

/**
 * Normalises every accepted signer shape.
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` for anything else (never echoing key material).
 */
export function toPayerSigner(signer: unknown): PayerSigner {
  if (typeof signer !== 'object' || signer === null) throw invalid('solana() needs a signer.')
  const candidate = signer as Record<string, unknown>
  if ('secretKey' in candidate) return fromKeypair(candidate as Web3Keypair)
  const address = candidate.address
  if (typeof address === 'string' && isAddress(address)) {
    if (typeof candidate.signTransactions === 'function') return fromPartialSigner(signer as TransactionPartialSigner)
    if (typeof candidate.modifyAndSignTransactions === 'function')
      return fromModifyingSigner(signer as TransactionModifyingSigner)
    if (typeof candidate.signAndSendTransactions === 'function')
      throw invalid(
        'A sending signer broadcasts by itself; an x402 payment is only signed here, the facilitator submits it.',
      )
  }
  if ('publicKey' in candidate && typeof candidate.signTransaction === 'function')
    throw invalid('Wrap a wallet adapter with walletAdapter(wallet, VersionedTransaction) from payfetch/solana.')
  throw invalid('solana() needs a @solana/kit TransactionSigner, a @solana/web3.js Keypair, or walletAdapter(…).')
}

function fromPartialSigner(signer: TransactionPartialSigner): PayerSigner {
  return {
    address: signer.address,
    // A key pair signer (`generateKeyPairSigner()`) also signs messages.
    signMessage: isMessagePartialSigner(signer) ? (message) => signMessageWith(signer, message) : undefined,
    async sign(transaction, signal) {
      const [signatures] = await signer.signTransactions([transaction], signal ? { abortSignal: signal } : undefined)
      // Only the payer's own signature is taken, whatever else the signer returns.
      return {
        ...transaction,
        signatures: { ...transaction.signatures, [signer.address]: signatures?.[signer.address] ?? null },
      }
    },
  }
}

function fromModifyingSigner(signer: TransactionModifyingSigner): PayerSigner {
  return {
    address: signer.address,
    async sign(transaction, signal) {
      const [signed] = await signer.modifyAndSignTransactions(
        [transaction],
        signal ? { abortSignal: signal } : undefined,
      )
      if (!signed) throw new Error('The signer returned no transaction.')
      return signed
    },
  }
}

function fromKeypair(keypair: Web3Keypair): PayerSigner {
  const bytes = keypair.secretKey
  if (!(bytes instanceof Uint8Array) || bytes.length !== 64)
    throw invalid('A Keypair’s secretKey must be 64 bytes (secret seed, then public key).')
  const address = getAddressDecoder().decode(bytes.subarray(32))
  const publicKey = typeof keypair.publicKey?.toBase58 === 'function' ? keypair.publicKey.toBase58() : address
  if (publicKey !== address) throw invalid('The Keypair’s publicKey does not match the public half of its secretKey.')
  // Imported now, so the raw bytes are not kept; a key that fails to import fails the first payment.
  const ready = createKeyPairSignerFromBytes(Uint8Array.from(bytes))
  ready.catch(() => {})
  return {
    address,
    async sign(transaction, signal) {
      const signer = await ready.catch(() => {
        throw new PayfetchError('PAYMENT_FAILED', 'The Keypair is not an Ed25519 key this runtime can import.', {
          details: { payer: address },
        })
      })
      return fromPartialSigner(signer).sign(transaction, signal)
    },
    async signMessage(message) {
      return signMessageWith(await ready, message)
    },
  }
}

async function signMessageWith(signer: MessagePartialSigner, message: Uint8Array): Promise<Uint8Array> {
  const [signatures] = await signer.signMessages([createSignableMessage(message)])
  const signature = signatures?.[signer.address]
  if (!signature) throw new Error('The signer returned no message signature.')
  return signature
}

function invalid(message: string): PayfetchError {
  return new PayfetchError('INVALID_OPTIONS', message)
}
