import { PayfetchError } from '../errors/PayfetchError.js'
import { readCapped } from '../fetch/readCapped.js'
import type { Offer } from '../offer/Offer.js'
import { decodeX402Message } from '../protocols/x402/decode.js'
import { bounded } from '../utils/bounded.js'
import { isRecord, isShortString, parseJson } from '../utils/guards.js'

/** One paid resource a discovery service lists, with its prices decoded as a 402 would be. */
export type DiscoveredResource = {
  /** The resource URL (for `http`) or identifier (for `mcp`). */
  readonly resource: string
  /** `http`, `mcp`, … as the listing says. */
  readonly type: string
  readonly x402Version: 1 | 2
  /** Every price of the resource the decoder understands, as one normalized `Offer` each. */
  readonly offers: readonly Offer[]
  /** The HTTP method the resource is called with, when the listing says (`bazaar` input). */
  readonly method?: string | undefined
  /** How a body method's body is written (`json`, `text`, `form-data`), when the listing says. */
  readonly bodyType?: string | undefined
  /** The listing's example query parameters, as a query string (`city=Paris`). Display only. */
  readonly queryExample?: string | undefined
  /** The server's words: for display only, never trusted. */
  readonly description?: string | undefined
  readonly mimeType?: string | undefined
  readonly serviceName?: string | undefined
  readonly tags?: readonly string[] | undefined
  /** When the listing last saw the resource (ISO 8601), as it says. */
  readonly lastUpdated?: string | undefined
}

export type DiscoverOptions = {
  /** Only resources of this type (`http`, `mcp`). */
  readonly type?: string | undefined
  /** At most this many resources, over as many pages as it takes. Default 100, at most 1 000. */
  readonly limit?: number | undefined
  /** The fetch to read the listing with. Default: the global `fetch`. */
  readonly fetch?: typeof fetch | undefined
  readonly signal?: AbortSignal | undefined
  /**
   * How long one page may take to arrive and be read (its answer and its whole body), in ms. Past it
   * the page is `DISCOVERY_FAILED` and its connection closed. Default 10 000.
   */
  readonly timeoutMs?: number | undefined
}

const pageSize = 100
const maxPageBytes = 2 * 1024 * 1024
const maxResources = 1000

/**
 * Lists the paid resources an x402 discovery service knows (the `bazaar` extension's
 * `GET /discovery/resources`, served by facilitators), with each resource's prices decoded into
 * offers. Reading a listing pays nothing and sends no proof; entries it cannot read are skipped.
 *
 * @example
 * ```ts
 * import { discover } from 'payfetch/discovery'
 *
 * const resources = await discover('https://facilitator.example.com', { type: 'http' })
 * for (const { resource, offers } of resources) console.log(resource, offers[0]?.amount, offers[0]?.network)
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` for a URL that is not http(s) or a bad limit;
 * `DISCOVERY_FAILED` when a page does not answer 200 with a listing payfetch can read within `timeoutMs`.
 */
export async function discover(service: string | URL, options: DiscoverOptions = {}): Promise<DiscoveredResource[]> {
  const base = listingUrl(service)
  const limit = options.limit ?? 100
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxResources)
    throw new PayfetchError('INVALID_OPTIONS', `discover(): limit must be a whole number from 1 to ${maxResources}.`)
  const found: DiscoveredResource[] = []
  // Pages until the listing's total, the caller's limit, or an empty page: a listing cannot keep us reading.
  for (let offset = 0; found.length < limit; ) {
    const url = new URL(base)
    if (options.type !== undefined) url.searchParams.set('type', options.type)
    url.searchParams.set('limit', String(Math.min(pageSize, limit - found.length)))
    url.searchParams.set('offset', String(offset))
    const page = await readPage(url, options)
    for (const item of page.items) {
      const resource = toResource(item)
      if (resource && found.length < limit) found.push(resource)
    }
    offset += page.items.length
    if (page.items.length === 0 || page.total === undefined || offset >= page.total) break
  }
  return found
}

function listingUrl(service: string | URL): URL {
  let url: URL
  try {
    url = new URL(service)
  } catch (cause) {
    throw new PayfetchError('INVALID_OPTIONS', 'discover() needs an absolute http(s) URL.', { cause })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new PayfetchError('INVALID_OPTIONS', 'discover() needs an absolute http(s) URL.', {
      details: { protocol: url.protocol },
    })
  // The service's base URL, or the listing's own.
  if (!url.pathname.endsWith('/discovery/resources'))
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/discovery/resources`
  url.search = ''
  return url
}

async function readPage(url: URL, options: DiscoverOptions): Promise<{ items: unknown[]; total: number | undefined }> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const failed = (reason: string, cause?: unknown) =>
    new PayfetchError('DISCOVERY_FAILED', `The discovery listing could not be read: ${reason}.`, {
      details: { url: `${url.origin}${url.pathname}` },
      cause,
    })
  // One deadline for the whole page (answer and body), joined with the caller's signal by hand:
  // AbortSignal.any is missing from Node 20.0–20.2 and from browsers before 2024.
  const caller = options.signal
  const bound = new AbortController()
  const abort = () => bound.abort(caller?.reason)
  const timer = setTimeout(
    () => bound.abort(new DOMException(`No answer within ${timeoutMs} ms.`, 'TimeoutError')),
    timeoutMs,
  )
  if (caller?.aborted) abort()
  caller?.addEventListener('abort', abort, { once: true })
  let body: unknown
  try {
    // The race holds the deadline even for a fetch that ignores its signal.
    const response = await bounded(
      (options.fetch ?? fetch)(url, { headers: { accept: 'application/json' }, signal: bound.signal }),
      { signal: bound.signal },
    )
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {})
      throw failed(`status ${response.status}`)
    }
    const bytes = response.body && (await readCapped(response.body, maxPageBytes, { signal: bound.signal }))
    body = bytes && parseJson(new TextDecoder().decode(bytes))
  } catch (cause) {
    if (caller?.aborted) throw caller.reason
    if (cause instanceof PayfetchError) throw cause
    throw failed(bound.signal.aborted ? `no answer within ${timeoutMs} ms` : 'no answer', cause)
  } finally {
    clearTimeout(timer)
    caller?.removeEventListener('abort', abort)
  }
  // `items` (list) or `resources` (search), as @x402/extensions reads them.
  const items = isRecord(body) ? (body.items ?? body.resources) : undefined
  if (!Array.isArray(items)) throw failed('not a JSON listing with items')
  const total = isRecord(body) && isRecord(body.pagination) ? body.pagination.total : undefined
  return { items, total: Number.isSafeInteger(total) ? (total as number) : undefined }
}

/** A listing entry as a resource, or `undefined` when it names no resource or no price payfetch reads. */
function toResource(item: unknown): DiscoveredResource | undefined {
  if (!isRecord(item) || !isShortString(item.resource, 2048)) return undefined
  const { resource, x402Version } = item
  if (x402Version !== 1 && x402Version !== 2) return undefined
  let offers: Offer[]
  try {
    offers = decodeX402Message({ x402Version, accepts: item.accepts, resource: { url: resource } }, resource)
  } catch {
    return undefined
  }
  const text = (value: unknown, max = 512) => (isShortString(value, max) ? value : undefined)
  const bazaar = isRecord(item.extensions) ? item.extensions.bazaar : undefined
  const input = isRecord(bazaar) && isRecord(bazaar.info) ? bazaar.info.input : undefined
  const tags = Array.isArray(item.tags) ? item.tags.filter((tag) => isShortString(tag, 64)).slice(0, 32) : undefined
  return {
    resource,
    type: text(item.type, 32) ?? 'http',
    x402Version,
    offers,
    method: isRecord(input) ? text(input.method, 16) : undefined,
    bodyType: isRecord(input) ? text(input.bodyType, 16) : undefined,
    queryExample: isRecord(input) ? queryString(input.queryParams) : undefined,
    description: text(item.description, 2048),
    mimeType: text(item.mimeType, 256),
    serviceName: text(item.serviceName),
    tags,
    lastUpdated: text(item.lastUpdated, 64),
  }
}

/** Example query parameters as a query string, when they are a flat object of short scalars. */
function queryString(params: unknown): string | undefined {
  if (!isRecord(params)) return undefined
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(params).slice(0, 32))
    if (['string', 'number', 'boolean'].includes(typeof value) && String(value).length <= 256)
      query.append(name, String(value))
  const text = query.toString()
  return text === '' || text.length > 1024 ? undefined : text
}
