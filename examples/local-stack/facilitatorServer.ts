import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { x402Facilitator } from '@x402/core/facilitator'
import type { PaymentPayload, PaymentRequirements, SettleResponse, VerifyResponse } from '@x402/core/types'
import { createBazaarCatalog } from './bazaarCatalog.js'
import { close, isRecord, listen, readJson, sendJson } from './http.js'

/** One call to the facilitator's `/settle`, whatever its outcome. */
export type Settlement = {
  readonly x402Version: number
  readonly network: string
  /** The settlement transaction hash or signature; empty when nothing was submitted. */
  readonly transaction: string
  readonly success: boolean
  readonly payer?: string | undefined
  readonly errorReason?: string | undefined
  /** The amount the facilitator reports it settled (`upto`), deposited or refunded (`batch-settlement`). */
  readonly amount?: string | undefined
  /** The scheme of the settled payment (`exact`, `upto`, `batch-settlement`). */
  readonly scheme?: string | undefined
}

export type ServedFacilitator = {
  readonly url: string
  /** Every `/settle` call so far, oldest first. Live: it grows as settlements happen. */
  readonly settlements: readonly Settlement[]
  close(): Promise<void>
}

/**
 * Serves a real x402 facilitator over loopback HTTP (`GET /supported`, `POST /verify`,
 * `POST /settle`), the API `HTTPFacilitatorClient` calls, for any chain it has schemes for; and
 * the `bazaar` discovery catalog of the resources it settled (`GET /discovery/resources`).
 */
export async function serveFacilitator(facilitator: x402Facilitator): Promise<ServedFacilitator> {
  const settlements: Settlement[] = []
  const catalog = createBazaarCatalog()

  // A thrown verify or settle (malformed payload, unknown scheme) is still the payment's fault, not the
  // server's: answering with a failed result lets the resource server reply 402 with the reason, not 500.
  async function verify(payload: PaymentPayload, requirements: PaymentRequirements): Promise<VerifyResponse> {
    try {
      return await facilitator.verify(payload, requirements)
    } catch (error) {
      return { isValid: false, invalidReason: 'invalid_payload', invalidMessage: messageOf(error) }
    }
  }

  async function settle(payload: PaymentPayload, requirements: PaymentRequirements): Promise<SettleResponse> {
    try {
      return await facilitator.settle(payload, requirements)
    } catch (error) {
      return {
        success: false,
        errorReason: 'unexpected_settle_error',
        errorMessage: messageOf(error),
        transaction: '',
        network: requirements.network,
      }
    }
  }

  const routes: Record<string, (request: IncomingMessage, response: ServerResponse) => Promise<void>> = {
    'GET /supported': async (_request, response) => sendJson(response, 200, facilitator.getSupported()),
    'GET /discovery/resources': async (request, response) =>
      sendJson(response, 200, catalog.list(new URL(request.url ?? '/', 'http://local').searchParams)),
    'POST /verify': async (request, response) => {
      const body = await readPaymentRequest(request, response)
      if (body) sendJson(response, 200, await verify(body.paymentPayload, body.paymentRequirements))
    },
    'POST /settle': async (request, response) => {
      const body = await readPaymentRequest(request, response)
      if (!body) return
      const result = await settle(body.paymentPayload, body.paymentRequirements)
      settlements.push({
        x402Version: body.paymentPayload.x402Version,
        network: result.network,
        transaction: result.transaction,
        success: result.success,
        payer: result.payer,
        errorReason: result.errorReason,
        amount: result.amount,
        scheme: body.paymentRequirements.scheme,
      })
      if (result.success) catalog.record(body.paymentPayload, body.paymentRequirements)
      sendJson(response, 200, result)
    },
  }

  const server = createServer((request, response) => {
    const route = routes[`${request.method} ${new URL(request.url ?? '/', 'http://local').pathname}`]
    if (!route) return sendJson(response, 404, { error: 'not found' })
    route(request, response).catch((error: unknown) => sendJson(response, 500, { error: messageOf(error) }))
  })
  const url = await listen(server)
  return { url, settlements, close: () => close(server) }
}

type PaymentRequest = { paymentPayload: PaymentPayload; paymentRequirements: PaymentRequirements }

// Both x402 versions post `{ x402Version, paymentPayload, paymentRequirements }`; the facilitator
// routes on `paymentPayload.x402Version`, so v1 shapes pass through under the v2 type.
async function readPaymentRequest(
  request: IncomingMessage,
  response: ServerResponse,
): Promise<PaymentRequest | undefined> {
  const body = await readJson(request)
  if (isRecord(body) && isRecord(body.paymentPayload) && isRecord(body.paymentRequirements))
    return body as PaymentRequest
  sendJson(response, 400, { error: 'expected JSON { x402Version, paymentPayload, paymentRequirements }' })
  return undefined
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
