import { request as httpRequest } from 'node:http'
import { Readable } from 'node:stream'

/**
 * A `fetch` over `node:http` that accepts response headers up to `maxHeaderSize` bytes (Node's
 * fetch stops at 16 KiB, browsers allow far more), so a test can reach payfetch's own header cap.
 * Plain http, no redirects followed: enough for payfetch's loop, which follows them by hand.
 */
export function httpFetch(maxHeaderSize: number): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init)
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined
    return new Promise<Response>((resolve, reject) => {
      const outgoing = httpRequest(
        request.url,
        { method: request.method, headers: Object.fromEntries(request.headers), maxHeaderSize },
        (incoming) => {
          const headers = new Headers()
          for (const [name, value] of Object.entries(incoming.headers)) {
            for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value])
              headers.append(name, item)
          }
          const status = incoming.statusCode ?? 500
          const stream =
            status === 204 || status === 304 ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>)
          resolve(new Response(stream, { status, headers }))
        },
      )
      outgoing.on('error', reject)
      outgoing.end(body)
    })
  }
}
