import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { close, listen, readBody } from '../../examples/local-stack/http.js'

export type ProxyRules = {
  /** Replaces the body the target receives for this request (the client still sent its own). */
  rewriteBody?(request: IncomingMessage, body: Uint8Array): Uint8Array
  /** Forwards the request but destroys the socket instead of answering: the client never sees the answer. */
  loseAnswer?(request: IncomingMessage): boolean
  /** Changes the answer's headers (lower-cased names) before the client sees them: a server that lies. */
  rewriteHeaders?(request: IncomingMessage, headers: Record<string, string>): Record<string, string>
}

export type InterceptingProxy = {
  readonly url: string
  /** Requests as the client sent them, oldest first. */
  readonly seen: { method: string; path: string; headers: IncomingHttpHeaders; body: Buffer }[]
  close(): Promise<void>
}

/**
 * A loopback HTTP proxy in front of a real server, for the faults a test cannot ask the server
 * for: an answer lost on the wire after the server acted on the request, a request body the
 * server saw differently than the client sent it, or an answer whose headers say what did not happen.
 */
export async function startInterceptingProxy(target: string, rules: ProxyRules = {}): Promise<InterceptingProxy> {
  const seen: InterceptingProxy['seen'] = []
  const server = createServer(async (request, response) => {
    response.on('error', () => {})
    const body = Buffer.from(await readBody(request))
    seen.push({ method: request.method ?? 'GET', path: request.url ?? '/', headers: request.headers, body })
    const headers = new Headers()
    for (const [name, value] of Object.entries(request.headers))
      if (value !== undefined && !['host', 'connection', 'content-length'].includes(name))
        headers.set(name, Array.isArray(value) ? value.join(', ') : value)
    const forwarded = rules.rewriteBody?.(request, body) ?? body
    const answer = await fetch(`${target}${request.url ?? '/'}`, {
      method: request.method ?? 'GET',
      headers,
      body: forwarded.length > 0 ? new Uint8Array(forwarded) : null,
      redirect: 'manual',
    })
    const bytes = Buffer.from(await answer.arrayBuffer())
    if (rules.loseAnswer?.(request)) return void request.socket.destroy()
    const out: Record<string, string> = {}
    answer.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection') out[name] = value
    })
    response.writeHead(answer.status, rules.rewriteHeaders?.(request, out) ?? out).end(bytes)
  })
  const url = await listen(server)
  return { url, seen, close: () => close(server) }
}
