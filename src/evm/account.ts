import type { Account, Address, Hex, TransactionSerializable, TypedDataDefinition } from 'viem'

/** The typed data payfetch asks an EVM account to sign. */
export type TypedDataRequest = TypedDataDefinition

/** Anything that can sign EIP-712 typed data for one address: a viem `LocalAccount`, or your own. */
export type EvmAccount = {
  readonly address: Address
  signTypedData(parameters: TypedDataRequest): Promise<Hex>
  /** A local account's transaction signing: lets a server-sponsored Permit2 approval be signed. */
  signTransaction?: ((transaction: TransactionSerializable) => Promise<Hex>) | undefined
  /** EIP-191 message signing: lets the signer sign in (x402 sign-in-with-x, SIWE) where it paid before. */
  signMessage?: ((parameters: { message: string }) => Promise<Hex>) | undefined
}

/** A viem `WalletClient` with an account attached (a browser wallet, a JSON-RPC account). */
export type EvmWalletClient = {
  // viem's own `Account`: a client's signTypedData accepts nothing narrower, and a local account
  // must be passed as the object (an address alone would be signed over JSON-RPC).
  readonly account: Account | undefined
  readonly chain?: { readonly id: number } | undefined
  signTypedData(parameters: TypedDataRequest & { account: Account }): Promise<Hex>
  /** EIP-191 message signing (`personal_sign`), for signing in (x402 sign-in-with-x). */
  signMessage?: ((parameters: { account: Account; message: string }) => Promise<Hex>) | undefined
}

/** The signing surface payfetch needs, whatever the caller passed. */
export type TypedDataSigner = {
  readonly address: Address
  /** The only chain this signer may sign for, when the wallet is bound to one. */
  readonly chainId?: number | undefined
  sign(parameters: TypedDataRequest): Promise<Hex>
  /** Signs a transaction without sending it, when the account can (a local account). */
  signTransaction?: ((transaction: TransactionSerializable) => Promise<Hex>) | undefined
  /** Signs an EIP-191 personal message, when the account can. */
  signMessage?: ((message: string) => Promise<Hex>) | undefined
}

/** Normalises a `LocalAccount`, a `WalletClient` or a structural account into one signer. */
export function toTypedDataSigner(account: EvmAccount | EvmWalletClient): TypedDataSigner | undefined {
  // Options may come from untyped JavaScript: `'account' in undefined` would throw a TypeError.
  if (typeof account !== 'object' || account === null) return undefined
  if ('account' in account) {
    const client = account
    const clientAccount = client.account
    if (!clientAccount) return undefined
    const { signMessage } = client
    return {
      address: clientAccount.address,
      chainId: client.chain?.id,
      sign: (parameters) => client.signTypedData({ ...parameters, account: clientAccount }),
      signMessage:
        typeof signMessage === 'function'
          ? (message) => signMessage.call(client, { account: clientAccount, message })
          : undefined,
    }
  }
  if (typeof account.address !== 'string' || typeof account.signTypedData !== 'function') return undefined
  const { signTransaction, signMessage } = account
  return {
    address: account.address,
    sign: (parameters) => account.signTypedData(parameters),
    signTransaction: typeof signTransaction === 'function' ? (tx) => signTransaction.call(account, tx) : undefined,
    signMessage: typeof signMessage === 'function' ? (message) => signMessage.call(account, { message }) : undefined,
  }
}
