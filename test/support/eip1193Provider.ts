import { type Hex, hexToString, type TypedDataDefinition } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'

/** An error as EIP-1193 providers throw them: a numeric `code` (4001 user rejected, 4902 unknown chain). */
export class ProviderRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

export type TestEip1193Options = {
  /** The chain the wallet is on at first. */
  readonly chainId: number
  /** Chains the wallet can switch to. Default: only `chainId`. */
  readonly chains?: readonly number[]
  /** Calls other than the wallet's own go to this JSON-RPC endpoint (anvil); without it they fail. */
  readonly rpcUrl?: string
  /** The user's answer to the connect prompt. Default: accept. */
  readonly connect?: 'accept' | 'reject'
}

export type TestEip1193Provider = {
  request(args: { method: string; params?: unknown }): Promise<unknown>
  /** Every method asked, in order. */
  readonly calls: string[]
  /** The chain the wallet is on now. */
  readonly chainId: () => number
}

/**
 * A browser wallet for tests: an EIP-1193 provider whose account is a local key. Like MetaMask, it
 * signs `eth_signTypedData_v4` only for the chain it is on, signs `personal_sign` messages, switches chains on
 * `wallet_switchEthereumChain`, and forwards node calls (`eth_blockNumber`, …) to `rpcUrl`.
 */
export function testEip1193Provider(account: PrivateKeyAccount, options: TestEip1193Options): TestEip1193Provider {
  let chainId = options.chainId
  const chains = options.chains ?? [options.chainId]
  const calls: string[] = []
  let nextId = 0
  return {
    calls,
    chainId: () => chainId,
    async request({ method, params }) {
      calls.push(method)
      switch (method) {
        case 'eth_requestAccounts':
          if (options.connect === 'reject') throw new ProviderRpcError(4001, 'User rejected the request.')
          return [account.address]
        case 'eth_accounts':
          return [account.address]
        case 'eth_chainId':
          return `0x${chainId.toString(16)}`
        case 'wallet_switchEthereumChain': {
          const [{ chainId: wanted } = { chainId: '' }] = params as [{ chainId: string }]
          if (!chains.includes(Number(wanted))) throw new ProviderRpcError(4902, `Unrecognized chain ID "${wanted}".`)
          chainId = Number(wanted)
          return null
        }
        case 'eth_signTypedData_v4': {
          const [address, json] = params as [string, string]
          if (address.toLowerCase() !== account.address.toLowerCase())
            throw new ProviderRpcError(4100, 'The requested account has not been authorized.')
          const { domain, types, primaryType, message } = JSON.parse(json) as TypedDataDefinition & {
            types: Record<string, unknown>
          }
          if (domain?.chainId !== undefined && Number(domain.chainId) !== chainId)
            throw new ProviderRpcError(
              -32602,
              `Provided chainId "${domain.chainId}" must match the active chainId "${chainId}"`,
            )
          const { EIP712Domain: _, ...rest } = types
          return account.signTypedData({
            domain,
            types: rest,
            primaryType,
            message,
          } as TypedDataDefinition) as Promise<Hex>
        }
        case 'personal_sign': {
          // As MetaMask takes it: the message as hex of its UTF-8 bytes, then the account.
          const [data, address] = params as [Hex, string]
          if (address.toLowerCase() !== account.address.toLowerCase())
            throw new ProviderRpcError(4100, 'The requested account has not been authorized.')
          return account.signMessage({ message: hexToString(data) })
        }
      }
      if (!options.rpcUrl) throw new ProviderRpcError(4200, `Unsupported method: ${method}`)
      const response = await fetch(options.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++nextId, method, params: params ?? [] }),
      })
      const answer = (await response.json()) as { result?: unknown; error?: { code: number; message: string } }
      if (answer.error) throw new ProviderRpcError(answer.error.code, answer.error.message)
      return answer.result
    },
  }
}
