import { readCapped } from '../fetch/readCapped.js'
import { isRecord, parseJson } from '../utils/guards.js'
import { base64UrlBytes, keyOfJwk, keyOfMultibase, type PublicKey } from './publicKey.js'

/** What a JWS `kid` names: a key (did:key, did:jwk, did:web) or an EVM address (did:pkh). */
export type KidBinding = {
  /** The DID, without the fragment. */
  readonly did: string
  readonly key?: PublicKey | undefined
  readonly address?: string | undefined
  /** The key came from the DID document of this host (did:web), fetched from the 402's own origin. */
  readonly webHost?: string | undefined
}

/** How did:web documents are fetched: from the origin that asked for payment, bounded, at most once a while. */
export type DidWebReader = {
  readonly fetch: typeof fetch
  /** The URL that asked for payment: the only origin a DID document is fetched from. */
  readonly url: string
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
  /** Documents (or why none) by URL, for this checker's lifetime of `cacheMs`. */
  readonly cache: Map<string, { until: number; document: Promise<unknown> }>
}

const maxDocumentBytes = 16 * 1024
const cacheMs = 5 * 60_000

/**
 * The key or address a `kid` names, a sentence saying why it names none, or `undefined` when it is
 * not resolvable here (another DID method, or did:web without a reader or on another origin).
 */
export async function resolveKid(kid: string, web: DidWebReader | undefined): Promise<KidBinding | string | undefined> {
  const [did = '', fragment] = kid.split('#')
  const [scheme, method, ...rest] = did.split(':')
  const identifier = rest.join(':')
  if (scheme !== 'did' || identifier.length === 0) return undefined
  if (method === 'key') {
    const key = keyOfMultibase(identifier)
    return typeof key === 'string' ? `did:key: ${key}` : { did, key }
  }
  if (method === 'jwk') {
    const bytes = base64UrlBytes(identifier)
    const key = keyOfJwk(bytes && parseJson(new TextDecoder().decode(bytes)))
    return typeof key === 'string' ? `did:jwk: ${key}` : { did, key }
  }
  if (method === 'pkh') {
    // did:pkh:eip155:<chain>:<address>: an account, proven by recovering the ES256K key.
    const match = /^eip155:[0-9]{1,16}:(0x[0-9a-fA-F]{40})$/.exec(identifier)
    return match ? { did, address: match[1] } : undefined
  }
  if (method !== 'web' || !web) return undefined
  const [hostPart = '', ...path] = identifier.split(':')
  let host: string
  try {
    host = decodeURIComponent(hostPart).toLowerCase()
  } catch {
    return 'did:web: the host is not readable'
  }
  const origin = new URL(web.url)
  if (host !== origin.host) return undefined
  const documentUrl = `${origin.origin}/${path.length > 0 ? `${path.join('/')}/did.json` : '.well-known/did.json'}`
  const document = await cachedDocument(documentUrl, web)
  if (typeof document === 'string') return `did:web: ${document}`
  if (!isRecord(document) || document.id !== did) return 'did:web: the DID document is not for this DID'
  const methods = Array.isArray(document.verificationMethod) ? document.verificationMethod : []
  const found = methods.find(
    (entry) => isRecord(entry) && (entry.id === kid || (fragment !== undefined && entry.id === `#${fragment}`)),
  )
  if (!isRecord(found)) return 'did:web: the DID document lists no such key'
  const key =
    found.publicKeyJwk !== undefined
      ? keyOfJwk(found.publicKeyJwk)
      : typeof found.publicKeyMultibase === 'string'
        ? keyOfMultibase(found.publicKeyMultibase)
        : 'no public key'
  return typeof key === 'string' ? `did:web: ${key}` : { did, key, webHost: host }
}

function cachedDocument(url: string, web: DidWebReader): Promise<unknown> {
  const now = Date.now()
  const cached = web.cache.get(url)
  if (cached && cached.until > now) return cached.document
  const document = fetchDocument(url, web)
  web.cache.set(url, { until: now + cacheMs, document })
  return document
}

/** The DID document at `url`, or why not; never follows a redirect, never waits past `timeoutMs`. */
async function fetchDocument(url: string, { fetch, timeoutMs, signal }: DidWebReader): Promise<unknown> {
  const timeout = AbortSignal.timeout(timeoutMs)
  try {
    const response = await fetch(url, {
      headers: { accept: 'application/did+json, application/json' },
      redirect: 'error',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    })
    if (response.status !== 200 || !response.body) return `the DID document answered ${response.status}`
    const bytes = await readCapped(response.body, maxDocumentBytes, { timeoutMs, signal })
    if (!bytes) return 'the DID document is too large or too slow'
    return parseJson(new TextDecoder().decode(bytes)) ?? 'the DID document is not JSON'
  } catch {
    return 'the DID document could not be fetched'
  }
}
