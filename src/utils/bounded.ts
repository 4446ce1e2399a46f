/** The promise, or a rejection once `timeoutMs` passes or `signal` aborts, whichever comes first. */
export function bounded<T>(
  promise: Promise<T>,
  { timeoutMs, signal }: { timeoutMs?: number | undefined; signal?: AbortSignal | undefined },
): Promise<T> {
  if (timeoutMs === undefined && !signal) return promise
  return new Promise<T>((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', aborted)
    }
    const aborted = () => {
      finish()
      reject(signal?.reason)
    }
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            finish()
            reject(new DOMException(`No answer within ${timeoutMs} ms.`, 'TimeoutError'))
          }, timeoutMs)
    // Handlers go on the promise first: one it settles later must not become an unhandled rejection.
    promise.then(
      (value) => {
        finish()
        resolve(value)
      },
      (error: unknown) => {
        finish()
        reject(error)
      },
    )
    if (signal?.aborted) return aborted()
    signal?.addEventListener('abort', aborted, { once: true })
  })
}
