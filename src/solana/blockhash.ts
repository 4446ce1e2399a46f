import { type Blockhash, isBlockhash } from '@solana/kit'
import { PayfetchError } from '../errors/PayfetchError.js'
import type { SolanaRpc } from './rpc.js'

/** A recent blockhash: the transaction is valid until the chain passes `lastValidBlockHeight`. */
export type BlockhashLifetime = { readonly blockhash: Blockhash; readonly lastValidBlockHeight: bigint }

/**
 * The blockhash the server named (x402 servers with an RPC put one in `extra.recentBlockhash`, to save the
 * client a round trip), else the RPC's latest one. A malformed server value is ignored, as the
 * reference client does: it can only make the transaction fail, not pay anything else.
 *
 * @throws {PayfetchError} `PAYMENT_FAILED` when the RPC cannot be read.
 */
export async function resolveBlockhash(
  named: { readonly recentBlockhash?: string | undefined; readonly lastValidBlockHeight?: bigint | undefined },
  rpc: SolanaRpc,
  signal?: AbortSignal,
): Promise<BlockhashLifetime> {
  const given = named.recentBlockhash
  if (given !== undefined && isBlockhash(given))
    return { blockhash: given, lastValidBlockHeight: named.lastValidBlockHeight ?? 0n }
  let value: { readonly blockhash: string; readonly lastValidBlockHeight: bigint } | undefined
  try {
    value = (await rpc.getLatestBlockhash().send(signal ? { abortSignal: signal } : undefined))?.value
  } catch (error) {
    if (signal?.aborted) throw error
    throw new PayfetchError('PAYMENT_FAILED', 'Could not read a recent blockhash from the Solana RPC.', {
      cause: error,
    })
  }
  if (typeof value?.blockhash !== 'string' || !isBlockhash(value.blockhash))
    throw new PayfetchError('PAYMENT_FAILED', 'The Solana RPC answered getLatestBlockhash without a valid blockhash.')
  return { blockhash: value.blockhash, lastValidBlockHeight: parseHeight(value.lastValidBlockHeight) }
}

// The height only bounds how long a sender waits; it is not part of the signed message.
function parseHeight(value: unknown): bigint {
  if (typeof value === 'bigint' && value >= 0n) return value
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  if (typeof value === 'string' && /^[0-9]{1,20}$/.test(value)) return BigInt(value)
  return 0n
}
