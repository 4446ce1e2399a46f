import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import {
  close,
  decodeBase64Json,
  encodeBase64Json,
  isRecord,
  listen,
  sendJson,
  toRouteRequest,
  writeRouteResponse,
} from './http.js'
import type { RouteHandler } from './routes.js'

/** A priced route as the v1 server needs it, whatever chain prices it. */
export type V1Route = { readonly method: string; readonly path: string; readonly handler: RouteHandler }

/** x402 v1 `PaymentRequirements`; `network` is a v1 name such as `base-sepolia`. */
export type RequirementsV1 = {
  readonly scheme: 'exact'
  readonly network: string
  readonly maxAmountRequired: string
  readonly asset: string
  readonly payTo: string
  readonly resource: string
  readonly description: string
  readonly mimeType: string
  readonly maxTimeoutSeconds: number
  readonly extra: Readonly<Record<string, unknown>>
}

/**
 * An x402 v1 resource server written against the v1 wire format (x402.md §1) rather than the
 * deprecated `x402-express`: requirements in a JSON 402 body, payment in `X-PAYMENT`, receipt in
 * `X-PAYMENT-RESPONSE`, verify and settle through a local facilitator. Like the reference servers
 * it runs the handler first and charges only for a successful answer.
 */
export async function startX402V1Server<R extends V1Route>(options: {
  readonly facilitatorUrl: string
  readonly routes: readonly R[]
  /** The requirements of a route, given the server's base URL. */
  readonly requirementsFor: (route: R, baseUrl: string) => RequirementsV1
}): Promise<{ readonly url: string; close(): Promise<void> }> {
  const { facilitatorUrl, routes } = options
  let baseUrl = ''

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { pathname } = new URL(request.url ?? '/', baseUrl)
    const route = routes.find((candidate) => candidate.method === request.method && candidate.path === pathname)
    if (!route) return sendJson(response, 404, { error: 'not found' })
    const requirements = options.requirementsFor(route, baseUrl)
    const paymentRequired = (error: string, headers = {}) =>
      sendJson(response, 402, { x402Version: 1, error, accepts: [requirements] }, headers)

    const header = request.headers['x-payment']
    if (typeof header !== 'string' || header === '') return paymentRequired('X-PAYMENT header is required')
    const paymentPayload = decodeBase64Json(header)
    if (!isRecord(paymentPayload) || paymentPayload.x402Version !== 1 || !isRecord(paymentPayload.payload))
      return paymentRequired('Invalid or malformed payment header')
    if (paymentPayload.scheme !== requirements.scheme || paymentPayload.network !== requirements.network)
      return paymentRequired('Unable to find matching payment requirements')

    const facilitatorRequest = { x402Version: 1, paymentPayload, paymentRequirements: requirements }
    const verified = await postJson(`${facilitatorUrl}/verify`, facilitatorRequest)
    if (!isRecord(verified) || verified.isValid !== true) {
      const reason = isRecord(verified) ? verified.invalidReason : undefined
      return paymentRequired(typeof reason === 'string' ? reason : 'verification failed')
    }

    const answer = await route.handler(await toRouteRequest(request))
    if ((answer.status ?? 200) >= 400) return writeRouteResponse(response, answer)

    const receipt = toReceipt(await postJson(`${facilitatorUrl}/settle`, facilitatorRequest), requirements.network)
    const receiptHeaders = {
      'x-payment-response': encodeBase64Json(receipt),
      'access-control-expose-headers': 'X-PAYMENT-RESPONSE',
    }
    if (!receipt.success) return paymentRequired(receipt.errorReason ?? 'settlement failed', receiptHeaders)
    writeRouteResponse(response, answer, receiptHeaders)
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return response.destroy()
      sendJson(response, 502, { error: error instanceof Error ? error.message : String(error) })
    })
  })
  baseUrl = await listen(server)
  return { url: baseUrl, close: () => close(server) }
}

/** The `X-PAYMENT-RESPONSE` body: the facilitator's settle answer, reduced to the v1 fields. */
type ReceiptV1 = { success: boolean; errorReason?: string; transaction: string; network: string; payer?: string }

function toReceipt(settled: unknown, network: string): ReceiptV1 {
  if (!isRecord(settled)) return { success: false, errorReason: 'no_settle_response', transaction: '', network }
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
  const errorReason = text(settled.errorReason)
  const payer = text(settled.payer)
  return {
    success: settled.success === true,
    ...(errorReason === undefined ? {} : { errorReason }),
    transaction: text(settled.transaction) ?? '',
    network: text(settled.network) ?? network,
    ...(payer === undefined ? {} : { payer }),
  }
}

async function postJson(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`)
  return response.json()
}
