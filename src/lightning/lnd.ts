import { PayfetchError } from '../errors/PayfetchError.js'
import { isRecord, textOf } from '../utils/guards.js'
import type { LightningWallet, PaymentStatus } from './LightningWallet.js'
import { outcomeUnknown, paymentFailed } from './walletErrors.js'
import {
  baseUrl,
  lookupRefused,
  msat,
  readJson,
  unknownUnlessClassified,
  type WalletCall,
  walletRequest,
} from './walletRequest.js'

export type LndOptions = {
  /** The REST base URL, e.g. `https://127.0.0.1:8080`. */
  url: string
  /** A macaroon allowed to send payments and, for lookups, read them (admin, or one baked with `offchain:read` and `offchain:write`), as hex or bytes. */
  macaroon: string | Uint8Array
  /** The fetch to use, e.g. one whose dispatcher trusts lnd's self-signed certificate. Default: the global `fetch`. */
  fetch?: typeof fetch | undefined
}

/**
 * Pays through lnd's REST API: `POST /v2/router/send` (SendPaymentV2; the older
 * `/v1/channels/transactions` was removed in lnd 0.21), with `fee_limit_sat` and `timeout_seconds`,
 * reading the streamed updates until the payment is `SUCCEEDED` or `FAILED`. Looks a payment up
 * with `GET /v2/router/track/{payment_hash}` (TrackPaymentV2), reading only the first update: the
 * payment's state now.
 *
 * @example
 * ```ts
 * import { lightning, lnd } from 'payfetch/lightning'
 *
 * const signer = lightning({ wallet: lnd({ url: 'https://127.0.0.1:8080', macaroon: process.env.LND_MACAROON_HEX! }), maxFeeSats: 10 })
 * ```
 */
export function lnd(options: LndOptions): LightningWallet {
  const base = baseUrl(options.url, 'lnd')
  const macaroon =
    typeof options.macaroon === 'string'
      ? options.macaroon
      : Array.from(options.macaroon, (byte) => byte.toString(16).padStart(2, '0')).join('')
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(macaroon))
    throw new PayfetchError('INVALID_OPTIONS', 'lnd() needs the macaroon as hex or bytes.')
  const fetcher = () => options.fetch ?? globalThis.fetch
  return {
    name: 'lnd',
    async payInvoice(invoice, { maxFeeMsat, signal, timeoutSeconds, paymentHash }) {
      const call: WalletCall = { wallet: 'lnd', paymentHash, signal, fetch: fetcher() }
      const response = await walletRequest(
        call,
        `${base}/v2/router/send`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'grpc-metadata-macaroon': macaroon },
          // A fee limit of 0 would allow only fee-free routes; int64 fields travel as strings.
          body: JSON.stringify({
            payment_request: invoice,
            fee_limit_sat: String(maxFeeMsat / 1000n),
            timeout_seconds: timeoutSeconds,
            no_inflight_updates: true,
          }),
        },
        false,
      )
      if (!response.ok) {
        // grpc-gateway answers a call lnd rejected before dispatching the payment (bad macaroon,
        // expired or already paid invoice, payment in transition) with the gRPC status as JSON;
        // anything else (a proxy's 502 or 504) may have come after lnd started paying.
        const body = await readJson(call, response)
        const status = (body?.error ?? body) as { message?: unknown } | undefined
        const report = {
          status: response.status,
          message: typeof status?.message === 'string' ? status.message : undefined,
        }
        throw report.message !== undefined
          ? paymentFailed('lnd', 'it refused the request', paymentHash, report)
          : outcomeUnknown('lnd', `it answered ${response.status}`, paymentHash, report)
      }
      let inFlight = false
      try {
        for await (const line of lines(response)) {
          const message = JSON.parse(line) as { result?: Record<string, unknown>; error?: { message?: unknown } }
          const update = message.result
          if (message.error) {
            const report = { message: textOf(message.error.message) }
            // An error before any update means lnd never started the payment (expired, already paid, in transition).
            throw inFlight
              ? outcomeUnknown('lnd', 'the payment stream failed', paymentHash, report)
              : paymentFailed('lnd', 'it did not start the payment', paymentHash, report)
          }
          if (update?.status === 'SUCCEEDED')
            return { preimage: textOf(update.payment_preimage), feeMsat: msat(update.fee_msat) }
          if (update?.status === 'FAILED')
            throw paymentFailed('lnd', 'the payment failed', paymentHash, {
              failureReason: textOf(update.failure_reason),
            })
          inFlight ||= update !== undefined
        }
      } catch (error) {
        unknownUnlessClassified(call, error, 'the payment stream broke off')
      }
      throw outcomeUnknown('lnd', 'the stream ended before the payment settled', paymentHash)
    },
    // TrackPaymentV2 streams the payment's current state first. The hash travels as URL-safe
    // base64 (grpc-gateway decodes a bytes path parameter so); a payment lnd has not seen is
    // gRPC NOT_FOUND (5), which may still be on its way: pending, never failed.
    async lookupPayment(paymentHash, { signal }): Promise<PaymentStatus> {
      const call: WalletCall = { wallet: 'lnd', paymentHash, signal, fetch: fetcher() }
      const response = await walletRequest(
        call,
        `${base}/v2/router/track/${hashInPath(paymentHash)}`,
        { headers: { 'grpc-metadata-macaroon': macaroon } },
        true,
      )
      if (!response.ok) {
        const body = await readJson(call, response)
        const status = (body?.error ?? body) as { code?: unknown; message?: unknown } | undefined
        if (status?.code === notFound) return { status: 'pending' }
        throw lookupRefused(call, response, { message: textOf(status?.message) })
      }
      let first: string | undefined
      try {
        for await (const line of lines(response)) {
          first = line
          break
        }
      } catch (error) {
        unknownUnlessClassified(call, error, 'the lookup stream broke off')
      }
      return trackedStatus(first, paymentHash)
    },
  }
}

// gRPC NOT_FOUND: lnd's "payment isn't initiated".
const notFound = 5

/** One TrackPaymentV2 line as a status: only `SUCCEEDED` with a preimage is paid, only `FAILED` failed. */
function trackedStatus(line: string | undefined, paymentHash: string): PaymentStatus {
  let message: { result?: unknown; error?: unknown } | undefined
  try {
    message = line === undefined ? undefined : (JSON.parse(line) as typeof message)
  } catch {}
  const payment = isRecord(message?.result) ? message.result : undefined
  if (isRecord(message?.error) && message.error.code !== notFound)
    throw outcomeUnknown('lnd', 'the lookup stream failed', paymentHash, { message: textOf(message.error.message) })
  if (
    !payment ||
    (payment.payment_hash !== undefined && textOf(payment.payment_hash).toLowerCase() !== paymentHash.toLowerCase())
  )
    return { status: 'pending' }
  if (payment.status === 'FAILED') return { status: 'failed' }
  if (payment.status === 'SUCCEEDED' && typeof payment.payment_preimage === 'string')
    return { status: 'paid', preimage: payment.payment_preimage, feeMsat: msat(payment.fee_msat) }
  return { status: 'pending' }
}

/** A hex payment hash as URL-safe base64, padded: how lnd's REST gateway reads a bytes path parameter. */
function hashInPath(paymentHash: string): string {
  const bytes = Uint8Array.from(paymentHash.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
}

/** The newline-delimited JSON messages of a streamed answer; the stream is cancelled when the reader stops early. */
async function* lines(response: Response): AsyncGenerator<string> {
  const reader = response.body?.getReader()
  const decoder = new TextDecoder()
  let buffered = ''
  try {
    for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader?.read()) {
      buffered += decoder.decode(chunk.value, { stream: true })
      if (buffered.length > 1 << 20) throw new Error('line too long')
      const parts = buffered.split('\n')
      buffered = parts.pop() ?? ''
      yield* parts.filter((part) => part.trim())
    }
    if (buffered.trim()) yield buffered
  } finally {
    reader?.cancel().catch(() => {})
  }
}
