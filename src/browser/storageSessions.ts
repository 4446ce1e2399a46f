import type { SessionStore, SessionToken } from '../sessions/SessionStore.js'

/**
 * Sessions in Web Storage (`localStorage` by default), so a paid token survives a reload. Bearer
 * tokens in `localStorage` are readable by any script on the page: use `sessionStorage` or the
 * memory default where that matters.
 */
export function storageSessions(
  options: { storage?: Storage | undefined; prefix?: string | undefined } = {},
): SessionStore {
  const prefix = options.prefix ?? 'payfetch:session:'
  const storage = () => options.storage ?? (globalThis as { localStorage?: Storage }).localStorage
  return {
    get(key) {
      const raw = storage()?.getItem(prefix + key)
      const credential = raw ? (JSON.parse(raw) as SessionToken) : undefined
      if (credential?.expiresAt !== undefined && credential.expiresAt <= Date.now()) return undefined
      return credential
    },
    set(key, credential) {
      storage()?.setItem(prefix + key, JSON.stringify(credential))
    },
    delete(key) {
      storage()?.removeItem(prefix + key)
    },
  }
}
