import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { type DiscoveryResource, type DiscoveryResourcesResponse, extractDiscoveryInfo } from '@x402/extensions'

/**
 * The discovery catalog of the x402 `bazaar` extension, as a facilitator keeps it: every resource a
 * settled payment declared discoverable, read with the reference `extractDiscoveryInfo`, listed in
 * the `GET /discovery/resources` shape `@x402/extensions`' `withBazaar` client reads.
 */
export type BazaarCatalog = {
  /** Records the resource a settled payment was for, when its payload declares `bazaar`. */
  record(payload: PaymentPayload, requirements: PaymentRequirements): void
  /** One page of the listing, filtered by `type`, as the query asks (`limit` at most 100). */
  list(query: URLSearchParams): DiscoveryResourcesResponse
}

export function createBazaarCatalog(): BazaarCatalog {
  const resources = new Map<string, DiscoveryResource>()
  return {
    record(payload, requirements) {
      const discovered = extractDiscoveryInfo(payload, requirements)
      if (!discovered) return
      const { resourceUrl, description, mimeType, x402Version, discoveryInfo, extensions } = discovered
      resources.set(resourceUrl, {
        resource: resourceUrl,
        type: discoveryInfo.input.type,
        x402Version,
        accepts: [requirements],
        lastUpdated: new Date().toISOString(),
        ...(description === undefined ? {} : { description }),
        ...(mimeType === undefined ? {} : { mimeType }),
        ...(extensions === undefined ? {} : { extensions }),
      })
    },
    list(query) {
      const type = query.get('type')
      const matching = [...resources.values()].filter((entry) => type === null || entry.type === type)
      const limit = Math.min(Number(query.get('limit') ?? 100) || 100, 100)
      const offset = Number(query.get('offset') ?? 0) || 0
      return {
        x402Version: 2,
        items: matching.slice(offset, offset + limit),
        pagination: { limit, offset, total: matching.length },
      }
    },
  }
}
