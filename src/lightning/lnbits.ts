import { PayfetchError } from '../errors/PayfetchError.js'
import { textOf } from '../utils/guards.js'
import { sleep } from './abortable.js'
import type { LightningWallet, PaidInvoice } from './LightningWallet.js'
import { outcomeUnknown, paymentFailed } from './walletErrors.js'
import { baseUrl, msat, readJson, unknownUnlessClassified, type WalletCall, walletRequest } from './walletRequest.js'

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
 * `X-Api-Key`, then `GET /api/v1/payments/{payment_hash}` until the payment settles or fails.
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
  return {
    name: 'lnbits',
    async payInvoice(invoice, { signal, paymentHash }) {
      const call: WalletCall = { wallet: 'lnbits', paymentHash, signal, fetch: options.fetch ?? globalThis.fetch }
      const headers = { 'content-type': 'application/json', 'x-api-key': options.adminKey }
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
          const settled = outcome(answer, paymentHash)
          if (settled) return settled
          await sleep(pollIntervalMs, signal)
          const lookup = await walletRequest(call, `${base}/api/v1/payments/${paymentHash}`, { headers }, true)
          answer = lookup.ok ? await readJson(call, lookup) : undefined
        }
      } catch (error) {
        unknownUnlessClassified(call, error, 'the payment lookup failed')
      }
    },
  }
}

// A POST answer or a lookup: newer LNbits report `status` (`success`, `pending`, `failed`) on the
// payment or its `details`; older ones only `paid`, with a preimage of zeros until it settles.
function outcome(answer: Record<string, unknown> | undefined, paymentHash: string): PaidInvoice | undefined {
  const details =
    typeof answer?.details === 'object' && answer.details !== null ? (answer.details as Record<string, unknown>) : {}
  const status = answer?.status ?? details.status
  if (status === 'failed') throw paymentFailed('lnbits', 'the payment failed', paymentHash)
  const preimage = answer?.preimage ?? details.preimage
  if (!(status === 'success' || answer?.paid === true) || typeof preimage !== 'string' || /^0*$/.test(preimage))
    return undefined
  const fee = msat(answer?.fee ?? details.fee)
  return { preimage, feeMsat: fee === undefined ? undefined : fee < 0n ? -fee : fee }
}
