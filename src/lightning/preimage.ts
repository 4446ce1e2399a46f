/** A preimage as 64 lowercase hex characters, or `undefined` when `value` is not one. */
export function normalizePreimage(value: unknown): string | undefined {
  return typeof value === 'string' && /^[0-9a-fA-F]{64}$/.test(value) ? value.toLowerCase() : undefined
}

/** Whether `sha256(preimage) == paymentHash` (both hex), with the platform's WebCrypto. */
export async function preimageMatches(preimage: string, paymentHash: string): Promise<boolean> {
  const bytes = Uint8Array.from(preimage.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('') === paymentHash.toLowerCase()
}
