import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { close, listen } from '../local-stack/http.js'
import { json, type PaidRoute } from '../local-stack/routes.js'

/** The article behind the paywall: 0.01 USDC on the x402 reference server. */
export const articleRoute: PaidRoute = {
  method: 'GET',
  path: '/article',
  amount: 10_000n,
  token: 'usdc',
  description: 'Tide tables for a small harbour',
  handler: () =>
    json({
      title: 'Tide tables for a small harbour',
      paragraphs: [
        'The harbour master keeps a notebook with one line per tide: the time the water stood highest against the quay wall, and how high, in centimetres above the mark cut into the third step.',
        'High water comes about fifty minutes later each day, because the moon comes back to the same place in the sky about fifty minutes later each day. Spring tides, the big ones, follow the full and the new moon by a day or two; neap tides fall between them.',
        'So the next week is last month’s page, shifted: find the day with the same moon, add the fifty minutes as often as needed, and correct by eye for the wind that has been pushing water into the bay since Tuesday.',
      ],
    }),
}

export type ArticleSite = {
  /** The page, with the article's URL and the chain in its query. */
  readonly url: string
  close(): Promise<void>
}

/**
 * Serves the example page on loopback: `index.html`, `article.js`, and `payfetch.js` (the script
 * build's ES module, given as `script`). The article itself lives on another origin, `api`.
 */
export async function startArticleSite(options: {
  api: string
  chainId: number
  script: string
}): Promise<ArticleSite> {
  const files: Record<string, { type: string; read: () => Promise<string | Buffer> }> = {
    '/index.html': { type: 'text/html', read: () => readFile(join(import.meta.dirname, 'index.html')) },
    '/article.js': { type: 'text/javascript', read: () => readFile(join(import.meta.dirname, 'article.js')) },
    '/payfetch.js': { type: 'text/javascript', read: async () => options.script },
  }
  const server = createServer(async (request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://localhost').pathname]
    if (!file) return void response.writeHead(404).end()
    response.writeHead(200, { 'content-type': `${file.type}; charset=utf-8` })
    response.end(await file.read())
  })
  const base = await listen(server)
  const query = new URLSearchParams({ api: options.api, chain: String(options.chainId) })
  return { url: `${base}/index.html?${query}`, close: () => close(server) }
}
