import type { KyInstance, Options } from 'ky'
import type { CallLimits } from '../caps/policy.js'
import { isPayfetchError } from '../errors/PayfetchError.js'
import type { PayingFetch } from '../fetch/createPayingFetch.js'
import { getReceipt } from '../receipts/Receipt.js'

/** Per-request limits a ky call may add; they only lower the paying fetch's caps. */
export type PaidKyLimits = CallLimits

const limitsKey = 'payfetch'

/**
 * Returns a ky instance whose requests pay 402s through `fetchPaid`, and whose own retries never
 * pay twice:
 * - every request carries one `Idempotency-Key` (yours, or one made before the first attempt), so
 *   a retry after a lost or failed paid answer finishes that payment instead of paying again;
 * - ky never retries a response that was paid for, nor a payfetch error (a refusal, a rejected
 *   or unknown payment).
 *
 * ky's `timeout` (10 s by default) bounds each attempt including the payment: raise it for slow
 * chains or wallets. The instance's `retry.shouldRetry` is replaced by the guard.
 *
 * @example
 * ```ts
 * import ky from 'ky'
 * import { withPayments, payLimits } from 'payfetch/ky'
 *
 * const api = withPayments(ky.create({ prefixUrl: 'https://api.example.com', timeout: 30_000 }), fetchPaid)
 * const report = await api.get('report', payLimits({ maxUsd: '0.05' })).json()
 * ```
 */
export function withPayments(instance: KyInstance, fetchPaid: PayingFetch): KyInstance {
  const paidFetch = (input: Request | URL | string, init?: RequestInit): Promise<Response> => {
    const { [limitsKey]: limits, ...rest } = (init ?? {}) as RequestInit & { [limitsKey]?: PaidKyLimits }
    return (limits ? fetchPaid.withLimits(limits) : fetchPaid)(input, rest)
  }
  return instance.extend({
    fetch: paidFetch,
    hooks: {
      beforeRequest: [
        (request) => {
          if (!request.headers.has('idempotency-key')) request.headers.set('idempotency-key', crypto.randomUUID())
        },
      ],
    },
    retry: {
      shouldRetry: ({ error }) => {
        if (isPayfetchError(error)) return false
        const response = (error as { response?: unknown }).response
        if (response instanceof Response && getReceipt(response)) return false
        return undefined
      },
    },
  })
}

/**
 * ky options that lower this request's payment limit, e.g. `api.get(url, payLimits({ maxUsd: '0.05' }))`.
 * They reach the paying fetch as an option ky does not know, which ky passes through.
 *
 * @example
 * ```ts
 * await api.post('summarize', { ...payLimits({ maxUsd: '0.02' }), json: { text } })
 * ```
 */
export function payLimits(limits: PaidKyLimits): Options {
  return { [limitsKey]: limits } as Options
}
