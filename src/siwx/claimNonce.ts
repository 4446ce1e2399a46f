// One record per realm, shared by every copy of payfetch loaded (ESM and CJS builds of each
// subpath): "this process signed it" must hold whichever copy signed.
const registry = Symbol.for('payfetch.siwxNonces')
const realm = globalThis as { [registry]?: Set<string> }
realm[registry] ??= new Set()
const signed = realm[registry]

// Oldest forgotten first past this: a challenge older than 5 minutes is refused anyway.
const maxRemembered = 10_000

/**
 * Records that this process is about to sign `nonce`: `false` when it signed it before (a server,
 * or someone between, replaying an old challenge), and then nothing may be signed. Synchronous, so
 * two calls racing on one nonce cannot both claim it.
 */
export function claimNonce(nonce: string): boolean {
  if (signed.has(nonce)) return false
  signed.add(nonce)
  if (signed.size > maxRemembered) signed.delete(signed.values().next().value as string)
  return true
}
