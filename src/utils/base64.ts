const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/

/** Standard padded base64 of the UTF-8 JSON of `value`, as x402 headers carry it. */
export function encodeBase64Json(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value))
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/** Decodes standard base64 UTF-8 JSON; `undefined` for anything else (base64url included). */
export function decodeBase64Json(text: string): unknown {
  const trimmed = text.trim()
  if (trimmed.length === 0 || trimmed.length % 4 !== 0 || !base64Pattern.test(trimmed)) return undefined
  try {
    const binary = atob(trimmed)
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0))
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown
  } catch {
    return undefined
  }
}
