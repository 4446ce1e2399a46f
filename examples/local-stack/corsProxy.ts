import { createServer, type IncomingHttpHeaders } from 'node:http'
import { close, listen, readBody } from './http.js'

export type CorsOptions = {
  /** Response headers listed in `Access-Control-Expose-Headers`. Default: none. */
  readonly expose?: readonly string[]
  /** Request headers a preflight allows. Default: whatever the preflight asks for. */
  readonly allowHeaders?: readonly string[]
}

export type CorsProxy = {
  /** The proxy's own origin: another origin than the page's and than the server's. */
  readonly url: string
  /** Preflights answered, oldest first, with the request headers each asked for. */
  readonly preflights: { path: string; headers: string }[]
  /** Requests forwarded, with the headers they arrived with. */
  readonly forwarded: { method: string; path: string; headers: IncomingHttpHeaders }[]
  close(): Promise<void>
}

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'content-length'])

/**
 * A server's CORS, bolted on: a loopback proxy to `target` that answers preflights itself and adds
 * `Access-Control-Allow-Origin` (the request's origin) and the chosen `Access-Control-Expose-Headers`
 * to every answer. The local stack's servers (the x402 reference server, the L402 and mppx servers,
 * the Solana RPC) stay as they are; a page reaches them through one of these.
 */
export async function startCorsProxy(target: string, options: CorsOptions = {}): Promise<CorsProxy> {
  const preflights: CorsProxy['preflights'] = []
  const forwarded: CorsProxy['forwarded'] = []
  const server = createServer(async (request, response) => {
    const path = request.url ?? '/'
    const origin = request.headers.origin
    const cors: Record<string, string> = origin ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {}
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
      const asked = String(request.headers['access-control-request-headers'] ?? '')
      preflights.push({ path, headers: asked })
      response.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE',
        'access-control-allow-headers': options.allowHeaders?.join(', ') ?? asked,
        'access-control-max-age': '0',
      })
      return void response.end()
    }
    forwarded.push({ method: request.method ?? 'GET', path, headers: request.headers })
    try {
      const body = await readBody(request)
      const upstream = await fetch(new URL(path, target), {
        method: request.method ?? 'GET',
        headers: Object.entries(request.headers).flatMap(([name, value]) =>
          value === undefined || hopByHop.has(name) ? [] : [[name, String(value)] as [string, string]],
        ),
        ...(body.length > 0 ? { body: new Uint8Array(body) } : {}),
        redirect: 'manual',
      })
      const bytes = new Uint8Array(await upstream.arrayBuffer())
      const headers: Record<string, string> = {}
      // The proxy owns CORS: whatever the server says of it (the L402 server exposes its challenge) is dropped.
      for (const [name, value] of upstream.headers)
        if (!hopByHop.has(name) && !name.startsWith('access-control-')) headers[name] = value
      response.writeHead(upstream.status, {
        ...headers,
        ...cors,
        ...(options.expose?.length ? { 'access-control-expose-headers': options.expose.join(', ') } : {}),
        'content-length': String(bytes.length),
      })
      response.end(bytes)
    } catch (error) {
      response.writeHead(502, cors).end(String(error))
    }
  })
  const url = await listen(server)
  return { url, preflights, forwarded, close: () => close(server) }
}
