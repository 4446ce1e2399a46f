import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import { outcomeUnknown, paymentFailed, type WalletReport } from './walletErrors.js'

/** One payment's view of a REST wallet: who it is, which payment, when to give up, how to fetch. */
export type WalletCall = {
  readonly wallet: string
  readonly paymentHash: string
  readonly signal: AbortSignal
  readonly fetch: typeof fetch
}

// Connection errors raised before a request is written: refused, unknown host, TLS handshake.
const notConnected = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|UND_ERR_CONNECT_TIMEOUT|.*CERT.*|ERR_TLS.*)$/

/**
 * Sends one request to a wallet's REST API. A failure to connect is `PAYMENT_FAILED` when no
 * earlier request of this payment reached the wallet (`reached: false`); every other failure (a
 * timeout, a connection lost mid-request) leaves the outcome unknown.
 */
export async function walletRequest(
  call: WalletCall,
  url: string,
  init: RequestInit,
  reached: boolean,
): Promise<Response> {
  if (call.signal.aborted && !reached)
    throw paymentFailed(call.wallet, 'the timeout passed before the request was sent', call.paymentHash)
  try {
    return await call.fetch(url, { ...init, signal: call.signal })
  } catch (error) {
    const code = String((error as { cause?: { code?: unknown } } | undefined)?.cause?.code ?? '')
    if (!reached && !call.signal.aborted && notConnected.test(code))
      throw paymentFailed(call.wallet, 'it could not be reached', call.paymentHash, { error: code }, error)
    throw outcomeUnknown(
      call.wallet,
      call.signal.aborted ? 'no answer came before the timeout' : 'the connection failed after the request was sent',
      call.paymentHash,
      {},
      error,
    )
  }
}

/** The JSON body of a wallet's answer (`undefined` when it is not JSON); a body cut short leaves the outcome unknown. */
export async function readJson(call: WalletCall, response: Response): Promise<Record<string, unknown> | undefined> {
  let text: string
  try {
    text = await response.text()
  } catch (error) {
    throw outcomeUnknown(call.wallet, 'the answer was cut short', call.paymentHash, { status: response.status }, error)
  }
  try {
    const value = JSON.parse(text) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** A lookup the wallet answered with an HTTP error (a refused credential, a server error): it cannot say. */
export function lookupRefused(call: WalletCall, response: Response, report: WalletReport): PayfetchError {
  return outcomeUnknown(call.wallet, `it answered ${response.status} to a lookup`, call.paymentHash, {
    status: response.status,
    ...report,
  })
}

/** Rethrows payfetch errors; anything else after the wallet was asked to pay leaves the outcome unknown. */
export function unknownUnlessClassified(
  call: WalletCall,
  error: unknown,
  message: string,
  report: WalletReport = {},
): never {
  if (isPayfetchError(error)) throw error
  throw outcomeUnknown(
    call.wallet,
    call.signal.aborted ? 'no answer came before the timeout' : message,
    call.paymentHash,
    report,
    error,
  )
}

/** A wallet's base URL without trailing slashes, checked once when the wallet is created. */
export function baseUrl(url: string, wallet: string): string {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {}
  if (!parsed || !/^https?:$/.test(parsed.protocol))
    throw new PayfetchError('INVALID_OPTIONS', `${wallet}() needs the wallet's http(s) base URL.`)
  return parsed.href.replace(/\/+$/, '')
}

/** An amount in millisatoshis from a JSON number or a decimal string (optionally suffixed `msat`). */
export function msat(value: unknown): bigint | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value)
  const match = typeof value === 'string' ? /^(-?[0-9]{1,20})(?:msat)?$/.exec(value) : null
  return match ? BigInt(match[1] as string) : undefined
}
