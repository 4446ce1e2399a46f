import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { close, listen } from '../../examples/local-stack/http.js'
import { discover } from '../../src/discovery/index.js'
import { PayfetchError } from '../../src/index.js'

// How long discover() waits for a listing, against real loopback servers that never finish
// answering: a deadline that is never met cannot race the clock. The listing's wire format, against
// the reference facilitator: test/e2e/x402-discovery.test.ts.
let server: Server | undefined

beforeAll(async () => {
  // Node loads its fetch on first use: load it here, so a short deadline is spent on the listing.
  const warm = createServer((_, response) => response.end())
  await (await fetch(await listen(warm))).text()
  await close(warm)
})

afterEach(async () => {
  if (server) await close(server)
  server = undefined
})

/** A listing server that answers each request with `answer` and keeps the requests in view. */
async function stalling(answer: (request: IncomingMessage, response: ServerResponse) => void) {
  const asked: IncomingMessage[] = []
  let arrive = () => {}
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve
  })
  server = createServer((request, response) => {
    asked.push(request)
    answer(request, response)
    arrive()
  })
  return { url: await listen(server), asked, arrived }
}

/** Resolves once the connection of every request is closed (the test times out otherwise). */
async function allClosed(requests: readonly IncomingMessage[]): Promise<void> {
  await Promise.all(requests.map(({ socket }) => (socket.closed ? undefined : once(socket, 'close'))))
}

describe('discover() never waits without bound', () => {
  test.each([
    ['accepts the request and never answers', () => {}],
    [
      'sends its head and never finishes the body',
      (_: IncomingMessage, response: ServerResponse) => {
        response.writeHead(200, { 'content-type': 'application/json' }).write('{"x402Version":2,"items":[')
      },
    ],
  ])(
    'error: a listing server that %s is DISCOVERY_FAILED after timeoutMs; the connection is closed',
    async (_, answer) => {
      const listing = await stalling(answer)
      const error = await discover(listing.url, { timeoutMs: 50 }).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(PayfetchError)
      expect(error).toMatchObject({
        code: 'DISCOVERY_FAILED',
        shortMessage: 'The discovery listing could not be read: no answer within 50 ms.',
        details: { url: `${listing.url}/discovery/resources` },
      })
      // Nothing is left hanging: the connection that carried the request is closed.
      await allClosed(listing.asked)
    },
  )

  test('behavior: the caller’s signal still ends the wait, with its own reason, long before timeoutMs', async () => {
    const listing = await stalling(() => {})
    const controller = new AbortController()
    const reason = new Error('the caller gave up')
    const pending = discover(listing.url, { timeoutMs: 600_000, signal: controller.signal })
    await listing.arrived
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
    await allClosed(listing.asked)
  })
})
