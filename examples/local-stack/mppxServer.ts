import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { evm, Mppx, NodeListener, tempo } from 'mppx/server'
import type { Address } from 'viem'
import type { AuthorizationSettler } from './authorizationSettler.js'
import { close, listen, toRouteRequest } from './http.js'
import type { TestToken } from './installContracts.js'
import { createRequestLog, type RequestLog } from './requestLog.js'
import { echo, json, type RouteHandler, type RouteResponse } from './routes.js'
import type { TempoChain } from './tempoChain.js'

/** The bearer token `/tempo/auth` wants in `Authorization`, beside the payment in `Payment-Authorization`. */
export const appBearerToken = 'test-app-token'

export type MppxServerOptions = {
  readonly usdc: TestToken
  /** A second EIP-3009 token (`EURC`/`2`), offered next to USDC on `/choice`. */
  readonly eurc: TestToken
  readonly settler: AuthorizationSettler
  readonly tempo: TempoChain
  /** Who every route pays, on both chains. */
  readonly payTo: Address
  /** Base URL of another origin: `/redirect-away` and `/paid-redirect` point there. Without it they are 404. */
  readonly otherOrigin?: string | undefined
}

export type MppxServer = {
  readonly url: string
  /** `127.0.0.1:<port>`: every challenge's realm. */
  readonly realm: string
  readonly requests: RequestLog
  close(): Promise<void>
}

// What an mppx handler answers (mppx's own `MethodFn.Response`, which it does not export).
type Paid = { status: 402; challenge: Response } | { status: 200; withReceipt(response: Response): Response }
type PayHandler = (request: Request) => Promise<Paid>

type Route = {
  readonly method: 'GET' | 'POST'
  readonly path: string
  /** Unset: a free route. */
  readonly pay?: PayHandler
  /** mppx's EVM charge adds an x402 v2 `PAYMENT-REQUIRED` offer to its 402s; kept only where asked. */
  readonly keepX402?: boolean
  /** Paid, then refused by policy: 403 with no receipt, as the core draft's status table says. */
  readonly denyAfterPayment?: boolean
  /** Application authentication comes first (401), payment second, in the core draft's order. */
  readonly requireBearer?: boolean
  readonly handler: RouteHandler
}

/**
 * A resource server built on mppx 0.11's own server (`mppx/server`), on 127.0.0.1: the `Payment`
 * scheme with EVM (EIP-3009 `authorization` credentials, settled by `settler`) and Tempo charges.
 *
 * | route | what it asks for |
 * | --- | --- |
 * | `GET /free` | nothing |
 * | `GET /weather` | 0.01 USDC (evm), Payment challenge only |
 * | `POST /echo` | 0.01 USDC; answers the body bytes, `x-echo-sha256` and `x-echo-content-type` |
 * | `GET /pricey` | 0.50 USDC |
 * | `GET /expired` | 0.01 USDC with a challenge whose `expires` is already past |
 * | `GET /choice` | two challenges, 0.02 EURC then 0.01 USDC, plus mppx's x402 `PAYMENT-REQUIRED` offer |
 * | `GET /denied` | 0.01 USDC, then 403 without a receipt (paid, refused by policy) |
 * | `GET /paid-redirect` | 0.01 USDC, then 307 to `<otherOrigin>/free` (with the receipt) |
 * | `GET /redirect-away` | nothing: 307 to `<otherOrigin>/weather`, which asks for payment |
 * | `GET /tempo/weather` | 0.01 pathUSD (tempo), fee-sponsored by `tempo.feePayer` |
 * | `GET /tempo/unsponsored` | 0.01 pathUSD, the payer pays its own fee |
 * | `GET /tempo/expired` | 0.01 pathUSD with a challenge whose `expires` is already past |
 * | `GET /tempo/choice` | two challenges: 0.02 USDC (evm), then 0.01 pathUSD (tempo, sponsored) |
 * | `GET /tempo/auth` | 401 without `Authorization: Bearer <appBearerToken>`; then 0.01 pathUSD with `header="Payment-Authorization"` |
 */
export async function startMppxServer(options: MppxServerOptions): Promise<MppxServer> {
  const requests = createRequestLog()
  let routes: readonly Route[] = []
  const server = createServer((request, response) => {
    serve(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' })
      response.end(String(error))
    })
  })

  async function serve(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const request = await toRouteRequest(incoming)
    requests.record(request)
    const route = routes.find((one) => one.method === request.method && one.path === request.url.pathname)
    if (!route) return NodeListener.sendResponse(response, Response.json({ error: 'not found' }, { status: 404 }))
    if (route.requireBearer && request.headers.authorization !== `Bearer ${appBearerToken}`)
      return NodeListener.sendResponse(
        response,
        Response.json({ error: 'authentication required' }, { status: 401, headers: { 'www-authenticate': 'Bearer' } }),
      )
    if (!route.pay) return NodeListener.sendResponse(response, toResponse(await route.handler(request)))
    const fetchRequest = new Request(request.url, {
      method: request.method,
      headers: Object.entries(incoming.headersDistinct).flatMap(([name, values]) =>
        (values ?? []).map((value): [string, string] => [name, value]),
      ),
      ...(request.body.length > 0 ? { body: new Uint8Array(request.body) } : {}),
    })
    const paid = await route.pay(fetchRequest)
    if (paid.status === 402) {
      if (!route.keepX402) paid.challenge.headers.delete('payment-required')
      return NodeListener.sendResponse(response, paid.challenge)
    }
    const answer = toResponse(await route.handler(request))
    await NodeListener.sendResponse(response, route.denyAfterPayment ? answer : paid.withReceipt(answer))
  }

  const url = await listen(server)
  const realm = new URL(url).host
  // One secret for every instance, so `compose` can verify a credential issued by any of them.
  const secretKey = randomBytes(32).toString('hex')
  const { usdc, eurc, settler, payTo } = options
  const chain = options.tempo
  const evmCharge = (token: TestToken) =>
    evm.charge({
      currency: token.address,
      chainId: 84532,
      decimals: token.decimals,
      authorization: { name: token.name, version: token.version },
      recipient: payTo,
      settle: settler.settle,
    })
  const usd = Mppx.create({ methods: [evmCharge(usdc)], secretKey, realm })
  const eur = Mppx.create({ methods: [evmCharge(eurc)], secretKey, realm })
  const tempoCharge = (sponsored: boolean) =>
    tempo.charge({
      currency: chain.pathUsd,
      recipient: payTo,
      getClient: chain.getClient,
      ...(sponsored ? { feePayer: chain.feePayer } : {}),
    })
  const sponsored = Mppx.create({ methods: [tempoCharge(true)], secretKey, realm })
  const unsponsored = Mppx.create({ methods: [tempoCharge(false)], secretKey, realm })
  const withAppAuth = Mppx.create({ methods: [tempoCharge(true)], secretKey, realm, requiresAuth: true })

  const cent = { amount: '0.01' }
  const redirect =
    (to: string): RouteHandler =>
    () => ({ status: 307, headers: { location: to } })
  const other = options.otherOrigin
  routes = [
    { method: 'GET', path: '/free', handler: () => json({ free: true }) },
    {
      method: 'GET',
      path: '/weather',
      pay: usd.charge({ ...cent, description: 'weather report' }),
      handler: () => json({ weather: 'sunny', temperature: 21 }),
    },
    { method: 'POST', path: '/echo', pay: usd.charge({ ...cent, description: 'echo' }), handler: echo },
    { method: 'GET', path: '/pricey', pay: usd.charge({ amount: '0.50' }), handler: () => json({ pricey: true }) },
    {
      method: 'GET',
      path: '/expired',
      // Fixed at start-up, so every challenge this route issues has already expired.
      pay: usd.charge({ ...cent, expires: new Date(Date.now() - 60_000) }),
      handler: () => json({ expired: false }),
    },
    {
      method: 'GET',
      path: '/choice',
      pay: Mppx.compose(eur.charge({ amount: '0.02' }), usd.charge(cent)) as PayHandler,
      keepX402: true,
      handler: () => json({ choice: 'paid' }),
    },
    {
      method: 'GET',
      path: '/denied',
      pay: usd.charge(cent),
      denyAfterPayment: true,
      handler: () => json({ error: 'policy denies access' }, 403),
    },
    ...(other === undefined
      ? []
      : ([
          { method: 'GET', path: '/paid-redirect', pay: usd.charge(cent), handler: redirect(`${other}/free`) },
          { method: 'GET', path: '/redirect-away', handler: redirect(`${other}/weather`) },
        ] satisfies Route[])),
    {
      method: 'GET',
      path: '/tempo/weather',
      pay: sponsored.charge({ ...cent, description: 'weather report' }),
      handler: () => json({ weather: 'sunny', chain: 'tempo' }),
    },
    {
      method: 'GET',
      path: '/tempo/unsponsored',
      pay: unsponsored.charge(cent),
      handler: () => json({ sponsored: false }),
    },
    {
      method: 'GET',
      path: '/tempo/expired',
      // Fixed at start-up, so every challenge this route issues has already expired.
      pay: sponsored.charge({ ...cent, expires: new Date(Date.now() - 60_000) }),
      handler: () => json({ expired: false }),
    },
    {
      method: 'GET',
      path: '/tempo/choice',
      // Two chains in one 402: 0.02 USDC (evm) first, then 0.01 pathUSD (tempo, sponsored).
      pay: Mppx.compose(usd.charge({ amount: '0.02' }), sponsored.charge(cent)) as PayHandler,
      handler: () => json({ choice: 'paid' }),
    },
    {
      method: 'GET',
      path: '/tempo/auth',
      pay: withAppAuth.charge(cent),
      requireBearer: true,
      handler: ({ headers }) => json({ authorization: headers.authorization ?? null }),
    },
  ]
  return { url, realm, requests, close: () => close(server) }
}

function toResponse(answer: RouteResponse): Response {
  const body = answer.body === undefined || typeof answer.body === 'string' ? answer.body : new Uint8Array(answer.body)
  return new Response(body ?? null, { status: answer.status ?? 200, headers: answer.headers ?? {} })
}
