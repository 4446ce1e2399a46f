import { createServer } from 'node:http'
import {
  getAddressDecoder,
  getBase58Encoder,
  getTransactionDecoder,
  type Transaction,
  address as toAddress,
  signature as toSignature,
} from '@solana/kit'
import { FailedTransactionMetadata, type LiteSVM } from 'litesvm'
import { close, listen, readJson, sendJson } from './http.js'

/** Devnet's genesis hash: the local chain answers as devnet, the cluster its CAIP-2 id names. */
export const devnetGenesisHash = 'EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG'

/** A Solana JSON-RPC endpoint over a LiteSVM, on 127.0.0.1. */
export type SolanaRpcServer = {
  readonly url: string
  /** Every method called so far, oldest first (batches flattened). */
  readonly calls: readonly string[]
  close(): Promise<void>
}

type Request = { jsonrpc?: string; id?: unknown; method?: unknown; params?: unknown }

export type SolanaRpcOptions = {
  /**
   * Serves `sendTransaction` through this function (e.g. `SolanaChain.send`, which throws with the
   * program logs on failure): for clients that broadcast themselves. Without it, sending stays
   * with the facilitator, which talks to the LiteSVM directly.
   */
  readonly send?: ((transaction: Transaction) => string) | undefined
}

/**
 * Serves the read methods clients and x402 servers call (`getLatestBlockhash`, `getAccountInfo`,
 * `getSlot`, `getBalance`, `getTokenAccountBalance`, `getSignatureStatuses`, …) straight from the
 * LiteSVM's state, so `@solana/kit`'s `createSolanaRpc(url)` and payfetch read the local chain over
 * real HTTP; and `sendTransaction` when `options.send` is given.
 */
export async function startSolanaRpc(svm: LiteSVM, options: SolanaRpcOptions = {}): Promise<SolanaRpcServer> {
  const calls: string[] = []

  function slot(): number {
    return Number(svm.getClock().slot)
  }

  function answer(method: string, params: unknown[]): unknown {
    const context = { slot: slot(), apiVersion: '2.2.0' }
    switch (method) {
      case 'getLatestBlockhash':
        return { context, value: { blockhash: svm.latestBlockhash(), lastValidBlockHeight: slot() + 150 } }
      case 'getAccountInfo': {
        const [address, config] = params as [string, { encoding?: string } | undefined]
        const encoding = config?.encoding ?? 'base58'
        if (encoding !== 'base64')
          throw rpcError(-32602, `this local RPC only serves base64 account data, not ${encoding}`)
        const account = svm.getAccount(toAddress(address))
        if (!account.exists) return { context, value: null }
        return {
          context,
          value: {
            data: [Buffer.from(account.data).toString('base64'), 'base64'],
            executable: account.executable,
            lamports: Number(account.lamports),
            owner: account.programAddress,
            rentEpoch: 0,
            space: account.data.length,
          },
        }
      }
      case 'getBalance':
        return { context, value: Number(svm.getBalance(toAddress(String(params[0]))) ?? 0n) }
      case 'getTokenAccountBalance': {
        const account = svm.getAccount(toAddress(String(params[0])))
        if (!account.exists) throw rpcError(-32602, 'Invalid param: could not find account')
        // Token account layout: mint (32), owner (32), amount (u64 LE), …; the decimals live on the mint.
        const amount = new DataView(account.data.buffer, account.data.byteOffset).getBigUint64(64, true)
        const mint = svm.getAccount(getAddressDecoder().decode(account.data.subarray(0, 32)))
        const decimals = mint.exists ? (mint.data[44] ?? 0) : 0
        return {
          context,
          value: { amount: amount.toString(), decimals, uiAmount: null, uiAmountString: amount.toString() },
        }
      }
      case 'getSlot':
      case 'getBlockHeight':
        return slot()
      case 'getMinimumBalanceForRentExemption':
        return Number(svm.minimumBalanceForRentExemption(BigInt(Number(params[0] ?? 0))))
      case 'isBlockhashValid':
        return { context, value: String(params[0]) === svm.latestBlockhash() }
      case 'getGenesisHash':
        return devnetGenesisHash
      case 'sendTransaction': {
        if (!options.send) throw rpcError(-32601, 'Method not found: sendTransaction')
        const [wire, config] = params as [string, { encoding?: string } | undefined]
        const bytes =
          config?.encoding === 'base64' ? Buffer.from(wire, 'base64') : getBase58Encoder().encode(String(wire))
        try {
          return options.send(getTransactionDecoder().decode(bytes))
        } catch (error) {
          // What a node answers when preflight simulation fails.
          throw rpcError(-32002, `Transaction simulation failed: ${(error as Error).message}`)
        }
      }
      case 'getSignatureStatuses': {
        const [signatures] = params as [string[]]
        return {
          context,
          value: signatures.map((text) => {
            const processed = svm.getTransaction(toSignature(text))
            if (processed === null) return null
            const err = processed instanceof FailedTransactionMetadata ? String(processed.err()) : null
            // LiteSVM has no forks: whatever it processed is final.
            return { slot: slot(), confirmations: null, err, confirmationStatus: 'finalized' }
          }),
        }
      }
      case 'getHealth':
        return 'ok'
      case 'getVersion':
        return { 'solana-core': '2.2.0-litesvm', 'feature-set': 0 }
      default:
        throw rpcError(-32601, `Method not found: ${method}`)
    }
  }

  function handle(request: Request): unknown {
    const id = request.id ?? null
    if (typeof request.method !== 'string')
      return { jsonrpc: '2.0', id, error: { code: -32600, message: 'Invalid request' } }
    calls.push(request.method)
    try {
      return { jsonrpc: '2.0', id, result: answer(request.method, Array.isArray(request.params) ? request.params : []) }
    } catch (error) {
      const { code, message } = error as { code?: number; message: string }
      return { jsonrpc: '2.0', id, error: { code: code ?? -32603, message } }
    }
  }

  const server = createServer((request, response) => {
    if (request.method !== 'POST') return sendJson(response, 405, { error: 'POST JSON-RPC only' })
    readJson(request)
      .then((body) =>
        sendJson(
          response,
          200,
          Array.isArray(body) ? body.map((one) => handle(one as Request)) : handle((body ?? {}) as Request),
        ),
      )
      .catch((error: unknown) => sendJson(response, 500, { error: String(error) }))
  })
  const url = await listen(server)
  return { url, calls, close: () => close(server) }
}

function rpcError(code: number, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code })
}
