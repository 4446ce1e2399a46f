/**
 * What payfetch reads from an L402 token that is a version 2 binary macaroon (what Aperture and
 * lnd mint). Other tokens (Alby's signed JSON, v1 macaroons) stay opaque: `readMacaroon` returns
 * `undefined` for them.
 */
export type MacaroonSummary = {
  /** The payment hash of an identifier laid out as `uint16 version 0 ‖ payment_hash ‖ token_id`. */
  readonly paymentHash?: string | undefined
  /** The 32-byte token id of such an identifier, as hex. */
  readonly tokenId?: string | undefined
  /** Unix ms of the earliest `<service>_valid_until` (seconds) or `expiration` (ms) caveat. */
  readonly expiresAt?: number | undefined
}

/**
 * Reads a base64 token (standard or URL-safe, padded or not) as a V2 binary macaroon: the
 * identifier that follows the optional location field, and the first-party caveats that say when
 * it expires. Nothing is verified (the signature needs the server's root key); it is read to
 * compare the token's payment hash with the invoice's before paying.
 */
export function readMacaroon(token: string): MacaroonSummary | undefined {
  let binary: string
  try {
    binary = atob(token.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, ''))
  } catch {
    return undefined
  }
  // `02 ‖ [01 len location] ‖ 02 len identifier ‖ 00 ‖ caveats … ‖ 00 ‖ 06 20 signature`, lengths
  // as uvarints: one byte each for any location shorter than 128 bytes and a 66-byte identifier.
  const at = binary[1] === '\x01' && binary.charCodeAt(2) < 128 ? binary.charCodeAt(2) + 3 : 1
  if (binary[0] !== '\x02' || binary[at] !== '\x02') return undefined
  const identifier = binary.slice(at + 2, at + 2 + binary.charCodeAt(at + 1))
  const v0 = identifier.length === 66 && identifier.startsWith('\0\0')
  let expiresAt: number | undefined
  // Caveat ids are UTF-8 text in the binary; the digits end where the next field's tag byte starts.
  for (const [, seconds, ms] of binary.matchAll(/_valid_until=([0-9]{1,12})|expiration=([0-9]{1,15})/g)) {
    const time = seconds ? Number(seconds) * 1000 : Number(ms)
    expiresAt = Math.min(time, expiresAt ?? time)
  }
  return {
    paymentHash: v0 ? toHex(identifier.slice(2, 34)) : undefined,
    tokenId: v0 ? toHex(identifier.slice(34)) : undefined,
    expiresAt,
  }
}

function toHex(binary: string): string {
  return [...binary].map((char) => char.charCodeAt(0).toString(16).padStart(2, '0')).join('')
}
