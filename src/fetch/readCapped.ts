import { bounded } from '../utils/bounded.js'

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
  wait: ReadWait = {},
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  const deadline = wait.timeoutMs === undefined ? undefined : Date.now() + wait.timeoutMs
  let size = 0
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>
    try {
      const timeoutMs = deadline === undefined ? undefined : Math.max(0, deadline - Date.now())
      next = await bounded(reader.read(), { timeoutMs, signal: wait.signal })
    } catch (error) {
      await reader.cancel().catch(() => {})
      // Past the deadline the body counts as absent; an abort or a broken stream is the caller's to see.
      if (!wait.signal?.aborted && (error as Error)?.name === 'TimeoutError') return undefined
      throw error
    }
    if (next.done) break
    size += next.value.byteLength
    if (size > maxBytes) {
      await reader.cancel().catch(() => {})
      return undefined
    }
    chunks.push(next.value)
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}
