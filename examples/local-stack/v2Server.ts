import { createServer } from 'node:http'
import type { RouteConfig } from '@x402/core/server'
import { HTTPFacilitatorClient } from '@x402/core/server'
import type { SchemeNetworkServer } from '@x402/core/types'
import { ExactEvmScheme } from '@x402/evm/exact/server'
import { UptoEvmScheme } from '@x402/evm/upto/server'
import { paymentMiddleware, x402ResourceServer } from '@x402/express'
import { bazaarResourceServerExtension } from '@x402/extensions'
import type { Address } from 'viem'
import { v2Network } from './constants.js'
import { createExpressApp, toExpress } from './express.js'
import { close, listen } from './http.js'
import type { InstalledContracts } from './installContracts.js'
import type { PaidRoute } from './routes.js'
import { json } from './routes.js'

export type ResourceServerOptions = {
  readonly facilitatorUrl: string
  readonly routes: readonly PaidRoute[]
  readonly tokens: InstalledContracts
  readonly payTo: Address
  /** More server schemes to register (the stack's `batch-settlement` scheme, which holds channel state). */
  readonly schemes?: readonly SchemeNetworkServer[]
}

export type ResourceServer = {
  readonly url: string
  close(): Promise<void>
}

/**
 * The x402 v2 reference resource server: `@x402/express`'s `paymentMiddleware` in front of the
 * routes, verifying and settling through the local facilitator. `GET /free` is never priced.
 */
export async function startV2Server(options: ResourceServerOptions): Promise<ResourceServer> {
  const { facilitatorUrl, routes, tokens, payTo } = options
  const resourceServer = new x402ResourceServer(new HTTPFacilitatorClient({ url: facilitatorUrl }))
    .register(v2Network, new ExactEvmScheme())
    .register(v2Network, new UptoEvmScheme())
    // Routes that declare `bazaar` get their HTTP method filled in, as the reference server does.
    .registerExtension(bazaarResourceServerExtension)
  for (const scheme of options.schemes ?? []) resourceServer.register(v2Network, scheme)

  const app = createExpressApp()
  const priceList = Object.fromEntries(routes.map((route) => [routeKey(route), priced(route, tokens, payTo)]))
  app.use(paymentMiddleware(priceList, resourceServer))
  app.get(
    '/free',
    toExpress(() => json({ free: true })),
  )
  for (const route of routes) app[lower(route.method)](route.path, toExpress(route.handler))

  const server = createServer(app)
  const url = await listen(server)
  return { url, close: () => close(server) }
}

function routeKey(route: PaidRoute): string {
  return `${route.method} ${route.path}`
}

// A custom asset needs an AssetAmount with its EIP-712 domain: x402 only turns "$0.01" into atomic
// units for assets it knows, and the domain is what the payer signs under.
function priced(route: PaidRoute, tokens: InstalledContracts, payTo: Address): RouteConfig {
  const token = tokens[route.token]
  const extra: Record<string, string> = { name: token.name, version: token.version }
  if (route.assetTransferMethod) extra.assetTransferMethod = route.assetTransferMethod
  if (route.paymentFlow) extra.paymentFlow = route.paymentFlow
  return {
    accepts: {
      scheme: route.scheme ?? 'exact',
      network: v2Network,
      payTo,
      maxTimeoutSeconds: 60,
      price: { amount: route.amount.toString(), asset: token.address, extra },
    },
    ...(route.description === undefined ? {} : { description: route.description }),
    ...(route.extensions === undefined ? {} : { extensions: { ...route.extensions } }),
    mimeType: 'application/json',
  }
}

function lower<M extends string>(method: M): Lowercase<M> {
  return method.toLowerCase() as Lowercase<M>
}
