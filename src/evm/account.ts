import type { Address, Hex, TypedDataDefinition } from 'viem'

/** The typed data payfetch asks an EVM account to sign. */
export type TypedDataRequest = TypedDataDefinition

/** Anything that can sign EIP-712 typed data for one address: a viem `LocalAccount`, or your own. */
export type EvmAccount = {
  readonly address: Address
  signTypedData(parameters: TypedDataRequest): Promise<Hex>
}

/** A viem `WalletClient` with an account attached (a browser wallet, a JSON-RPC account). */
export type EvmWalletClient = {
  readonly account: { readonly address: Address } | undefined
  readonly chain?: { readonly id: number } | undefined
  signTypedData(parameters: TypedDataRequest & { account: { readonly address: Address } }): Promise<Hex>
}

/** The signing surface payfetch needs, whatever the caller passed. */
export type TypedDataSigner = {
  readonly address: Address
  /** The only chain this signer may sign for, when the wallet is bound to one. */
  readonly chainId?: number | undefined
  sign(parameters: TypedDataRequest): Promise<Hex>
}

/** Normalises a `LocalAccount`, a `WalletClient` or a structural account into one signer. */
export function toTypedDataSigner(account: EvmAccount | EvmWalletClient): TypedDataSigner | undefined {
  if ('account' in account) {
    const client = account
    const clientAccount = client.account
    if (!clientAccount) return undefined
    return { address: clientAccount.address, chainId: client.chain?.id, sign: (parameters) => client.signTypedData({ ...parameters, account: clientAccount }) }
  }
  if (typeof account.address !== 'string' || typeof account.signTypedData !== 'function') return undefined
  return { address: account.address, sign: (parameters) => account.signTypedData(parameters) }
}
