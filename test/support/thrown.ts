import { PayfetchError } from '../../src/errors/PayfetchError.js'

/** The PayfetchError `run` throws; fails the test if it throws nothing or something else. */
export function thrownPayfetchError(run: () => unknown): PayfetchError {
  try {
    run()
  } catch (error) {
    if (error instanceof PayfetchError) return error
    throw error
  }
  throw new Error('expected a PayfetchError, nothing was thrown')
}

/** The PayfetchError `promise` rejects with; fails the test if it resolves or rejects with something else. */
export async function rejectedPayfetchError(promise: Promise<unknown>): Promise<PayfetchError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (error instanceof PayfetchError) return error
  throw new Error(`expected a PayfetchError, got ${String(error)}`)
}
