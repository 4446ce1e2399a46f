/** A response body as a tool returns it: text (or base64 for binary types), cut at a limit. */
export type BodyText = { body: string; truncated: boolean; encoding?: 'base64' }

const textTypes = /^(?:text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded|graphql)\b)/i

/**
 * Reads at most what the limit needs and cancels the rest, so a huge answer never fills memory.
 * `maxChars` counts characters of text, or bytes of a binary body before base64. With
 * `keepPartial` (a paid answer), a body that stalls past the timeout or breaks off comes back cut,
 * as far as it arrived: the payment is known, and an error would read as an unknown outcome.
 */
export async function readBodyText(response: Response, maxChars: number, keepPartial = false): Promise<BodyText> {
  const type = response.headers.get('content-type') ?? ''
  const binary = type !== '' && !textTypes.test(type)
  // UTF-8 needs at most 4 bytes a character.
  const byteLimit = binary ? maxChars : maxChars * 4
  const { bytes, more } = await readUpTo(response, byteLimit + 1, keepPartial)
  if (binary) {
    const kept = bytes.subarray(0, maxChars)
    return { body: toBase64(kept), truncated: more || bytes.length > maxChars, encoding: 'base64' }
  }
  const text = new TextDecoder().decode(bytes.subarray(0, byteLimit))
  const chars = Array.from(text)
  const truncated = more || bytes.length > byteLimit || chars.length > maxChars
  return { body: chars.length > maxChars ? chars.slice(0, maxChars).join('') : text, truncated }
}

async function readUpTo(
  response: Response,
  limit: number,
  keepPartial: boolean,
): Promise<{ bytes: Uint8Array; more: boolean }> {
  if (!response.body) return { bytes: new Uint8Array(), more: false }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let length = 0
  let more = false
  while (true) {
    let read: ReadableStreamReadResult<Uint8Array>
    try {
      read = await reader.read()
    } catch (error) {
      if (!keepPartial) throw error
      more = true
      break
    }
    const { done, value } = read
    if (done) break
    chunks.push(value)
    length += value.length
    if (length >= limit) {
      more = true
      await reader.cancel().catch(() => {})
      break
    }
  }
  const bytes = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return { bytes: bytes.subarray(0, Math.min(length, limit)), more }
}

function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let index = 0; index < bytes.length; index += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(index, index + 0x8000))
  return btoa(binary)
}
