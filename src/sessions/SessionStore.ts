/**
 * Access a server grants again after one payment: an L402 token and its preimage, stored per
 * origin; or an x402 sign-in-with-x entitlement (protocol `x402-siwx`, no headers), stored per
 * origin and resource path under a key that is never an origin (`x402-siwx:https://host/path`).
 * Not the IETF `Payment` credential: that is the proof header of one request.
 */
export type SessionToken = {
  /** The protocol that issued it, e.g. `l402`. */
  readonly protocol: string
  /** The request headers that present it, e.g. `{ authorization: 'L402 …:…' }`. */
  readonly headers: Readonly<Record<string, string>>
  /** Unix time in milliseconds after which it is not sent any more. */
  readonly expiresAt?: number | undefined
  /** A sign-in-with-x entitlement: the address that paid (and may sign in) and the network it paid on. */
  readonly entitlement?: { readonly address: string; readonly network: string } | undefined
  /** A payment channel's state (protocol `x402-channel`, no headers), under a key that is never an origin. */
  readonly channel?: ChannelRecord | undefined
}

/**
 * What payfetch keeps about one x402 `batch-settlement` channel, so a restarted process (or another
 * one on the same sessions) continues it. Amounts are decimal strings of atomic units.
 */
export type ChannelRecord = {
  readonly channelId: string
  /** The address that deposits and signs vouchers. */
  readonly payer: string
  readonly salt: string
  /** Everything deposited so far. */
  readonly deposited: string
  /** What the server has charged in total, as checked from its answers. */
  readonly charged: string
  /** The highest voucher signed (`maxClaimableAmount`). */
  readonly signed: string
  /** A voucher was signed whose answer never came: the server may have charged it. */
  readonly open?: boolean | undefined
  /** Why the channel must not be used again (the server contradicted what was signed). */
  readonly unusable?: string | undefined
}

/**
 * Where session tokens live between calls: memory by default; file, browser storage and
 * Redis stores share them across restarts and processes. Keys are origins
 * (`https://api.example.com`), or `x402-siwx:` and an origin and path for sign-in-with-x
 * entitlements; a store never sees a request body or a wallet secret.
 */
export type SessionStore = {
  get(key: string): SessionToken | undefined | Promise<SessionToken | undefined>
  set(key: string, credential: SessionToken): void | Promise<void>
  delete(key: string): void | Promise<void>
  /**
   * Takes the lock named `key` for `ttlMs` unless another taker holds it: resolves to the lock,
   * or to `undefined` while someone else has it. A holder that dies without releasing frees it
   * when its TTL passes. payfetch takes it per origin before paying for a token (L402), so
   * processes sharing the store pay once and the others wait and reuse that token. Optional: a
   * store without it shares tokens only once they are stored.
   */
  lock?(key: string, ttlMs: number): Promise<SessionLock | undefined>
}

/** A lock taken with {@link SessionStore.lock}. */
export type SessionLock = {
  /** Extends the lock to `ttlMs` from now; `false` when it was lost (its TTL passed and another took it). */
  renew(): Promise<boolean>
  /** Lets go, if this taker still holds it. */
  release(): Promise<void>
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
  const locks = new Map<string, { holder: object; until: number }>()
  return {
    async lock(key, ttlMs) {
      const held = locks.get(key)
      if (held && held.until > Date.now()) return undefined
      const holder = {}
      locks.set(key, { holder, until: Date.now() + ttlMs })
      const mine = () => locks.get(key)?.holder === holder
      return {
        async renew() {
          if (!mine()) return false
          locks.set(key, { holder, until: Date.now() + ttlMs })
          return true
        },
        async release() {
          if (mine()) locks.delete(key)
        },
      }
    },
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
