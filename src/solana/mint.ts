import type { Address } from '@solana/kit'
import { PayfetchError } from '../errors/PayfetchError.js'
import { textOf } from '../utils/guards.js'
import { isTokenProgram, token2022Program } from './programs.js'
import type { SolanaRpc } from './rpc.js'

/** What a payment needs to know about a mint, read from the chain. */
export type Mint = {
  readonly decimals: number
  /** The program that owns the mint, and so moves its tokens: Token or Token-2022. */
  readonly tokenProgram: Address
}

// SPL mint layout: mint authority (COption<Pubkey>, 36 bytes), supply (u64), decimals (u8),
// is_initialized (bool), freeze authority (36 bytes): 82 bytes. Token-2022 keeps those 82 bytes and,
// with extensions, pads to 165 and writes the account type (1 = mint) at byte 165.
const mintSize = 82
const decimalsOffset = 44
const initializedOffset = 45
const accountTypeOffset = 165
const accountTypeMint = 1

/**
 * Reads a mint's decimals and owning program through the RPC.
 *
 * @throws {PayfetchError} `PAYMENT_FAILED` when the account is missing, not owned by a token program,
 * or not an initialized mint; RPC failures come through as the cause.
 */
export async function fetchMint(rpc: SolanaRpc, mint: Address, signal?: AbortSignal): Promise<Mint> {
  let account: { readonly owner: string; readonly data: readonly [string, string] } | null | undefined
  try {
    account = (
      await rpc.getAccountInfo(mint, { encoding: 'base64' }).send(signal ? { abortSignal: signal } : undefined)
    )?.value
  } catch (error) {
    if (signal?.aborted) throw error
    throw new PayfetchError('PAYMENT_FAILED', `Could not read the mint ${mint} from the Solana RPC.`, {
      details: { mint },
      cause: error,
    })
  }
  if (!account) throw refuse(mint, 'does not exist on this cluster')
  const owner = textOf(account.owner)
  if (!isTokenProgram(owner))
    throw refuse(mint, `is owned by ${owner}, not by the Token or Token-2022 program`, { owner })
  const data = account.data?.[1] === 'base64' ? decodeBase64(account.data[0]) : undefined
  if (data === undefined || !isMintData(data, owner)) throw refuse(mint, 'is not an initialized SPL mint', { owner })
  return { decimals: data[decimalsOffset] as number, tokenProgram: owner }
}

function isMintData(data: Uint8Array, owner: Address): boolean {
  const sized =
    data.length === mintSize ||
    (owner === token2022Program && data.length > accountTypeOffset && data[accountTypeOffset] === accountTypeMint)
  return sized && data[initializedOffset] === 1
}

/** Mints never change decimals or owner, so each is read once per network; failures are retried. */
export function createMintCache(
  rpc: SolanaRpc,
): (network: string, mint: Address, signal?: AbortSignal) => Promise<Mint> {
  const cache = new Map<string, Promise<Mint>>()
  return (network, mint, signal) => {
    const key = `${network}:${mint}`
    let pending = cache.get(key)
    if (!pending) {
      // Shared by concurrent payments, so no one caller's signal may abort it.
      pending = fetchMint(rpc, mint)
      cache.set(key, pending)
      pending.catch(() => cache.get(key) === pending && cache.delete(key))
    }
    return abortable(pending, signal)
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

function refuse(mint: Address, reason: string, details: Record<string, unknown> = {}): PayfetchError {
  return new PayfetchError('PAYMENT_FAILED', `The asset ${mint} ${reason}.`, { details: { mint, ...details } })
}

function decodeBase64(text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0))
  } catch {
    return undefined
  }
}
