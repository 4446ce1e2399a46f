import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { close, listen, readJson, sendJson } from './http.js'
import { type LightningNode, sha256Hex } from './lightningNode.js'

/** One request a wallet server received. */
export type WalletRequestRecord = {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage['headers']
  readonly body: unknown
}

export type WalletServerBehavior = {
  /** Receives the request (and pays, unless `hangBeforePaying`), then never answers. */
  readonly hang?: boolean | undefined
  /** With `hang`: never pays either. */
  readonly hangBeforePaying?: boolean | undefined
  /** Answers with a preimage that does not hash to the payment hash. */
  readonly garbagePreimage?: boolean | undefined
  /** LNbits only: answer the POST the old way (no preimage) and settle on the first lookup. */
  readonly pending?: boolean | undefined
}

export type WalletServer = {
  readonly url: string
  readonly requests: WalletRequestRecord[]
  close(): Promise<void>
}

type Handler = (request: WalletRequestRecord, response: ServerResponse) => void

async function serve(behavior: WalletServerBehavior, handler: Handler): Promise<WalletServer> {
  const requests: WalletRequestRecord[] = []
  const server = createServer(async (request, response) => {
    const record = {
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: request.headers,
      body: await readJson(request),
    }
    requests.push(record)
    if (behavior.hang && behavior.hangBeforePaying) return
    handler(record, response)
  })
  const url = await listen(server)
  return { url, requests, close: () => close(server) }
}

// Pays through the node; a hanging wallet pays and then says nothing.
function payOrError(
  node: LightningNode,
  invoice: unknown,
  behavior: WalletServerBehavior,
): { preimage: string; amountMsat: bigint; feeMsat: bigint } | Error {
  try {
    const paid = node.pay(String(invoice))
    return behavior.garbagePreimage ? { ...paid, preimage: sha256Hex(paid.preimage) } : paid
  } catch (error) {
    return error as Error
  }
}

/**
 * lnd's REST `POST /v2/router/send` (SendPaymentV2): the macaroon in `Grpc-Metadata-macaroon`,
 * one streamed JSON line `{"result": Payment}` with `status` `SUCCEEDED` (hex `payment_preimage`,
 * `fee_msat` as a string) or `FAILED` (`failure_reason`); a rejected call answers the gRPC status
 * as JSON with HTTP 500, as grpc-gateway does.
 */
export function startLndRest(
  node: LightningNode,
  macaroonHex: string,
  behavior: WalletServerBehavior = {},
): Promise<WalletServer> {
  return serve(behavior, ({ path, headers, body }, response) => {
    if (path !== '/v2/router/send') return sendJson(response, 404, { code: 5, message: 'Not Found' })
    if (headers['grpc-metadata-macaroon'] !== macaroonHex)
      return sendJson(response, 500, {
        error: { code: 2, message: 'verification failed: signature mismatch after caveat verification', details: [] },
      })
    const paid = payOrError(node, (body as { payment_request?: unknown }).payment_request, behavior)
    if (behavior.hang) return
    response.writeHead(200, { 'content-type': 'application/json' })
    const payment =
      paid instanceof Error
        ? {
            status: 'FAILED',
            failure_reason: 'FAILURE_REASON_NO_ROUTE',
            payment_preimage: '0'.repeat(64),
            fee_msat: '0',
          }
        : {
            status: 'SUCCEEDED',
            payment_hash: sha256Hex(paid.preimage),
            payment_preimage: paid.preimage,
            value_msat: String(paid.amountMsat),
            fee_msat: String(paid.feeMsat),
            failure_reason: 'FAILURE_REASON_NONE',
          }
    response.end(`${JSON.stringify({ result: payment })}\n`)
  })
}

/**
 * Core Lightning's `clnrest` `POST /v1/pay`: a `Rune` header, `{ bolt11, maxfee, retry_for }`,
 * 201 with `payment_preimage`, `amount_msat`, `amount_sent_msat` and `status: "complete"`, or 500
 * with the RPC error (`205` unable to find a route).
 */
export function startClnRest(
  node: LightningNode,
  rune: string,
  behavior: WalletServerBehavior = {},
): Promise<WalletServer> {
  return serve(behavior, ({ path, headers, body }, response) => {
    if (path !== '/v1/pay') return sendJson(response, 404, { code: -32601, message: 'Unknown command' })
    if (headers.rune !== rune)
      return sendJson(response, 401, { code: 1501, message: 'Not authorized: Not derived from master' })
    const paid = payOrError(node, (body as { bolt11?: unknown }).bolt11, behavior)
    if (behavior.hang) return
    if (paid instanceof Error)
      return sendJson(response, 500, { code: 205, message: `Ran out of routes to try: ${paid.message}` })
    sendJson(response, 201, {
      payment_preimage: paid.preimage,
      payment_hash: sha256Hex(paid.preimage),
      amount_msat: Number(paid.amountMsat),
      amount_sent_msat: Number(paid.amountMsat + paid.feeMsat + 1000n),
      status: 'complete',
      parts: 1,
      created_at: Date.now() / 1000,
    })
  })
}

/**
 * LNbits' `POST /api/v1/payments` `{ out: true, bolt11 }` with the admin key in `X-Api-Key`: 201
 * with the payment (`status: "success"`, `preimage`, negative msat `fee`), or with `pending` the old
 * answer `{ payment_hash, checking_id }` and a `GET /api/v1/payments/{hash}` that reports it paid;
 * 520 with `detail` when the payment fails.
 */
export function startLnbits(
  node: LightningNode,
  adminKey: string,
  behavior: WalletServerBehavior = {},
): Promise<WalletServer> {
  const paidByHash = new Map<string, { preimage: string; feeMsat: bigint }>()
  return serve(behavior, ({ method, path, headers, body }, response) => {
    if (headers['x-api-key'] !== adminKey) return sendJson(response, 401, { detail: 'Invalid key' })
    const lookup = /^\/api\/v1\/payments\/([0-9a-f]{64})$/.exec(path)
    if (method === 'GET' && lookup) {
      const paid = paidByHash.get(lookup[1] as string)
      if (!paid) return sendJson(response, 404, { detail: 'Payment does not exist.' })
      return sendJson(response, 200, {
        paid: true,
        preimage: paid.preimage,
        details: { status: 'success', fee: -Number(paid.feeMsat), preimage: paid.preimage },
      })
    }
    if (method !== 'POST' || path !== '/api/v1/payments') return sendJson(response, 404, { detail: 'Not Found' })
    const paid = payOrError(node, (body as { bolt11?: unknown }).bolt11, behavior)
    if (behavior.hang) return
    if (paid instanceof Error) return sendJson(response, 520, { detail: paid.message })
    const paymentHash = sha256Hex(paid.preimage)
    const feeMsat = paid.feeMsat + 2000n
    paidByHash.set(paymentHash, { preimage: paid.preimage, feeMsat })
    if (behavior.pending) return sendJson(response, 201, { payment_hash: paymentHash, checking_id: paymentHash })
    sendJson(response, 201, {
      payment_hash: paymentHash,
      checking_id: paymentHash,
      amount: -Number(paid.amountMsat),
      fee: -Number(feeMsat),
      preimage: paid.preimage,
      status: 'success',
    })
  })
}
