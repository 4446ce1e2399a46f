import { PayfetchError } from '../errors/PayfetchError.js'
import { withFields } from '../utils/withFields.js'
import { originOf } from './context.js'
import { readCapped } from './readCapped.js'

const callerCredentials = ['authorization', 'cookie', 'proxy-authorization']
const normalizedMethods = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'])

/** A request captured once, so every send (first try, paid replay, redirects) has the same bytes. */
export type ReplayableRequest = {
  readonly url: string
  readonly method: string
  readonly redirect: RequestRedirect
  /** The caller's signal, when it gave one. */
  readonly signal: AbortSignal | undefined
  /**
   * A copy of the caller's headers as a send to `url` carries them: without the caller's own
   * credentials when `url` is another origin (what a pending payment keeps for its resume).
   */
  headersTo(url: string): Headers
  /** One of the caller's headers, read without copying them all when there are none. */
  header(name: string): string | null
  /** The captured body, when there is one. */
  readonly body: Uint8Array<ArrayBuffer> | undefined
  /** `fetch`'s arguments for one send. */
  build(overrides?: ReplayableRequest.Overrides): [url: string, init: RequestInit]
}

export declare namespace ReplayableRequest {
  type Overrides = {
    url?: string | undefined
    method?: string | undefined
    /** Headers to set on top of the caller's. */
    headers?: Record<string, string> | undefined
    /** Header names to remove (e.g. a proof on a cross-origin redirect). */
    drop?: readonly string[] | undefined
    redirect?: RequestRedirect | undefined
  }
}

/**
 * Captures `fetch`'s arguments, buffering the body (streams included) up to `maxBodyBytes`.
 *
 * @throws {PayfetchError} `REQUEST_TOO_LARGE` when the body is larger than `maxBodyBytes`.
 */
export function captureRequest(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  maxBodyBytes: number,
): ReplayableRequest | Promise<ReplayableRequest> {
  // The common call, a URL and a body already in memory, skips building a `Request` (fetch builds
  // one anyway) and is captured without waiting.
  if ((typeof input === 'string' || input instanceof URL) && inMemory(init?.body)) {
    const body = init?.body
    const bytes =
      body === undefined || body === null
        ? undefined
        : typeof body === 'string'
          ? new TextEncoder().encode(body)
          : // A copy: the caller may reuse its buffer once fetch returns.
            (ArrayBuffer.isView(body)
              ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
              : new Uint8Array(body)
            ).slice()
    if (bytes && bytes.byteLength > maxBodyBytes) throw tooLarge(maxBodyBytes)
    const method = init?.method ?? 'GET'
    return new Captured(
      absolute(input),
      normalizedMethods.has(method.toUpperCase()) ? method.toUpperCase() : method,
      init?.redirect ?? 'follow',
      init?.signal ?? undefined,
      // Copied now, as fetch does: the caller may change its own headers once the call is made.
      init?.headers === undefined && bytes === undefined ? undefined : headersOf(init?.headers, body),
      bytes,
      // A copy, as fetch reads the init when called: a caller may change or reuse it afterwards.
      Object.assign({}, init),
    )
  }
  return captureStream(new Request(input, init), maxBodyBytes)
}

function headersOf(given: HeadersInit | undefined, body: unknown): Headers {
  const headers = new Headers(given)
  if (typeof body === 'string' && !headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8')
  return headers
}

async function captureStream(request: Request, maxBodyBytes: number): Promise<ReplayableRequest> {
  // The caller's own stream: bounded by its size and the caller's signal, not by a deadline of ours.
  const body = request.body ? await readCapped(request.body, maxBodyBytes, { signal: request.signal }) : undefined
  if (request.body && body === undefined) throw tooLarge(maxBodyBytes)
  return new Captured(request.url, request.method, request.redirect, request.signal, request.headers, body, {
    credentials: request.credentials,
    cache: request.cache,
    integrity: request.integrity,
    keepalive: request.keepalive,
    referrerPolicy: request.referrerPolicy,
    ...(request.referrer && request.referrer !== 'about:client' && { referrer: request.referrer }),
  })
}

// A page resolves relative URLs against where it is now; calls repeat, so the last one is remembered.
function absolute(input: string | URL): string {
  if (input instanceof URL) return input.href
  const base = (globalThis as { location?: { href?: string } }).location?.href
  if (input !== lastUrl.input || base !== lastUrl.base) lastUrl = { input, base, href: new URL(input, base).href }
  return lastUrl.href
}

let lastUrl: { input: string; base: string | undefined; href: string } = { input: '', base: undefined, href: '' }

function inMemory(
  body: BodyInit | null | undefined,
): body is string | ArrayBuffer | ArrayBufferView<ArrayBuffer> | null | undefined {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  )
}

function tooLarge(maxBodyBytes: number): PayfetchError {
  return new PayfetchError(
    'REQUEST_TOO_LARGE',
    `The request body is over maxBodyBytes (${maxBodyBytes}): it could not be replayed.`,
    { details: { maxBodyBytes } },
  )
}

/**
 * `callerHeaders` is undefined when the caller sent none (and no body): nothing of theirs to copy or
 * strip. `rest` holds the other `RequestInit` fields every send keeps (credentials, cache, a
 * dispatcher…). A class: one object per call on the hot path.
 */
class Captured implements ReplayableRequest {
  constructor(
    readonly url: string,
    readonly method: string,
    readonly redirect: RequestRedirect,
    readonly signal: AbortSignal | undefined,
    private readonly callerHeaders: Headers | undefined,
    readonly body: Uint8Array<ArrayBuffer> | undefined,
    private readonly rest: RequestInit,
  ) {}

  headersTo(url: string): Headers {
    const headers = new Headers(this.callerHeaders)
    // The caller's own credentials stay with the origin they were given for, as fetch does on a
    // redirect: also when payfetch follows one by hand, pays a 402 a redirect led to, or resumes it.
    if (url !== this.url && originOf(url) !== originOf(this.url))
      for (const name of callerCredentials) headers.delete(name)
    return headers
  }

  header(name: string): string | null {
    return this.callerHeaders?.get(name) ?? null
  }

  build(overrides: ReplayableRequest.Overrides = {}): [url: string, init: RequestInit] {
    const to = overrides.url ?? this.url
    const method = overrides.method ?? this.method
    const redirect = overrides.redirect ?? this.redirect
    // Nothing to add or change: the caller's init as it was when the call started, as fetch would read it.
    if (!this.callerHeaders && !overrides.headers && method === this.method && redirect === this.redirect)
      return [to, this.rest]
    // A plain record is all fetch needs then.
    if (!this.callerHeaders) return [to, withFields(this.rest, { method, headers: { ...overrides.headers }, redirect })]
    const sent = this.headersTo(to)
    for (const name of overrides.drop ?? []) sent.delete(name)
    for (const [name, value] of Object.entries(overrides.headers ?? {})) sent.set(name, value)
    // A redirect that turns the request into a GET drops the body and its type.
    const keepsBody = method === this.method
    if (!keepsBody) sent.delete('content-type')
    const body = keepsBody ? (this.body ?? null) : null
    return [to, withFields(this.rest, { method, headers: sent, body, redirect, signal: this.signal ?? null })]
  }
}
