import type { SessionLock, SessionStore, SessionToken } from '../sessions/SessionStore.js'

/**
 * Sessions in Web Storage (`localStorage` by default), so a paid token survives a reload. Bearer
 * tokens in `localStorage` are readable by any script on the page: use `sessionStorage` or the
 * memory default where that matters.
 *
 * Its lock (taken per origin before paying for a token) is a Web Lock (`navigator.locks`), which
 * the browser holds for one tab at a time across an origin's tabs and frees when that tab closes
 * or crashes, so no TTL is needed. Without Web Locks every lock is granted: each tab pays for its
 * own token until one is stored.
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
    async lock(key) {
      const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
      const free = { renew: async () => true, release: async () => {} }
      if (!locks) return free
      return new Promise<SessionLock | undefined>((resolve, reject) => {
        locks
          .request(`${prefix}lock:${key}`, { ifAvailable: true }, (granted) => {
            if (!granted) return resolve(undefined)
            // Held until released: the callback's promise is the lock's life.
            return new Promise<void>((letGo) => resolve({ renew: async () => true, release: async () => letGo() }))
          })
          .catch(reject)
      })
    },
  }
}
