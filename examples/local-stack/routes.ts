import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import {
  declareDiscoveryExtension,
  declareEip2612GasSponsoringExtension,
  declareErc20ApprovalGasSponsoringExtension,
} from '@x402/extensions'

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
  /**
   * The x402 scheme (v2 server only). Default `exact`; `upto` prices the ceiling and settles what the handler
   * says; `batch-settlement` is paid from a channel with cumulative vouchers, and charges what the handler says
   * (at most `amount`).
   */
  readonly scheme?: 'exact' | 'upto' | 'batch-settlement'
  /** `permit2`: an `exact` price paid through Permit2 and the x402 exact proxy (v2 server only). */
  readonly assetTransferMethod?: 'permit2'
  /** `upfront`: settled before the handler runs (v2 server only). Default `authorization`. */
  readonly paymentFlow?: 'upfront'
  /** Extensions the route declares in its 402 (gas sponsoring, …), v2 server only. */
  readonly extensions?: Readonly<Record<string, unknown>>
}

/**
 * What an `upto` or `batch-settlement` handler answers to charge less than the price: the
 * `Settlement-Overrides` header `@x402/express` reads (and strips) before it settles.
 */
export function charge(amount: bigint): Record<string, string> {
  return { 'settlement-overrides': JSON.stringify({ amount: amount.toString() }) }
}

const jsonHeaders = { 'content-type': 'application/json' }

/** A JSON response. */
export function json(value: unknown, status = 200): RouteResponse {
  return { status, headers: jsonHeaders, body: JSON.stringify(value) }
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
  {
    method: 'GET',
    path: '/permit2/weather',
    amount: 10_000n,
    token: 'usdc',
    assetTransferMethod: 'permit2',
    description: 'Weather report, paid through Permit2',
    handler: () => json({ weather: 'sunny', via: 'permit2' }),
  },
  {
    method: 'GET',
    path: '/permit2/eip2612',
    amount: 10_000n,
    token: 'usdc',
    assetTransferMethod: 'permit2',
    extensions: declareEip2612GasSponsoringExtension(),
    description: 'Paid through Permit2; the facilitator submits an EIP-2612 approval with it',
    handler: () => json({ weather: 'sunny', via: 'permit2+eip2612' }),
  },
  {
    method: 'GET',
    path: '/permit2/erc20-approval',
    amount: 10_000n,
    token: 'unknownToken',
    assetTransferMethod: 'permit2',
    extensions: declareErc20ApprovalGasSponsoringExtension(),
    description: "Paid through Permit2; the facilitator funds and broadcasts the payer's approval",
    handler: () => json({ weather: 'sunny', via: 'permit2+erc20-approval' }),
  },
  {
    method: 'GET',
    path: '/upto/tokens',
    amount: 50_000n,
    token: 'usdc',
    scheme: 'upto',
    description: 'Metered: up to 0.05 USDC, charged by ?charge=',
    handler: ({ url }) => ({
      ...json({ metered: true }),
      headers: { ...jsonHeaders, ...charge(BigInt(url.searchParams.get('charge') ?? '0')) },
    }),
  },
  {
    method: 'GET',
    path: '/discoverable/weather',
    amount: 10_000n,
    token: 'usdc',
    description: 'Weather report, listed in the bazaar',
    extensions: declareDiscoveryExtension({
      input: { city: 'Paris' },
      inputSchema: { properties: { city: { type: 'string' } }, required: ['city'] },
      output: { example: { weather: 'sunny', temperature: 21 } },
    }),
    handler: () => json({ weather: 'sunny', temperature: 21 }),
  },
  {
    method: 'GET',
    path: '/discoverable/forecast',
    amount: 30_000n,
    token: 'usdc',
    description: 'Five-day forecast, listed in the bazaar',
    extensions: declareDiscoveryExtension({ input: { city: 'Paris' }, output: { example: { days: [] } } }),
    handler: () => json({ days: ['sunny', 'sunny', 'rain', 'sunny', 'cloudy'] }),
  },
  {
    method: 'GET',
    path: '/upfront/weather',
    amount: 10_000n,
    token: 'usdc',
    paymentFlow: 'upfront',
    description: 'Settled before the handler runs',
    handler: () => json({ weather: 'sunny', flow: 'upfront' }),
  },
]

/**
 * The v2 server's `batch-settlement` routes unless a caller passes its own: one channel per payer serves
 * both (same receiver, token and authorizer).
 */
export const defaultBatchRoutes: readonly PaidRoute[] = [
  {
    method: 'GET',
    path: '/batch/weather',
    amount: 1_000n,
    token: 'usdc',
    scheme: 'batch-settlement',
    description: 'Weather report, 0.001 USDC a call from a payment channel',
    handler: () => json({ weather: 'sunny', via: 'batch-settlement' }),
  },
  {
    method: 'GET',
    path: '/batch/metered',
    amount: 5_000n,
    token: 'usdc',
    scheme: 'batch-settlement',
    description: 'Metered from a payment channel: up to 0.005 USDC a call, charged by ?charge= (default all)',
    handler: ({ url }) => {
      const charged = url.searchParams.get('charge')
      return {
        ...json({ metered: true, via: 'batch-settlement' }),
        headers: { ...jsonHeaders, ...(charged === null ? {} : charge(BigInt(charged))) },
      }
    },
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
