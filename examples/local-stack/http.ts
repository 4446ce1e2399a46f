import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http'
import type { RouteRequest, RouteResponse } from './routes.js'

/** Listens on 127.0.0.1 and a free port; resolves to the base URL, without a trailing slash. */
export async function listen(server: Server): Promise<string> {
  // A client whose event loop lags by seconds (a loaded machine, hundreds of calls at once) may
  // reuse an idle socket just after Node's 5 s keep-alive closed it: its request dies with
  // ECONNRESET, which is not what any test here is about.
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // A deep accept queue: hundreds of clients connecting at once on a busy machine would overflow
    // Node's default of 511, and a dropped SYN is retried only after seconds.
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address')
  return `http://127.0.0.1:${address.port}`
}

/** Closes a server, dropping keep-alive connections that would otherwise hold `close()` open. */
export async function close(server: Server): Promise<void> {
  if (!server.listening) return
  const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
  server.closeAllConnections()
  await closed
}

/** Reads the whole request body as bytes. */
export async function readBody(request: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Reads a JSON request body; `undefined` when it is empty or not JSON. */
export async function readJson(request: IncomingMessage): Promise<unknown> {
  const text = Buffer.from(await readBody(request)).toString('utf8')
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  response.writeHead(status, { ...headers, 'content-type': 'application/json' })
  response.end(JSON.stringify(body))
}

/** Standard base64 of UTF-8 JSON: the encoding x402 uses for every header. */
export function encodeBase64Json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64')
}

/** Decodes a base64 JSON header; `undefined` when it is not one. */
export function decodeBase64Json(value: string): unknown {
  try {
    return JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as unknown
  } catch {
    return undefined
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Writes a route handler's answer. Headers are set on the response before `writeHead`: the x402
 * middleware buffers `writeHead` and reads `Settlement-Overrides` (an `upto` charge) from the
 * headers already set.
 */
export function writeRouteResponse(
  response: ServerResponse,
  answer: RouteResponse,
  headers: OutgoingHttpHeaders = {},
): void {
  for (const [name, value] of Object.entries({ ...answer.headers, ...headers }))
    if (value !== undefined) response.setHeader(name, value)
  response.writeHead(answer.status ?? 200)
  response.end(answer.body ?? '')
}

/** Reads a request into what a route handler sees. */
export async function toRouteRequest(request: IncomingMessage): Promise<RouteRequest> {
  return {
    method: request.method ?? 'GET',
    url: new URL(request.url ?? '/', `http://${request.headers.host ?? '127.0.0.1'}`),
    headers: request.headers,
    body: await readBody(request),
  }
}
