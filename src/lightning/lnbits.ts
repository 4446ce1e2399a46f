import { PayfetchError } from '../errors/PayfetchError.js'
import { isRecord, textOf } from '../utils/guards.js'
import { sleep } from './abortable.js'
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

export type LnbitsOptions = {
  /** The LNbits base URL, e.g. `https://legend.lnbits.com`. */
  url: string
  /** The wallet's admin key (an invoice key cannot pay). */
  adminKey: string
  /** How often a pending payment is looked up, in ms. Default 500. */
  pollIntervalMs?: number | undefined
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: typeof fetch | undefined
}

/**
 * Pays through LNbits: `POST /api/v1/payments` with `{ out: true, bolt11 }` and the admin key in
 * `X-Api-Key`, then `GET /api/v1/payments/{payment_hash}` until the payment settles or fails; the
 * same `GET` looks a payment up.
 * LNbits takes no per-payment fee limit: its own fee reserve applies. Fees come back as negative
 * millisatoshis and are reported as positive ones.
 *
 * @example
 * ```ts
 * import { lightning, lnbits } from 'payfetch/lightning'
 *
 * const signer = lightning({ wallet: lnbits({ url: 'https://lnbits.example.com', adminKey: process.env.LNBITS_ADMIN_KEY! }) })
 * ```
 */
export function lnbits(options: LnbitsOptions): LightningWallet {
  const base = baseUrl(options.url, 'lnbits')
  if (typeof options.adminKey !== 'string' || !/^[-\w]+$/.test(options.adminKey))
    throw new PayfetchError('INVALID_OPTIONS', 'lnbits() needs the wallet admin key.')
  const pollIntervalMs = options.pollIntervalMs ?? 500
  const headers = { 'content-type': 'application/json', 'x-api-key': options.adminKey }
  const callFor = (paymentHash: string, signal: AbortSignal): WalletCall => ({
    wallet: 'lnbits',
    paymentHash,
    signal,
    fetch: options.fetch ?? globalThis.fetch,
  })
  return {
    name: 'lnbits',
    async payInvoice(invoice, { signal, paymentHash }) {
      const call = callFor(paymentHash, signal)
      const response = await walletRequest(
        call,
        `${base}/api/v1/payments`,
        { method: 'POST', headers, body: JSON.stringify({ out: true, bolt11: invoice }) },
        false,
      )
      const body = await readJson(call, response)
      if (!response.ok) {
        const report = { status: response.status, message: textOf(body?.detail) }
        // 520 is LNbits' PaymentError (the payment failed); 4xx refused the request.
        throw response.status < 500 || response.status === 520
          ? paymentFailed('lnbits', 'it refused or failed the payment', paymentHash, report)
          : outcomeUnknown('lnbits', `it answered ${response.status}`, paymentHash, report)
      }
      try {
        for (let answer = body; ; ) {
          const found = statusOf(answer, paymentHash)
          if (found.status === 'failed') throw paymentFailed('lnbits', 'the payment failed', paymentHash)
          if (found.status === 'paid') return found
          await sleep(pollIntervalMs, signal)
          const lookup = await walletRequest(call, `${base}/api/v1/payments/${paymentHash}`, { headers }, true)
          answer = lookup.ok ? await readJson(call, lookup) : undefined
        }
      } catch (error) {
        unknownUnlessClassified(call, error, 'the payment lookup failed')
      }
    },
    // A payment LNbits does not know (404) may still be on its way: pending, never failed.
    async lookupPayment(paymentHash, { signal }): Promise<PaymentStatus> {
      const call = callFor(paymentHash, signal)
      const response = await walletRequest(call, `${base}/api/v1/payments/${paymentHash}`, { headers }, true)
      const body = await readJson(call, response)
      if (response.status === 404) return { status: 'pending' }
      if (!response.ok) throw lookupRefused(call, response, { message: textOf(body?.detail) })
      return statusOf(body, paymentHash)
    },
  }
}

// A POST answer or a lookup: newer LNbits report `status` (`success`, `pending`, `failed`) on the
// answer or its `details`; older ones only `paid`, with a preimage of zeros until it settles. An
// answer about another payment, or an incoming one (a positive amount), is pending.
function statusOf(answer: Record<string, unknown> | undefined, paymentHash: string): PaymentStatus {
  const details = isRecord(answer?.details) ? answer.details : {}
  const hash = answer?.payment_hash ?? details.payment_hash
  const amount = msat(details.amount ?? answer?.amount)
  if ((hash !== undefined && textOf(hash).toLowerCase() !== paymentHash.toLowerCase()) || (amount ?? 0n) > 0n)
    return { status: 'pending' }
  const status = answer?.status ?? details.status
  const paid = status === 'success' || answer?.paid === true
  if (status === 'failed' && answer?.paid !== true) return { status: 'failed' }
  const preimage = answer?.preimage ?? details.preimage
  if (!paid || status === 'failed' || typeof preimage !== 'string' || /^0*$/.test(preimage))
    return { status: 'pending' }
  const fee = msat(answer?.fee ?? details.fee)
  return { status: 'paid', preimage, feeMsat: fee === undefined ? undefined : fee < 0n ? -fee : fee }
}
