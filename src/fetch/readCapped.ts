/** What bounds a read besides its size: a deadline for the whole read, and the caller's signal. */
export type ReadWait = { readonly timeoutMs?: number | undefined; readonly signal?: AbortSignal | undefined }

/**
 * Reads a stream to the end, or stops at `maxBytes` and returns `undefined` (cancelling the rest),
 * so a hostile peer cannot make payfetch buffer without bound. A stream that trickles past
 * `timeoutMs` is cancelled and read as `undefined` too; an abort rejects with the signal's reason.
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  { timeoutMs, signal }: ReadWait = {},
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  signal?.throwIfAborted()
  const reader = stream.getReader()
  // One timer and one listener for the whole read: cancelling ends a pending read at once (done).
  let timedOut = false
  const stop = () => reader.cancel().catch(() => {})
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true
          stop()
        }, timeoutMs)
  signal?.addEventListener('abort', stop, { once: true })
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const next = await reader.read()
      // An abort is the caller's to see; past the deadline the body counts as absent.
      signal?.throwIfAborted()
      if (timedOut) return undefined
      if (next.done) break
      size += next.value.byteLength
      if (size > maxBytes) {
        await stop()
        return undefined
      }
      chunks.push(next.value)
    }
  } catch (error) {
    await stop()
    throw error
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', stop)
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}
