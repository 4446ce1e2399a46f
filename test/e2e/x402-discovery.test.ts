import { createServer } from 'node:http'
import { HTTPFacilitatorClient } from '@x402/core/server'
import { withBazaar } from '@x402/extensions'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { close, listen } from '../../examples/local-stack/http.js'
import { discover, discoveredServices } from '../../src/discovery/index.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, PayfetchError } from '../../src/index.js'
import { createPayfetchTools, type ToolResult } from '../../src/tools/index.js'

// Discovery (the x402 `bazaar` extension) against the x402 2.27 reference server and facilitator on
// anvil: `/discoverable/*` routes declare the extension with @x402/extensions'
// `declareDiscoveryExtension`, the server enriches it (`bazaarResourceServerExtension`), the paid call
// echoes it, and the facilitator catalogs each settled resource with the reference
// `extractDiscoveryInfo`, served at `GET /discovery/resources` in the shape `withBazaar` reads.
let stack: EvmStack

beforeAll(async () => {
  stack = await startEvmStack()
  // The catalog fills as resources are paid for.
  const account = stack.newAccount()
  await stack.mint(stack.usdc, account.address, 1_000_000n)
  const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
  for (const path of ['/discoverable/weather', '/discoverable/forecast'])
    expect((await fetchPaid(`${stack.v2Url}${path}?city=Paris`)).status).toBe(200)
})

afterAll(async () => {
  await stack?.stop()
})

describe('discover(), against the reference facilitator’s bazaar catalog', () => {
  test('behavior: lists each paid resource with its price decoded into offers, its method and description', async () => {
    const resources = await discover(stack.facilitatorUrl)
    const byPath = new Map(resources.map((entry) => [new URL(entry.resource).pathname, entry]))
    expect([...byPath.keys()].sort()).toEqual(['/discoverable/forecast', '/discoverable/weather'])
    const weather = byPath.get('/discoverable/weather')
    expect(weather).toMatchObject({
      type: 'http',
      x402Version: 2,
      method: 'GET',
      description: 'Weather report, listed in the bazaar',
    })
    expect(weather?.offers).toHaveLength(1)
    expect(weather?.offers[0]).toMatchObject({
      protocol: 'x402',
      scheme: 'exact',
      network: 'eip155:84532',
      amount: 10_000n,
      asset: { id: stack.usdc.address, symbol: 'USDC', decimals: 6 },
    })
    expect(weather?.offers[0]?.payTo.toLowerCase()).toBe(stack.payTo.toLowerCase())
    expect(byPath.get('/discoverable/forecast')?.offers[0]?.amount).toBe(30_000n)
  })

  test('behavior: reads what the reference bazaar client reads, resource for resource', async () => {
    const reference = await withBazaar(
      new HTTPFacilitatorClient({ url: stack.facilitatorUrl }),
    ).extensions.bazaar.listResources({ type: 'http' })
    const ours = await discover(stack.facilitatorUrl, { type: 'http' })
    expect(ours.map((entry) => [entry.resource, entry.offers.map((offer) => offer.amount.toString())])).toEqual(
      reference.items.map((item) => [item.resource, item.accepts.map((accept) => accept.amount)]),
    )
  })

  test('policy: a type filter and a limit are honoured', async () => {
    expect(await discover(stack.facilitatorUrl, { type: 'mcp' })).toEqual([])
    expect(await discover(`${stack.facilitatorUrl}/discovery/resources`, { limit: 1 })).toHaveLength(1)
  })

  test('policy: reading the catalog pays nothing and sends no proof', async () => {
    const seen: Headers[] = []
    const recording: typeof fetch = async (input, init) => {
      seen.push(new Headers(init?.headers))
      return fetch(input, init)
    }
    const settled = stack.settlements.length
    await discover(stack.facilitatorUrl, { fetch: recording })
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.every((headers) => !headers.has('payment-signature') && !headers.has('x-payment'))).toBe(true)
    expect(stack.settlements.length).toBe(settled)
  })
})

describe('discovered services, through the agent tools', () => {
  test('behavior: list_services lists what the facilitator discovered with live prices; call_service pays one with a query input', async () => {
    const account = stack.newAccount()
    await stack.mint(stack.usdc, account.address, 1_000_000n)
    const tools = createPayfetchTools({
      payfetch: { signers: [evm({ account })] },
      services: async () => discoveredServices(await discover(stack.facilitatorUrl, { type: 'http' })),
    })
    const settled = stack.settlements.length
    const listed = (await tools.get('list_services')?.run({})) as ToolResult<{
      services: { name: string; description?: string; method: string; url: string; price?: { amount: string } }[]
    }>
    if (!listed.ok) throw new Error(JSON.stringify(listed.error))
    const host = new URL(stack.v2Url).host.replace(':', '-')
    expect(listed.output.services.map(({ name, method, price }) => [name, method, price?.amount]).sort()).toEqual([
      [`${host}-discoverable-forecast`, 'GET', '30000'],
      [`${host}-discoverable-weather`, 'GET', '10000'],
    ])
    const weather = listed.output.services.find((entry) => entry.name.endsWith('weather'))
    expect(weather?.description).toBe('Weather report, listed in the bazaar (input: a query string, e.g. city=Paris)')
    expect(stack.settlements.length).toBe(settled)

    const called = await tools.get('call_service')?.run({ service: weather?.name, input: 'city=Lyon' })
    expect(called).toMatchObject({ ok: true, output: { status: 200, paid: true, payment: { amount: '10000' } } })
    expect(stack.settlements.length).toBe(settled + 1)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
  })

  test('error: a listing that cannot be read is DISCOVERY_FAILED from list_services and call_service, nothing paid', async () => {
    const server = await listingServer(() => ({ status: 503, body: '{}' }))
    try {
      const tools = createPayfetchTools({
        payfetch: { signers: [evm({ account: stack.newAccount() })] },
        services: async () => discoveredServices(await discover(server.url)),
      })
      for (const [name, input] of [
        ['list_services', {}],
        ['call_service', { service: 'anything' }],
      ] as const)
        expect(await tools.get(name)?.run(input)).toEqual({
          ok: false,
          error: expect.objectContaining({ code: 'DISCOVERY_FAILED', paid: false }),
        })
    } finally {
      await server.close()
    }
  })
})

describe('discoveredServices()', () => {
  test('behavior: names are unique and safe, body methods take the input as their body, form data is left out', () => {
    const offers = [] as const
    const resource = (resource: string, extra: object = {}) => ({
      resource,
      type: 'http',
      x402Version: 2 as const,
      offers,
      ...extra,
    })
    expect(
      discoveredServices([
        resource('https://api.example.com/v1/summarize', {
          method: 'POST',
          bodyType: 'json',
          serviceName: 'Summarize it!',
        }),
        resource('https://api.example.com/v1/summarize', {
          method: 'POST',
          bodyType: 'json',
          serviceName: 'Summarize it!',
        }),
        resource('https://api.example.com/upload', { method: 'POST', bodyType: 'form-data' }),
        resource('mcp://tools.example.com/x', { type: 'mcp' }),
        resource('ftp://files.example.com/x'),
        resource('https://api.example.com/echo', { method: 'PUT', bodyType: 'text', description: 'Echo' }),
      ]),
    ).toEqual([
      {
        name: 'Summarize-it',
        description: '(input: the json request body)',
        url: 'https://api.example.com/v1/summarize',
        method: 'POST',
        body: '{{input}}',
        headers: { 'content-type': 'application/json' },
      },
      expect.objectContaining({ name: 'Summarize-it-2' }),
      {
        name: 'api.example.com-echo',
        description: 'Echo (input: the text request body)',
        url: 'https://api.example.com/echo',
        method: 'PUT',
        body: '{{input}}',
        headers: { 'content-type': 'text/plain' },
      },
    ])
  })
})

/** A listing server speaking the bazaar wire format, answering `pages` in turn whatever the query. */
async function listingServer(answer: (url: URL) => { status?: number; body: string }) {
  const asked: URL[] = []
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://local')
    asked.push(url)
    const { status = 200, body } = answer(url)
    response.writeHead(status, { 'content-type': 'application/json' }).end(body)
  })
  const url = await listen(server)
  return { url, asked, close: () => close(server) }
}

const item = (path: string, amount: string) => ({
  resource: `https://api.example.com${path}`,
  type: 'http',
  x402Version: 2,
  lastUpdated: '2026-11-30T12:00:00.000Z',
  accepts: [
    {
      scheme: 'exact',
      network: 'eip155:8453',
      amount,
      asset: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913',
      payTo: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
      maxTimeoutSeconds: 60,
      extra: { name: 'USD Coin', version: '2' },
    },
  ],
})

describe('discover(), against the bazaar wire format on a real HTTP server', () => {
  test('behavior: a listing that answers fewer items than asked is read page by page up to its total', async () => {
    const all = [item('/a', '1000'), item('/b', '2000'), item('/c', '3000')]
    const server = await listingServer((url) => {
      const offset = Number(url.searchParams.get('offset'))
      return {
        body: JSON.stringify({ x402Version: 2, items: all.slice(offset, offset + 1), pagination: { total: 3 } }),
      }
    })
    try {
      const resources = await discover(server.url)
      expect(resources.map((entry) => [entry.resource, entry.offers[0]?.amount])).toEqual([
        ['https://api.example.com/a', 1000n],
        ['https://api.example.com/b', 2000n],
        ['https://api.example.com/c', 3000n],
      ])
      expect(server.asked.map((url) => `${url.pathname}?${url.searchParams}`)).toEqual([
        '/discovery/resources?limit=100&offset=0',
        '/discovery/resources?limit=99&offset=1',
        '/discovery/resources?limit=98&offset=2',
      ])
    } finally {
      await server.close()
    }
  })

  test('policy: entries without a readable price are skipped, the rest listed', async () => {
    const server = await listingServer(() => ({
      body: JSON.stringify({
        x402Version: 2,
        items: [
          { ...item('/bad', 'ten'), description: 'amount is not a number' },
          { resource: 42, x402Version: 2, accepts: [] },
          item('/good', '500'),
        ],
        pagination: { total: 3 },
      }),
    }))
    try {
      expect((await discover(server.url)).map((entry) => entry.resource)).toEqual(['https://api.example.com/good'])
    } finally {
      await server.close()
    }
  })

  test('policy: a listing that never ends (no total, full pages) stops at the limit', async () => {
    const server = await listingServer((url) => ({
      body: JSON.stringify({ x402Version: 2, items: [item(`/n${url.searchParams.get('offset')}`, '1')] }),
    }))
    try {
      // Without a total one page is all: the listing cannot keep payfetch reading.
      expect(await discover(server.url, { limit: 5 })).toHaveLength(1)
      expect(server.asked).toHaveLength(1)
    } finally {
      await server.close()
    }
  })

  test.each([
    ['a 500', { status: 500, body: '{}' }],
    ['not JSON', { body: '<html>' }],
    ['JSON without items', { body: '{"x402Version":2}' }],
  ])('error: %s is DISCOVERY_FAILED', async (_, answer) => {
    const server = await listingServer(() => answer)
    try {
      const error = await discover(server.url).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(PayfetchError)
      expect((error as PayfetchError).code).toBe('DISCOVERY_FAILED')
    } finally {
      await server.close()
    }
  })

  test('error: a URL that is not http(s) or a limit out of range is INVALID_OPTIONS', async () => {
    await expect(discover('ftp://example.com')).rejects.toMatchObject({ code: 'INVALID_OPTIONS' })
    await expect(discover('not a url')).rejects.toMatchObject({ code: 'INVALID_OPTIONS' })
    await expect(discover('https://example.com', { limit: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' })
  })
})
