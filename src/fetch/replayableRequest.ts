import { PayfetchError } from '../errors/PayfetchError.js'
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
  /** The caller's headers. */
  readonly headers: Headers
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
export async function captureRequest(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  maxBodyBytes: number,
): Promise<ReplayableRequest> {
  // The common call, a URL and a body already in memory, skips building a `Request`: fetch builds one anyway.
  if ((typeof input === 'string' || input instanceof URL) && inMemory(init?.body)) {
    const body = init?.body
    const headers = new Headers(init?.headers)
    if (typeof body === 'string' && !headers.has('content-type'))
      headers.set('content-type', 'text/plain;charset=UTF-8')
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
    return replayable(
      new URL(input, (globalThis as { location?: { href?: string } }).location?.href).href,
      normalizedMethods.has(method.toUpperCase()) ? method.toUpperCase() : method,
      init?.redirect ?? 'follow',
      init?.signal ?? undefined,
      headers,
      bytes,
      init ?? {},
    )
  }
  const request = new Request(input, init)
  // The caller's own stream: bounded by its size and the caller's signal, not by a deadline of ours.
  const body = request.body ? await readCapped(request.body, maxBodyBytes, { signal: request.signal }) : undefined
  if (request.body && body === undefined) throw tooLarge(maxBodyBytes)
  return replayable(request.url, request.method, request.redirect, request.signal, request.headers, body, {
    credentials: request.credentials,
    cache: request.cache,
    integrity: request.integrity,
    keepalive: request.keepalive,
    referrerPolicy: request.referrerPolicy,
    ...(request.referrer && request.referrer !== 'about:client' && { referrer: request.referrer }),
  })
}

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
    `The request body is larger than maxBodyBytes (${maxBodyBytes}) and could not be replayed after paying.`,
    { details: { maxBodyBytes } },
  )
}

/** `rest` holds the other `RequestInit` fields every send keeps (credentials, cache, a dispatcher…). */
function replayable(
  url: string,
  method: string,
  redirect: RequestRedirect,
  signal: AbortSignal | undefined,
  headers: Headers,
  body: Uint8Array<ArrayBuffer> | undefined,
  rest: RequestInit,
): ReplayableRequest {
  return {
    url,
    method,
    redirect,
    signal,
    headers,
    body,
    build(overrides = {}) {
      const to = overrides.url ?? url
      const sendMethod = overrides.method ?? method
      const sent = new Headers(headers)
      // The caller's own credentials stay with the origin they were given for, as fetch does on a
      // redirect: also when payfetch follows one by hand, or pays a 402 a redirect led to.
      if (to !== url && originOf(to) !== originOf(url)) for (const name of callerCredentials) sent.delete(name)
      for (const name of overrides.drop ?? []) sent.delete(name)
      for (const [name, value] of Object.entries(overrides.headers ?? {})) sent.set(name, value)
      // A redirect that turns the request into a GET drops the body and its type.
      const keepsBody = sendMethod === method
      if (!keepsBody) sent.delete('content-type')
      return [
        to,
        {
          ...rest,
          method: sendMethod,
          headers: sent,
          body: keepsBody ? (body ?? null) : null,
          redirect: overrides.redirect ?? redirect,
          signal: signal ?? null,
        },
      ]
    },
  }
}
