import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { RouteRequest } from './routes.js'

/** One request exactly as a test server received it. */
export type RecordedRequest = {
  readonly method: string
  /** Path and query, e.g. `/echo?x=1`. */
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: Uint8Array
  /** Hex SHA-256 of `body`, so a test can compare what a paid retry sent with the first try. */
  readonly bodySha256: string
}

/** Every request a server received, oldest first; grows live. */
export type RequestLog = {
  readonly all: readonly RecordedRequest[]
  /** The requests to one path (the query is ignored), oldest first. */
  to(pathname: string): RecordedRequest[]
  record(request: RouteRequest): RecordedRequest
}

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

export function createRequestLog(): RequestLog {
  const all: RecordedRequest[] = []
  return {
    all,
    to: (pathname) => all.filter((entry) => entry.path.split('?')[0] === pathname),
    record({ method, url, headers, body }) {
      const entry = { method, path: url.pathname + url.search, headers, body, bodySha256: sha256Hex(body) }
      all.push(entry)
      return entry
    },
  }
}
