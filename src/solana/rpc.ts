import { PayfetchError } from '../errors/PayfetchError.js'
import { textOf } from '../utils/guards.js'

/** A JSON-RPC call waiting to be sent, the way `@solana/kit`'s `Rpc` returns one. */
export type PendingRpcRequest<T> = {
  send(options?: { abortSignal?: AbortSignal }): Promise<T>
}

/**
 * The two reads payfetch makes on Solana: the mint (decimals and owning program) and a recent
 * blockhash. An `Rpc` from `@solana/kit`'s `createSolanaRpc(url)` has this shape; so does the
 * small client payfetch makes when given a URL.
 */
export type SolanaRpc = {
  getAccountInfo(
    address: string,
    config: { encoding: 'base64' },
  ): PendingRpcRequest<{ readonly value: { readonly owner: string; readonly data: readonly [string, string] } | null }>
  getLatestBlockhash(): PendingRpcRequest<{
    readonly value: { readonly blockhash: string; readonly lastValidBlockHeight: bigint }
  }>
}

/**
 * A minimal JSON-RPC client for the two calls above, over the global `fetch` (never the paying
 * one). Smaller than kit's full RPC stack, which a bundle then leaves out.
 */
export function rpcFromUrl(url: string): SolanaRpc {
  let endpoint: URL
  try {
    endpoint = new URL(url)
  } catch (error) {
    throw new PayfetchError('INVALID_OPTIONS', 'solana() needs rpc to be an http(s) URL or a @solana/kit Rpc.', {
      cause: error,
    })
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:')
    throw new PayfetchError('INVALID_OPTIONS', 'solana() needs rpc to be an http(s) URL or a @solana/kit Rpc.', {
      details: { protocol: endpoint.protocol },
    })
  let id = 0

  function call<T>(method: string, params: unknown[]): PendingRpcRequest<T> {
    return {
      async send(options) {
        const response = await globalThis.fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
          signal: options?.abortSignal ?? null,
        })
        if (!response.ok) throw new Error(`Solana RPC ${method} answered HTTP ${response.status}.`)
        const body = (await response.json()) as { result?: T; error?: { code?: number; message?: string } }
        if (body.error) throw new Error(`Solana RPC ${method} failed: ${textOf(body.error.message ?? body.error.code)}`)
        return body.result as T
      },
    }
  }

  return {
    getAccountInfo: (address, config) => call('getAccountInfo', [address, config]),
    getLatestBlockhash() {
      const pending = call<{ value?: { blockhash?: unknown; lastValidBlockHeight?: unknown } } | null>(
        'getLatestBlockhash',
        [],
      )
      return {
        async send(options) {
          const value = (await pending.send(options))?.value
          // JSON carries the height as a number; kit's RPC turns it into a bigint.
          const height = value?.lastValidBlockHeight
          return {
            value: {
              blockhash: typeof value?.blockhash === 'string' ? value.blockhash : '',
              lastValidBlockHeight:
                typeof height === 'number' && Number.isSafeInteger(height) && height >= 0 ? BigInt(height) : 0n,
            },
          }
        },
      }
    },
  }
}

/** Whether `value` has the two methods payfetch calls. */
export function isSolanaRpc(value: unknown): value is SolanaRpc {
  if (typeof value !== 'object' && typeof value !== 'function') return false
  if (value === null) return false
  const rpc = value as Record<string, unknown>
  return typeof rpc.getAccountInfo === 'function' && typeof rpc.getLatestBlockhash === 'function'
}
