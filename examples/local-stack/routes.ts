import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/** What a route handler sees: the request with its body already read. */
export type RouteRequest = {
  readonly method: string
  readonly url: URL
  readonly headers: IncomingHttpHeaders
  readonly body: Uint8Array
}

/** What a route handler answers; both resource servers write it the same way. */
export type RouteResponse = {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
}

export type RouteHandler = (request: RouteRequest) => RouteResponse | Promise<RouteResponse>

/** A priced route. The v2 server hands it to `@x402/express`; the v1 server prices it by hand. */
export type PaidRoute = {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** An exact path, e.g. `/weather`. */
  readonly path: string
  /** The price in the token's atomic units (6 decimals). */
  readonly amount: bigint
  /** Which of the stack's tokens the price is in. */
  readonly token: 'usdc' | 'unknownToken'
  readonly description?: string
  readonly handler: RouteHandler
}

/** A JSON response. */
export function json(value: unknown, status = 200): RouteResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) }
}

/**
 * Answers with the exact request bytes, their hex SHA-256 and the content type, so a test can prove
 * a paid replay sent the same body. `x-echo-content-type` is empty when the request had none.
 */
export const echo: RouteHandler = ({ method, headers, body }) => ({
  status: 200,
  headers: {
    'content-type': headers['content-type'] ?? 'application/octet-stream',
    'x-echo-content-type': headers['content-type'] ?? '',
    'x-echo-method': method,
    'x-echo-sha256': createHash('sha256').update(body).digest('hex'),
  },
  body,
})

/** The v2 server's routes unless a caller passes its own. */
export const defaultV2Routes: readonly PaidRoute[] = [
  {
    method: 'GET',
    path: '/weather',
    amount: 10_000n,
    token: 'usdc',
    description: 'Weather report',
    handler: () => json({ weather: 'sunny', temperature: 21 }),
  },
  {
    method: 'GET',
    path: '/report',
    amount: 50_000n,
    token: 'usdc',
    description: 'Market report',
    handler: () => json({ report: 'all quiet' }),
  },
  { method: 'POST', path: '/echo', amount: 10_000n, token: 'usdc', description: 'Echo', handler: echo },
  {
    method: 'GET',
    path: '/unknown-asset',
    amount: 10_000n,
    token: 'unknownToken',
    description: 'Priced in a token no allow-list knows',
    handler: () => json({ paidIn: 'Test Token' }),
  },
  {
    method: 'GET',
    path: '/pricey',
    amount: 5_000_000n,
    token: 'usdc',
    description: 'Costs 5 USDC, above default caps',
    handler: () => json({ pricey: true }),
  },
]

/** The v1 server's routes unless a caller passes its own. */
export const defaultV1Routes: readonly PaidRoute[] = [
  {
    method: 'GET',
    path: '/v1/weather',
    amount: 10_000n,
    token: 'usdc',
    description: 'Weather report (x402 v1)',
    handler: () => json({ weather: 'sunny', temperature: 21, x402Version: 1 }),
  },
]
