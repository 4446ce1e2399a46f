import type { ServiceEntry } from '../tools/serviceCatalog.js'
import type { DiscoveredResource } from './discover.js'

const bodyTypes: Readonly<Record<string, string>> = { json: 'application/json', text: 'text/plain' }

/**
 * The HTTP resources of a discovery listing as service catalog entries, for the agent tools'
 * `list_services` and `call_service`: a query method takes the agent's input as a query string, a
 * body method as its body. Names come from the listing's service name or the resource's host and
 * path, made unique; resources whose input payfetch cannot write (form data) are left out. The
 * listing's words stay display only: prices are read live from each 402 when listed.
 *
 * @example
 * ```ts
 * import { discover, discoveredServices } from 'payfetch/discovery'
 * import { createPayfetchTools } from 'payfetch/tools'
 *
 * const services = discoveredServices(await discover('https://facilitator.example.com', { type: 'http' }))
 * const tools = createPayfetchTools({ payfetch: { signers: [] }, services })
 * ```
 */
export function discoveredServices(resources: readonly DiscoveredResource[]): ServiceEntry[] {
  const taken = new Set<string>()
  const services: ServiceEntry[] = []
  for (const resource of resources) {
    const url = httpUrl(resource)
    if (!url || resource.type !== 'http') continue
    const method = (resource.method ?? 'GET').toUpperCase()
    const queryMethod = method === 'GET' || method === 'HEAD' || method === 'DELETE'
    const contentType = queryMethod ? undefined : bodyTypes[resource.bodyType ?? 'json']
    if (!queryMethod && !contentType) continue
    const hint = queryMethod
      ? `input: a query string${resource.queryExample ? `, e.g. ${resource.queryExample}` : ''}`
      : `input: the ${resource.bodyType ?? 'json'} request body`
    services.push({
      name: uniqueName(resource.serviceName ?? `${url.host}${url.pathname}`, taken),
      description: resource.description ? `${resource.description} (${hint})` : `(${hint})`,
      url: url.href,
      method,
      ...(queryMethod
        ? { inputIn: 'query' as const }
        : { body: '{{input}}', headers: { 'content-type': contentType as string } }),
    })
  }
  return services
}

function httpUrl(resource: DiscoveredResource): URL | undefined {
  try {
    const url = new URL(resource.resource)
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined
  } catch {
    return undefined
  }
}

// Catalog names are 1-64 of [A-Za-z0-9_.-]; a second resource of the same name gets `-2`, `-3`, …
function uniqueName(text: string, taken: Set<string>): string {
  const base =
    text
      .replace(/[^A-Za-z0-9_.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'service'
  let name = base
  for (let index = 2; taken.has(name); index++) name = `${base}-${index}`
  taken.add(name)
  return name
}
