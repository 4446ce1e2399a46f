import { createServer } from 'node:http'
import type { Address } from '@solana/kit'
import type { RouteConfig } from '@x402/core/server'
import { HTTPFacilitatorClient } from '@x402/core/server'
import type { Network } from '@x402/core/types'
import { paymentMiddleware, x402ResourceServer } from '@x402/express'
import { ExactSvmScheme } from '@x402/svm/exact/server'
import { createExpressApp, toExpress } from './express.js'
import { close, listen } from './http.js'
import type { RouteHandler } from './routes.js'
import { echo, json } from './routes.js'
import type { SolanaToken } from './solanaChain.js'
import { startX402V1Server } from './x402V1Server.js'

/** The stack's tokens, by the name routes use. */
export type SolanaTokens = {
  readonly usdc: SolanaToken
  readonly localToken: SolanaToken
  readonly token2022: SolanaToken
}

/** A priced route on the Solana servers. */
export type SolanaRoute = {
  readonly method: 'GET' | 'POST'
  /** An exact path, e.g. `/weather`. */
  readonly path: string
  /** The price in the token's atomic units. */
  readonly amount: bigint
  readonly token: keyof SolanaTokens
  /** A memo the server requires in the payment (`extra.memo`); facilitators check it byte for byte. */
  readonly memo?: string
  readonly description?: string
  readonly handler: RouteHandler
}

/** The routes of every Solana server unless a caller passes its own. */
export const defaultSolanaRoutes: readonly SolanaRoute[] = [
  {
    method: 'GET',
    path: '/weather',
    amount: 10_000n,
    token: 'usdc',
    description: 'Weather report',
    handler: () => json({ weather: 'sunny', temperature: 21, chain: 'solana' }),
  },
  { method: 'POST', path: '/echo', amount: 10_000n, token: 'usdc', description: 'Echo', handler: echo },
  {
    method: 'GET',
    path: '/local',
    amount: 50_000n,
    token: 'localToken',
    description: 'Priced in a mint no default list knows',
    handler: () => json({ paidIn: 'LOCAL' }),
  },
  {
    method: 'GET',
    path: '/token-2022',
    amount: 2_500_000n,
    token: 'token2022',
    description: 'Priced in a Token-2022 mint (9 decimals)',
    handler: () => json({ paidIn: 'T22' }),
  },
  {
    method: 'GET',
    path: '/invoice',
    amount: 20_000n,
    token: 'usdc',
    memo: 'invoice 42 ✓',
    description: 'The server names the memo',
    handler: () => json({ invoice: 42 }),
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

export type SolanaServerOptions = {
  readonly facilitatorUrl: string
  readonly network: string
  readonly routes: readonly SolanaRoute[]
  readonly tokens: SolanaTokens
  readonly payTo: Address
  /** When set, the reference server reads a blockhash there and sends it in `extra.recentBlockhash`. */
  readonly rpcUrl?: string | undefined
}

export type SolanaResourceServer = { readonly url: string; close(): Promise<void> }

/**
 * The x402 v2 reference resource server for Solana: `@x402/express`'s `paymentMiddleware` with
 * `@x402/svm`'s server scheme, verifying and settling through the local facilitator, which also
 * supplies `extra.feePayer`. `GET /free` is never priced.
 */
export async function startSolanaV2Server(options: SolanaServerOptions): Promise<SolanaResourceServer> {
  const { routes, tokens, payTo, network } = options
  const scheme = new ExactSvmScheme(options.rpcUrl === undefined ? {} : { rpcUrl: options.rpcUrl })
  const resourceServer = new x402ResourceServer(new HTTPFacilitatorClient({ url: options.facilitatorUrl })).register(
    network as Network,
    scheme,
  )
  const app = createExpressApp()
  const priceList = Object.fromEntries(
    routes.map((route): [string, RouteConfig] => [
      `${route.method} ${route.path}`,
      priced(route, tokens, payTo, network),
    ]),
  )
  app.use(paymentMiddleware(priceList, resourceServer))
  app.get(
    '/free',
    toExpress(() => json({ free: true })),
  )
  for (const route of routes) app[route.method === 'GET' ? 'get' : 'post'](route.path, toExpress(route.handler))
  const server = createServer(app)
  const url = await listen(server)
  return { url, close: () => close(server) }
}

function priced(route: SolanaRoute, tokens: SolanaTokens, payTo: Address, network: string): RouteConfig {
  return {
    accepts: {
      scheme: 'exact',
      network: network as Network,
      payTo,
      maxTimeoutSeconds: 60,
      price: {
        amount: route.amount.toString(),
        asset: tokens[route.token].mint,
        extra: route.memo === undefined ? {} : { memo: route.memo },
      },
    },
    ...(route.description === undefined ? {} : { description: route.description }),
    mimeType: 'application/json',
  }
}

/**
 * An x402 v1 resource server for Solana (`solana-devnet`), written against the v1 wire format: a
 * JSON 402 body, `X-PAYMENT` in, `X-PAYMENT-RESPONSE` out, verify and settle through the local
 * facilitator's v1 scheme. Its fee payer comes from the facilitator's `/supported`.
 */
export async function startSolanaV1Server(
  options: SolanaServerOptions & { readonly v1Network: string },
): Promise<SolanaResourceServer> {
  const { facilitatorUrl, routes, tokens, payTo, v1Network } = options
  const supported = (await (await fetch(`${facilitatorUrl}/supported`)).json()) as {
    kinds: { x402Version: number; network: string; extra?: { feePayer?: string } }[]
  }
  const feePayer = supported.kinds.find((kind) => kind.x402Version === 1 && kind.network === v1Network)?.extra?.feePayer
  if (!feePayer) throw new Error(`the facilitator offers no v1 fee payer for ${v1Network}`)
  return startX402V1Server({
    facilitatorUrl,
    routes,
    requirementsFor: (route, baseUrl) => ({
      scheme: 'exact',
      network: v1Network,
      maxAmountRequired: route.amount.toString(),
      asset: tokens[route.token].mint,
      payTo,
      resource: `${baseUrl}${route.path}`,
      description: route.description ?? '',
      mimeType: 'application/json',
      maxTimeoutSeconds: 60,
      extra: route.memo === undefined ? { feePayer } : { feePayer, memo: route.memo },
    }),
  })
}
