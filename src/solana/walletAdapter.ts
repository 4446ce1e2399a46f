import {
  type Address,
  getTransactionDecoder,
  getTransactionEncoder,
  isAddress,
  type TransactionModifyingSigner,
  type TransactionWithinSizeLimit,
  type TransactionWithLifetime,
} from '@solana/kit'
import { PayfetchError } from '../errors/PayfetchError.js'

/** The part of a `@solana/web3.js` 1.x `VersionedTransaction` payfetch uses. */
export type Web3VersionedTransaction = { serialize(): Uint8Array }

/** The `VersionedTransaction` class of your own `@solana/web3.js` 1.x copy (only `deserialize`). */
export type Web3VersionedTransactionClass<T extends Web3VersionedTransaction> = {
  deserialize(serializedTransaction: Uint8Array): T
}

/**
 * A `@solana/wallet-adapter` wallet (`useWallet()`, a `BaseWalletAdapter`), or any object that
 * signs a web3.js `VersionedTransaction` for one public key.
 */
export type Web3Wallet<T extends Web3VersionedTransaction> = {
  readonly publicKey: { toBase58(): string } | null
  signTransaction?: ((transaction: T) => Promise<T>) | undefined
}

/**
 * Lets a `@solana/web3.js` 1.x wallet adapter pay, without payfetch depending on web3.js: you pass
 * your own `VersionedTransaction` class, payfetch hands the wallet a real `VersionedTransaction`
 * (so `instanceof` checks and wallet UIs work) and reads the signed bytes back.
 *
 * Wallets may append Lighthouse assertions (Phantom does); payfetch accepts that and refuses any
 * other change to what it built. The wallet's public key is read once: build the paying fetch
 * after the wallet connects, and again after the user switches accounts.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { solana, walletAdapter } from 'payfetch/solana'
 * import { VersionedTransaction } from '@solana/web3.js'
 * import { useWallet } from '@solana/wallet-adapter-react'
 *
 * const wallet = useWallet()
 * const fetchPaid = createPayingFetch({
 *   signers: [solana({ signer: walletAdapter(wallet, VersionedTransaction), rpc: 'https://api.mainnet-beta.solana.com' })],
 * })
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` when the wallet is not connected or cannot sign transactions.
 */
export function walletAdapter<T extends Web3VersionedTransaction>(
  wallet: Web3Wallet<T>,
  VersionedTransaction: Web3VersionedTransactionClass<T>,
): TransactionModifyingSigner {
  const publicKey = typeof wallet?.publicKey?.toBase58 === 'function' ? wallet.publicKey.toBase58() : undefined
  if (publicKey === undefined || !isAddress(publicKey))
    throw new PayfetchError('INVALID_OPTIONS', 'walletAdapter() needs a connected wallet (its publicKey is missing).')
  if (typeof wallet.signTransaction !== 'function')
    throw new PayfetchError('INVALID_OPTIONS', 'walletAdapter() needs a wallet that can signTransaction.')
  if (typeof VersionedTransaction?.deserialize !== 'function')
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'walletAdapter() needs @solana/web3.js VersionedTransaction as its second argument.',
    )
  const address = publicKey as Address
  return {
    address,
    async modifyAndSignTransactions(transactions) {
      const encoder = getTransactionEncoder()
      const decoder = getTransactionDecoder()
      const signed = []
      for (const transaction of transactions) {
        const sign = wallet.signTransaction
        if (typeof sign !== 'function') throw new Error('The wallet can no longer sign transactions.')
        const result = await sign.call(
          wallet,
          VersionedTransaction.deserialize(Uint8Array.from(encoder.encode(transaction))),
        )
        const decoded = decoder.decode(result.serialize())
        // The lifetime is re-checked against the signed message bytes before anything is sent.
        signed.push({
          ...decoded,
          lifetimeConstraint: (transaction as TransactionWithLifetime).lifetimeConstraint,
        } as typeof decoded & TransactionWithinSizeLimit & TransactionWithLifetime)
      }
      return signed
    },
  }
}
