import { parseJson } from './guards.js'

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/

/** Standard padded base64 of bytes. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = ''
  // In slices: spreading a large array into one call would overflow the stack.
  for (let start = 0; start < bytes.length; start += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000))
  return btoa(binary)
}

/** Bytes of standard base64 (throws on anything else). */
export function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index)
  return bytes
}

// ASCII text is its own UTF-8 (and its own latin-1, what btoa and atob speak): no bytes in between.
const nonAscii = /[\u0080-\uffff]/

/** Standard padded base64 of the UTF-8 JSON of `value`, as x402 headers carry it. */
export function encodeBase64Json(value: unknown): string {
  const json = JSON.stringify(value)
  return nonAscii.test(json) ? bytesToBase64(new TextEncoder().encode(json)) : btoa(json)
}

/** Decodes standard base64 UTF-8 JSON; `undefined` for anything else (base64url included). */
export function decodeBase64Json(text: string): unknown {
  const trimmed = text.trim()
  if (trimmed.length === 0 || trimmed.length % 4 !== 0 || !base64Pattern.test(trimmed)) return undefined
  try {
    const binary = atob(trimmed)
    return parseJson(
      nonAscii.test(binary) ? new TextDecoder('utf-8', { fatal: true }).decode(base64ToBytes(trimmed)) : binary,
    )
  } catch {
    return undefined
  }
}

/** base64url without padding of the UTF-8 JSON of `value`, as the `Payment` scheme carries it. */
export function encodeBase64UrlJson(value: unknown): string {
  return encodeBase64Json(value).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
}

/** Decodes base64url (padded or not) UTF-8 JSON; `undefined` for anything else. */
export function decodeBase64UrlJson(text: string): unknown {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) return undefined
  const base64 = text.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '')
  return decodeBase64Json(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='))
}
