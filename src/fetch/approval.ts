import { PayfetchError } from '../errors/PayfetchError.js'
import type { Offer } from '../offer/Offer.js'
import { bounded } from '../utils/bounded.js'

/** What a human or a policy service is asked to approve. */
export type ApprovalRequest = {
  readonly url: string
  readonly offer: Offer
  /** The payment in US dollars, when payfetch could value it. */
  readonly usd?: string | undefined
  /** The signer that would pay. */
  readonly signer: string
  /**
   * A payment channel's deposit this payment makes first (x402 `batch-settlement`): money put at
   * risk beyond the price, in the offer's atomic units, and in US dollars when valued.
   */
  readonly deposit?: { readonly amount: bigint; readonly usd?: string | undefined } | undefined
}

/** Asks before paying: resolve `true` to pay. Anything else, an error or a timeout denies. */
export type Approve = (request: ApprovalRequest) => boolean | Promise<boolean>

/** A service that approves payments: it receives the request as JSON and answers `{ "approved": true }`. */
export type PolicyWebhook = {
  readonly url: string
  /** Default 5 000 ms. */
  readonly timeoutMs?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * Runs the `approve` hook, then the policy webhook; either one failing, timing out or saying
 * anything but yes denies the payment. The caller's abort ends the wait at once.
 *
 * @throws {PayfetchError} `APPROVAL_DENIED` with the reason in `details.reason`; the signal's
 * reason when the caller aborts.
 */
export async function requireApproval(
  request: ApprovalRequest,
  hooks: {
    approve?: Approve | undefined
    approveTimeoutMs: number
    webhook?: PolicyWebhook | undefined
    fetch: typeof fetch
  },
  signal?: AbortSignal,
): Promise<void> {
  if (hooks.approve) {
    const approve = hooks.approve
    const verdict = await withTimeout(async () => approve(request), hooks.approveTimeoutMs, signal)
    if (verdict !== true)
      throw denied(
        request,
        verdict === 'timeout'
          ? 'the approve hook timed out'
          : verdict === 'error'
            ? 'the approve hook failed'
            : 'the approve hook said no',
      )
  }
  if (hooks.webhook) {
    const { url, timeoutMs = 5_000, headers = {} } = hooks.webhook
    const verdict = await withTimeout(
      async (signal) => {
        const response = await hooks.fetch(url, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          // Amounts (in the offer and its method) travel as decimal strings; the raw challenge stays home.
          body: JSON.stringify({ ...request, offer: { ...request.offer, raw: undefined } }, (_, value) =>
            typeof value === 'bigint' ? value.toString() : value,
          ),
          signal,
        })
        if (!response.ok) throw new Error(`HTTP ${response.status}`)
        const body = (await response.json()) as { approved?: unknown }
        return body.approved === true
      },
      timeoutMs,
      signal,
    )
    if (verdict !== true)
      throw denied(
        request,
        verdict === 'timeout'
          ? 'the policy webhook timed out'
          : verdict === 'error'
            ? 'the policy webhook failed'
            : 'the policy webhook said no',
      )
  }
}

async function withTimeout(
  work: (signal: AbortSignal) => Promise<boolean>,
  timeoutMs: number,
  caller: AbortSignal | undefined,
): Promise<boolean | 'timeout' | 'error'> {
  const controller = new AbortController()
  const stop = () => controller.abort(caller?.reason)
  caller?.addEventListener('abort', stop, { once: true })
  try {
    return await bounded(
      work(controller.signal).catch(() => 'error' as const),
      { timeoutMs, signal: caller },
    )
  } catch (error) {
    // The caller gave up: no verdict, and nothing will be paid.
    if (caller?.aborted) throw error
    controller.abort()
    return 'timeout'
  } finally {
    caller?.removeEventListener('abort', stop)
  }
}

function denied(request: ApprovalRequest, reason: string): PayfetchError {
  return new PayfetchError('APPROVAL_DENIED', `Payment not approved: ${reason}.`, {
    details: { url: request.url, reason, signer: request.signer },
  })
}
