import type { ServiceEntry } from 'payfetch/tools'

// A listing is read again at most this often: `list_services` may be called on every turn.
const freshMs = 60_000

/**
 * The catalog's services followed by the HTTP resources an x402 discovery service lists, read when
 * a service tool runs. A catalog entry keeps its name; a listed one with the same name is left out.
 * When the listing cannot be read, the catalog alone is served and `warn` says why; with no catalog,
 * the tool answers `DISCOVERY_FAILED`. `warn` gets one line without its newline.
 */
export function withDiscovery(
  catalog: readonly ServiceEntry[],
  discoveryUrl: string,
  warn: (line: string) => void,
  now: () => number = Date.now,
): () => Promise<ServiceEntry[]> {
  let cached: { at: number; services: ServiceEntry[] } | undefined
  return async () => {
    if (cached && now() - cached.at < freshMs) return cached.services
    const { discover, discoveredServices } = await import('payfetch/discovery')
    try {
      const names = new Set(catalog.map((entry) => entry.name))
      // No signal reaches here: discover()'s default timeoutMs (10 s for the one page the default
      // limit reads, answer and body) bounds what the MCP host waits.
      const listed = discoveredServices(await discover(discoveryUrl, { type: 'http' }))
      cached = { at: now(), services: [...catalog, ...listed.filter((entry) => !names.has(entry.name))] }
      return cached.services
    } catch (error) {
      if (catalog.length === 0) throw error
      const reason = (error as { shortMessage?: string }).shortMessage ?? 'the listing could not be read.'
      warn(`payfetch mcp: PAYFETCH_DISCOVERY_URL: ${reason} Serving the catalog alone.`)
      return [...catalog]
    }
  }
}
