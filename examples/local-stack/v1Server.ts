import { v1Network } from './constants.js'
import type { ResourceServer, ResourceServerOptions } from './v2Server.js'
import { startX402V1Server } from './x402V1Server.js'

/** The EVM stack's x402 v1 server: `base-sepolia`, priced in the stack's EIP-3009 tokens. */
export async function startV1Server(options: ResourceServerOptions): Promise<ResourceServer> {
  const { facilitatorUrl, routes, tokens, payTo } = options
  return startX402V1Server({
    facilitatorUrl,
    routes,
    requirementsFor: (route, baseUrl) => {
      const token = tokens[route.token]
      return {
        scheme: 'exact',
        network: v1Network,
        maxAmountRequired: route.amount.toString(),
        asset: token.address,
        payTo,
        resource: `${baseUrl}${route.path}`,
        description: route.description ?? '',
        mimeType: 'application/json',
        maxTimeoutSeconds: 60,
        extra: { name: token.name, version: token.version },
      }
    },
  })
}
