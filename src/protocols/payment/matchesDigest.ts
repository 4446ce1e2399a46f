import { base64ToBytes } from '../../utils/base64.js'

const algorithms: Readonly<Record<string, string>> = { 'sha-256': 'SHA-256', 'sha-512': 'SHA-512' }

/**
 * Whether `body` has the RFC 9530 digest a challenge names (`sha-256=:<base64>:`, several allowed):
 * every listed algorithm payfetch can compute must match, and at least one must be listed.
 */
export async function matchesDigest(digest: string, body: Uint8Array<ArrayBuffer> | undefined): Promise<boolean> {
  let checked = 0
  for (const [, name = '', value = ''] of digest.matchAll(/([a-z0-9-]+)=:([A-Za-z0-9+/]*={0,2}):/gi)) {
    const algorithm = algorithms[name.toLowerCase()]
    if (!algorithm) continue
    const expected = base64ToBytes(value)
    const actual = new Uint8Array(await crypto.subtle.digest(algorithm, body ?? new Uint8Array()))
    if (expected.length !== actual.length || expected.some((byte, index) => byte !== actual[index])) return false
    checked++
  }
  return checked > 0
}
