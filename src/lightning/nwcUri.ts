import { PayfetchError } from '../errors/PayfetchError.js'

/** A Nostr Wallet Connect connection, read from its `nostr+walletconnect://` URI. */
export type NwcConnection = {
  /** The wallet service's public key, 64 hex characters. */
  readonly walletPubkey: string
  /** The relays to reach it through, `ws://` or `wss://`. */
  readonly relays: readonly string[]
  /** This client's secret key, 64 hex characters: it signs and encrypts the requests. */
  readonly secret: string
}

/**
 * Reads `nostr+walletconnect://<wallet pubkey>?relay=<url>&secret=<hex>` (NIP-47).
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` without repeating the URI, which holds a secret.
 */
export function parseNwcUri(uri: string): NwcConnection {
  let url: URL | undefined
  try {
    url = new URL(uri)
  } catch {}
  const walletPubkey = (url?.host || url?.pathname.replace(/^\/\//, '') || '').toLowerCase()
  const relays = url?.searchParams.getAll('relay').filter((relay) => /^wss?:\/\/./.test(relay)) ?? []
  const secret = url?.searchParams.get('secret')?.toLowerCase() ?? ''
  if (
    !url ||
    !/^nostr\+?walletconnect:$/.test(url.protocol) ||
    !/^[0-9a-f]{64}$/.test(walletPubkey) ||
    !/^[0-9a-f]{64}$/.test(secret) ||
    relays.length === 0
  )
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'nwc() needs a nostr+walletconnect:// URI with the wallet public key, at least one ws(s) relay and a 64-hex secret.',
    )
  return { walletPubkey, relays, secret }
}
