import { PayfetchError } from '../errors/PayfetchError.js'
import { readCapped } from './readCapped.js'

const callerCredentials = ['authorization', 'cookie', 'proxy-authorization']

/** A request captured once, so every send (first try, paid replay, redirects) has the same bytes. */
export type ReplayableRequest = {
  readonly url: string
  readonly method: string
  readonly redirect: RequestRedirect
  readonly signal: AbortSignal
  /** The caller's headers. */
  readonly headers: Headers
  /** The captured body, when there is one. */
  readonly body: Uint8Array<ArrayBuffer> | undefined
  /** A fresh `Request` for one send. */
  build(overrides?: ReplayableRequest.Overrides): Request
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
  const request = new Request(input, init)
  // The caller's own stream: bounded by its size and the caller's signal, not by a deadline of ours.
  const body = request.body ? await readCapped(request.body, maxBodyBytes, { signal: request.signal }) : undefined
  if (request.body && body === undefined)
    throw new PayfetchError(
      'REQUEST_TOO_LARGE',
      `The request body is larger than maxBodyBytes (${maxBodyBytes}) and could not be replayed after paying.`,
      {
        details: { maxBodyBytes },
      },
    )
  return {
    url: request.url,
    method: request.method,
    redirect: request.redirect,
    signal: request.signal,
    headers: request.headers,
    body,
    build(overrides = {}) {
      const method = overrides.method ?? request.method
      const headers = new Headers(request.headers)
      // The caller's own credentials stay with the origin they were given for, as fetch does on a
      // redirect: also when payfetch follows one by hand, or pays a 402 a redirect led to.
      if (overrides.url !== undefined && new URL(overrides.url).origin !== new URL(request.url).origin)
        for (const name of callerCredentials) headers.delete(name)
      for (const name of overrides.drop ?? []) headers.delete(name)
      for (const [name, value] of Object.entries(overrides.headers ?? {})) headers.set(name, value)
      // A redirect that turns the request into a GET drops the body and its type.
      const keepsBody = method === request.method
      if (!keepsBody) headers.delete('content-type')
      const requestInit: RequestInit = {
        method,
        headers,
        redirect: overrides.redirect ?? request.redirect,
        signal: request.signal,
        credentials: request.credentials,
        cache: request.cache,
        integrity: request.integrity,
        keepalive: request.keepalive,
        referrerPolicy: request.referrerPolicy,
      }
      if (keepsBody && body !== undefined) requestInit.body = body
      if (request.referrer && request.referrer !== 'about:client') requestInit.referrer = request.referrer
      return new Request(overrides.url ?? request.url, requestInit)
    },
  }
}
