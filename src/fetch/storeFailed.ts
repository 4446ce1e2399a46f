import { PayfetchError } from '../errors/PayfetchError.js'

/** A store that failed, and what the money did: `STORE_FAILED` with `details.paid`. */
export function storeFailed(
  store: 'ledger' | 'sessions',
  operation: string,
  paid: boolean | 'unknown',
  url: string,
  cause: unknown,
): PayfetchError {
  const moved =
    paid === true ? 'the payment went through' : paid === 'unknown' ? 'it may have gone through' : 'nothing was paid'
  return new PayfetchError('STORE_FAILED', `The ${store} failed (${operation}); ${moved}.`, {
    details: { url, store, operation, paid },
    cause,
  })
}
