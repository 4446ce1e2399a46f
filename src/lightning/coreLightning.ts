import { PayfetchError } from '../errors/PayfetchError.js'
import { isRecord, textOf } from '../utils/guards.js'
import type { LightningWallet, PaymentStatus } from './LightningWallet.js'
import { outcomeUnknown, paymentFailed } from './walletErrors.js'
import { baseUrl, lookupRefused, msat, readJson, type WalletCall, walletRequest } from './walletRequest.js'

export type CoreLightningOptions = {
  /** The clnrest base URL, e.g. `https://127.0.0.1:3010`. */
  url: string
  /** A rune allowed to call `pay` and, for lookups, `listpays`. */
  rune: string
  /** The fetch to use, e.g. one that trusts clnrest's certificate. Default: the global `fetch`. */
  fetch?: typeof fetch | undefined
}

// `pay` errors that mean nothing was paid (lightning-pay(7)): already paid with another amount or
// destination, permanent failure at the destination, no route, route too expensive for `maxfee`,
// invoice expired, timed out with no payment in flight; and invalid parameters.
const notPaidCodes = new Set([201, 203, 205, 206, 207, 210, -32602])

/**
 * Pays through Core Lightning's REST plugin (`clnrest`): `POST /v1/pay` with `maxfee` (msat) and
 * `retry_for` (seconds), authorised by a `Rune` header. `pay` is idempotent for a paid invoice.
 * Looks a payment up with `POST /v1/listpays` by `payment_hash` (the rune must allow `listpays`).
 *
 * @example
 * ```ts
 * import { coreLightning, lightning } from 'payfetch/lightning'
 *
 * const signer = lightning({ wallet: coreLightning({ url: 'https://127.0.0.1:3010', rune: process.env.CLN_RUNE! }) })
 * ```
 */
export function coreLightning(options: CoreLightningOptions): LightningWallet {
  const base = baseUrl(options.url, 'coreLightning')
  if (typeof options.rune !== 'string' || !/^[-\w=+/.]+$/.test(options.rune))
    throw new PayfetchError('INVALID_OPTIONS', 'coreLightning() needs a rune.')
  const callFor = (paymentHash: string, signal: AbortSignal): WalletCall => ({
    wallet: 'coreLightning',
    paymentHash,
    signal,
    fetch: options.fetch ?? globalThis.fetch,
  })
  return {
    name: 'coreLightning',
    async payInvoice(invoice, { maxFeeMsat, signal, timeoutSeconds, paymentHash }) {
      const call = callFor(paymentHash, signal)
      const response = await walletRequest(
        call,
        `${base}/v1/pay`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', rune: options.rune },
          body: JSON.stringify({ bolt11: invoice, maxfee: Number(maxFeeMsat), retry_for: timeoutSeconds }),
        },
        false,
      )
      const body = await readJson(call, response)
      const report = {
        status: response.status,
        code: typeof body?.code === 'number' ? body.code : undefined,
        message: textOf(body?.message),
      }
      if (response.ok && body?.status === 'complete') {
        const sent = msat(body.amount_sent_msat)
        const amount = msat(body.amount_msat)
        return {
          preimage: textOf(body.payment_preimage),
          feeMsat: sent !== undefined && amount !== undefined ? sent - amount : undefined,
        }
      }
      if (response.ok && body?.status === 'failed')
        throw paymentFailed('coreLightning', 'the payment failed', paymentHash, report)
      if (
        response.status === 401 ||
        response.status === 403 ||
        (report.code !== undefined && notPaidCodes.has(report.code))
      )
        throw paymentFailed(
          'coreLightning',
          response.ok ? 'the payment failed' : 'it refused the request',
          paymentHash,
          report,
        )
      throw outcomeUnknown(
        'coreLightning',
        response.ok ? 'the payment is still pending' : `it answered ${response.status}`,
        paymentHash,
        report,
      )
    },
    // listpays groups the `pay` attempts for a hash: one complete means paid; failed only when
    // every attempt failed; none (not yet seen) or one still pending is pending.
    async lookupPayment(paymentHash, { signal }): Promise<PaymentStatus> {
      const call = callFor(paymentHash, signal)
      const response = await walletRequest(
        call,
        `${base}/v1/listpays`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', rune: options.rune },
          body: JSON.stringify({ payment_hash: paymentHash }),
        },
        true,
      )
      const body = await readJson(call, response)
      if (!response.ok)
        throw lookupRefused(call, response, {
          code: typeof body?.code === 'number' ? body.code : undefined,
          message: textOf(body?.message),
        })
      const pays = Array.isArray(body?.pays)
        ? body.pays.filter(
            (pay): pay is Record<string, unknown> =>
              isRecord(pay) && textOf(pay.payment_hash).toLowerCase() === paymentHash.toLowerCase(),
          )
        : []
      const complete = pays.find((pay) => pay.status === 'complete' && typeof pay.preimage === 'string')
      if (complete) {
        const sent = msat(complete.amount_sent_msat)
        const amount = msat(complete.amount_msat)
        return {
          status: 'paid',
          preimage: complete.preimage as string,
          feeMsat: sent !== undefined && amount !== undefined ? sent - amount : undefined,
        }
      }
      return pays.length > 0 && pays.every((pay) => pay.status === 'failed')
        ? { status: 'failed' }
        : { status: 'pending' }
    },
  }
}
