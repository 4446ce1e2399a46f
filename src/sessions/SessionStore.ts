/**
 * Access a server grants again after one payment (an L402 token and its preimage), stored per origin.
 * Not the IETF `Payment` credential: that is the proof header of one request.
 */
export type SessionToken = {
  /** The protocol that issued it, e.g. `l402`. */
  readonly protocol: string
  /** The request headers that present it, e.g. `{ authorization: 'L402 …:…' }`. */
  readonly headers: Readonly<Record<string, string>>
  /** Unix time in milliseconds after which it is not sent any more. */
  readonly expiresAt?: number | undefined
}

/**
 * Where session tokens live between calls: memory by default; file, browser storage and
 * Redis stores share them across restarts and processes. Keys are origins
 * (`https://api.example.com`); a store never sees a request body or a wallet secret.
 */
export type SessionStore = {
  get(key: string): SessionToken | undefined | Promise<SessionToken | undefined>
  set(key: string, credential: SessionToken): void | Promise<void>
  delete(key: string): void | Promise<void>
}

/**
 * The default session store: a `Map` in this process, expiring credentials on read.
 *
 * @example
 * ```ts
 * import { createPayingFetch, memorySessions } from 'payfetch'
 *
 * const sessions = memorySessions()
 * const fetchPaid = createPayingFetch({ signers, sessions })
 * ```
 */
export function memorySessions(): SessionStore {
  const credentials = new Map<string, SessionToken>()
  return {
    get(key) {
      const credential = credentials.get(key)
      if (credential?.expiresAt !== undefined && credential.expiresAt <= Date.now()) {
        credentials.delete(key)
        return undefined
      }
      return credential
    },
    set(key, credential) {
      credentials.set(key, credential)
    },
    delete(key) {
      credentials.delete(key)
    },
  }
}
