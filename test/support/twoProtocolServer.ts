import { createServer } from 'node:http'
import { close, listen, readBody } from '../../examples/local-stack/http.js'

export type TwoProtocolServer = { url: string; close(): Promise<void> }

/**
 * A front that offers both x402 and L402 for every path: an unpaid request gets one 402 carrying
 * the x402 server's `PAYMENT-REQUIRED` and the L402 server's `WWW-Authenticate`; a request with a
 * proof goes to the server that issued it. Both back ends are real payment servers.
 */
export async function startTwoProtocolServer(x402Url: string, l402Url: string): Promise<TwoProtocolServer> {
  const server = createServer(async (request, response) => {
    const body = Buffer.from(await readBody(request))
    const headers = Object.fromEntries(
      Object.entries(request.headers).flatMap(([name, value]) =>
        typeof value === 'string' && name !== 'host' && name !== 'content-length' ? [[name, value]] : [],
      ),
    )
    const forward = (base: string) =>
      fetch(`${base}${request.url}`, {
        method: request.method ?? 'GET',
        headers,
        ...(body.length > 0 ? { body } : {}),
        redirect: 'manual',
      })
    try {
      const authorization = request.headers.authorization ?? ''
      const single = /^(L402|LSAT) /.test(authorization)
        ? await forward(l402Url)
        : request.headers['payment-signature']
          ? await forward(x402Url)
          : undefined
      if (single) {
        response.writeHead(single.status, Object.fromEntries(single.headers))
        return void response.end(Buffer.from(await single.arrayBuffer()))
      }
      const [x402, l402] = await Promise.all([forward(x402Url), forward(l402Url)])
      const required = x402.headers.get('payment-required')
      const challenge = l402.headers.get('www-authenticate')
      await Promise.all([x402.arrayBuffer(), l402.arrayBuffer()])
      response.writeHead(402, {
        ...(required ? { 'payment-required': required } : {}),
        ...(challenge ? { 'www-authenticate': challenge } : {}),
        'content-type': 'application/json',
      })
      response.end('{}')
    } catch (error) {
      if (!response.headersSent) response.writeHead(502)
      response.end(String(error))
    }
  })
  const url = await listen(server)
  return { url, close: () => close(server) }
}
