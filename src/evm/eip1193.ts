import { getTypesForEIP712Domain, type JsonRpcAccount, serializeTypedData, stringToHex, validateTypedData } from 'viem'
import { PayfetchError } from '../errors/PayfetchError.js'
import type { EvmWalletClient } from './account.js'

/** The part of an EIP-1193 provider (`window.ethereum`, a wallet SDK's provider) payfetch uses. */
export type Eip1193Provider = {
  request(args: { method: string; params?: unknown }): Promise<unknown>
}

export type Eip1193Options = {
  /**
   * The chain to pay on: the wallet is asked to switch to it first (`wallet_switchEthereumChain`).
   * Default: the chain the wallet is on now.
   */
  chainId?: number | undefined
}

const addressPattern = /^0x[0-9a-fA-F]{40}$/

/**
 * A browser wallet as the account of `evm()`: asks the provider for its account
 * (`eth_requestAccounts`, which shows the wallet's connect prompt), optionally switches it to
 * `chainId`, and signs through `eth_signTypedData_v4` (and `personal_sign` to sign in where it paid
 * before, x402 sign-in-with-x). The signer is bound to the wallet's chain,
 * since wallets refuse typed data for another chain; build it again after `chainChanged` or
 * `accountsChanged`.
 *
 * It asks the provider for `eth_signTypedData_v4` itself, with viem's typed-data checks, rather
 * than through `createWalletClient`, which brings every wallet action (about 60 KiB gzip). A page
 * that already has a viem `WalletClient` (wagmi's `useWalletClient`) passes that to
 * `evm({ account })` instead.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { eip1193, evm } from 'payfetch/evm'
 *
 * const account = await eip1193(window.ethereum, { chainId: 8453 }) // Base
 * const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` when the provider has no `request`, the wallet shares
 * no account or refuses to switch, or reports no chain id.
 */
export async function eip1193(provider: Eip1193Provider, options: Eip1193Options = {}): Promise<EvmWalletClient> {
  if (typeof provider?.request !== 'function')
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'eip1193() needs an EIP-1193 provider with request(), such as window.ethereum.',
    )
  const ask = async (method: string, params: unknown, failure: string) => {
    try {
      return await provider.request(params === undefined ? { method } : { method, params })
    } catch (error) {
      throw new PayfetchError('INVALID_OPTIONS', `eip1193(): ${failure}.`, { details: { method }, cause: error })
    }
  }
  const accounts = await ask('eth_requestAccounts', undefined, 'the wallet shared no account')
  const address = Array.isArray(accounts) ? accounts[0] : undefined
  if (typeof address !== 'string' || !addressPattern.test(address))
    throw new PayfetchError('INVALID_OPTIONS', 'eip1193(): the wallet shared no account.', {
      details: { method: 'eth_requestAccounts' },
    })
  if (options.chainId !== undefined)
    await ask(
      'wallet_switchEthereumChain',
      [{ chainId: `0x${options.chainId.toString(16)}` }],
      `the wallet did not switch to chain ${options.chainId}`,
    )
  const reported = await ask('eth_chainId', undefined, 'the wallet reported no chain id')
  const chainId = typeof reported === 'string' && /^0x[0-9a-fA-F]{1,16}$/.test(reported) ? Number(reported) : Number.NaN
  if (!Number.isSafeInteger(chainId) || chainId < 1 || (options.chainId !== undefined && chainId !== options.chainId))
    throw new PayfetchError('INVALID_OPTIONS', 'eip1193(): the wallet is not on the chain asked for.', {
      details: { chainId: reported, expected: options.chainId },
    })
  const account: JsonRpcAccount = { address: address as `0x${string}`, type: 'json-rpc' }
  return {
    account,
    chain: { id: chainId },
    async signTypedData(parameters) {
      const { domain, message, primaryType } = parameters
      const typedData = {
        domain,
        message,
        primaryType,
        types: { EIP712Domain: getTypesForEIP712Domain({ domain }), ...parameters.types },
      } as Parameters<typeof serializeTypedData>[0]
      // The checks viem's wallet action makes (addresses, integer and byte ranges) before the wallet sees it.
      validateTypedData(typedData)
      const signature = await provider.request({
        method: 'eth_signTypedData_v4',
        params: [address, serializeTypedData(typedData)],
      })
      return signatureOf(signature)
    },
    async signMessage({ message }) {
      // EIP-191 personal message: the wallet shows the text (a SIWE message) and prefixes it itself.
      return signatureOf(await provider.request({ method: 'personal_sign', params: [stringToHex(message), address] }))
    },
  }
}

function signatureOf(value: unknown): `0x${string}` {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]+$/.test(value))
    throw new TypeError('The wallet returned no signature.')
  return value as `0x${string}`
}
