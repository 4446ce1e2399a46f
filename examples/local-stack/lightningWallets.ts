import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { close, listen, readJson, sendJson } from './http.js'
import { invoicePaymentHash, type LightningNode, sha256Hex } from './lightningNode.js'

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
  /** Pays (or fails to), then drops the connection without answering: the pay answer is lost. */
  readonly dropAnswer?: boolean | undefined
  /**
   * What a lookup reports instead of what the wallet did: `unknown` (never seen), `pending` (still
   * in flight) or `malformed` (an answer off the documented shape, carrying the real preimage).
   */
  readonly lookup?: 'unknown' | 'pending' | 'malformed' | undefined
}

/** What a wallet server did with one payment hash, as its lookup endpoint reports it. */
type Outgoing =
  | { readonly status: 'paid'; readonly preimage: string; readonly amountMsat: bigint; readonly feeMsat: bigint }
  | { readonly status: 'failed'; readonly reason: string }

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

// Pays through the node and remembers the outcome by payment hash for lookups; `feeMsat` is the
// fee this wallet reports on top of the node's.
function payOrError(
  node: LightningNode,
  invoice: unknown,
  behavior: WalletServerBehavior,
  outgoing: Map<string, Outgoing>,
  feeMsat = 0n,
): { paymentHash: string; preimage: string; amountMsat: bigint; feeMsat: bigint } | Error {
  const paymentHash = invoicePaymentHash(String(invoice))
  try {
    const paid = node.pay(String(invoice))
    const reported = { ...paid, paymentHash: sha256Hex(paid.preimage), feeMsat: paid.feeMsat + feeMsat }
    outgoing.set(reported.paymentHash, { status: 'paid', ...reported })
    return behavior.garbagePreimage ? { ...reported, preimage: sha256Hex(paid.preimage) } : reported
  } catch (error) {
    if (paymentHash) outgoing.set(paymentHash, { status: 'failed', reason: (error as Error).message })
    return error as Error
  }
}

/** Whether the pay answer is never sent: a hanging wallet says nothing, a dropping one closes the connection. */
function answerLost(response: ServerResponse, behavior: WalletServerBehavior): boolean {
  if (behavior.dropAnswer) response.socket?.destroy()
  return behavior.hang === true || behavior.dropAnswer === true
}

/** What a lookup reports for a hash: the behaviour's override, else what the wallet did. */
function lookedUp(outgoing: Map<string, Outgoing>, paymentHash: string, behavior: WalletServerBehavior) {
  const found = outgoing.get(paymentHash)
  if (behavior.lookup === 'unknown' || !found) return undefined
  if (behavior.lookup === 'pending') return 'pending' as const
  return found
}

/**
 * lnd's REST `POST /v2/router/send` (SendPaymentV2): the macaroon in `Grpc-Metadata-macaroon`,
 * one streamed JSON line `{"result": Payment}` with `status` `SUCCEEDED` (hex `payment_preimage`,
 * `fee_msat` as a string) or `FAILED` (`failure_reason`); a rejected call answers the gRPC status
 * as JSON with HTTP 500, as grpc-gateway does. `GET /v2/router/track/{payment_hash}`
 * (TrackPaymentV2, the hash as URL-safe base64) streams the payment's state now: a final one and
 * the stream ends, `IN_FLIGHT` and it stays open; a payment never sent is gRPC NOT_FOUND (HTTP 404).
 */
export function startLndRest(
  node: LightningNode,
  macaroonHex: string,
  behavior: WalletServerBehavior = {},
): Promise<WalletServer> {
  const outgoing = new Map<string, Outgoing>()
  return serve(behavior, ({ method, path, headers, body }, response) => {
    const track = /^\/v2\/router\/track\/([-\w]+=*)$/.exec(path)
    if (path !== '/v2/router/send' && !(method === 'GET' && track))
      return sendJson(response, 404, { code: 5, message: 'Not Found' })
    if (headers['grpc-metadata-macaroon'] !== macaroonHex)
      return sendJson(response, 500, {
        error: { code: 2, message: 'verification failed: signature mismatch after caveat verification', details: [] },
      })
    if (track) return trackLndPayment(response, Buffer.from(track[1] as string, 'base64url').toString('hex'))
    const paid = payOrError(node, (body as { payment_request?: unknown }).payment_request, behavior, outgoing)
    if (answerLost(response, behavior)) return
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
            payment_hash: paid.paymentHash,
            payment_preimage: paid.preimage,
            value_msat: String(paid.amountMsat),
            fee_msat: String(paid.feeMsat),
            failure_reason: 'FAILURE_REASON_NONE',
          }
    response.end(`${JSON.stringify({ result: payment })}\n`)
  })

  function trackLndPayment(response: ServerResponse, paymentHash: string) {
    const found = lookedUp(outgoing, paymentHash, behavior)
    if (!found) return sendJson(response, 404, { error: { code: 5, message: "payment isn't initiated", details: [] } })
    response.writeHead(200, { 'content-type': 'application/json' })
    const line = (payment: object) => `${JSON.stringify({ result: { payment_hash: paymentHash, ...payment } })}\n`
    if (found === 'pending')
      return response.write(line({ status: 'IN_FLIGHT', payment_preimage: '0'.repeat(64), fee_msat: '0' }))
    if (behavior.lookup === 'malformed')
      // A settled payment without the preimage lnd always sends with it.
      return response.end(line({ status: 'SUCCEEDED', fee_msat: '0' }))
    response.end(
      line(
        found.status === 'paid'
          ? {
              status: 'SUCCEEDED',
              payment_preimage: found.preimage,
              value_msat: String(found.amountMsat),
              fee_msat: String(found.feeMsat),
              failure_reason: 'FAILURE_REASON_NONE',
            }
          : { status: 'FAILED', payment_preimage: '0'.repeat(64), failure_reason: 'FAILURE_REASON_NO_ROUTE' },
      ),
    )
  }
}

/**
 * Core Lightning's `clnrest` `POST /v1/pay`: a `Rune` header, `{ bolt11, maxfee, retry_for }`,
 * 201 with `payment_preimage`, `amount_msat`, `amount_sent_msat` and `status: "complete"`, or 500
 * with the RPC error (`205` unable to find a route). `POST /v1/listpays` with `{ payment_hash }`
 * answers `{ pays }`: one entry per `pay` of that hash (`complete` with its `preimage`, `failed`,
 * `pending`), none when it was never paid.
 */
export function startClnRest(
  node: LightningNode,
  rune: string,
  behavior: WalletServerBehavior = {},
): Promise<WalletServer> {
  const outgoing = new Map<string, Outgoing>()
  return serve(behavior, ({ path, headers, body }, response) => {
    if (path !== '/v1/pay' && path !== '/v1/listpays')
      return sendJson(response, 404, { code: -32601, message: 'Unknown command' })
    if (headers.rune !== rune)
      return sendJson(response, 401, { code: 1501, message: 'Not authorized: Not derived from master' })
    if (path === '/v1/listpays') return listPays(response, String((body as { payment_hash?: unknown }).payment_hash))
    const paid = payOrError(node, (body as { bolt11?: unknown }).bolt11, behavior, outgoing, 1000n)
    if (answerLost(response, behavior)) return
    if (paid instanceof Error)
      return sendJson(response, 500, { code: 205, message: `Ran out of routes to try: ${paid.message}` })
    sendJson(response, 201, {
      payment_preimage: paid.preimage,
      payment_hash: paid.paymentHash,
      amount_msat: Number(paid.amountMsat),
      amount_sent_msat: Number(paid.amountMsat + paid.feeMsat),
      status: 'complete',
      parts: 1,
      created_at: Date.now() / 1000,
    })
  })

  function listPays(response: ServerResponse, paymentHash: string) {
    const found = lookedUp(outgoing, paymentHash, behavior)
    const created_at = Math.floor(Date.now() / 1000)
    if (!found) return sendJson(response, 201, { pays: [] })
    if (found === 'pending')
      return sendJson(response, 201, { pays: [{ payment_hash: paymentHash, status: 'pending', created_at }] })
    if (found.status === 'failed')
      return sendJson(response, 201, {
        pays: [{ payment_hash: paymentHash, status: 'failed', created_at, amount_sent_msat: 0 }],
      })
    const pay = {
      payment_hash: paymentHash,
      status: 'complete',
      created_at,
      completed_at: created_at,
      preimage: found.preimage,
      amount_msat: Number(found.amountMsat),
      amount_sent_msat: Number(found.amountMsat + found.feeMsat),
    }
    // One pay where listpays gives a list of them.
    sendJson(response, 201, behavior.lookup === 'malformed' ? { pays: pay } : { pays: [pay] })
  }
}

/**
 * LNbits' `POST /api/v1/payments` `{ out: true, bolt11 }` with the admin key in `X-Api-Key`: 201
 * with the payment (`status: "success"`, `preimage`, negative msat `fee`), or with `pending` the old
 * answer `{ payment_hash, checking_id }`; 520 with `detail` when the payment fails.
 * `GET /api/v1/payments/{hash}` answers `{ paid, preimage, details }` for a paid payment,
 * `{ paid: false, status: "failed", details }` for a failed one, 404 for one it never saw.
 */
export function startLnbits(
  node: LightningNode,
  adminKey: string,
  behavior: WalletServerBehavior = {},
): Promise<WalletServer> {
  const outgoing = new Map<string, Outgoing>()
  return serve(behavior, ({ method, path, headers, body }, response) => {
    if (headers['x-api-key'] !== adminKey) return sendJson(response, 401, { detail: 'Invalid key' })
    const lookup = /^\/api\/v1\/payments\/([0-9a-f]{64})$/.exec(path)
    if (method === 'GET' && lookup) return lookUpLnbits(response, lookup[1] as string)
    if (method !== 'POST' || path !== '/api/v1/payments') return sendJson(response, 404, { detail: 'Not Found' })
    const paid = payOrError(node, (body as { bolt11?: unknown }).bolt11, behavior, outgoing, 2000n)
    if (answerLost(response, behavior)) return
    if (paid instanceof Error) return sendJson(response, 520, { detail: paid.message })
    const { paymentHash } = paid
    if (behavior.pending) return sendJson(response, 201, { payment_hash: paymentHash, checking_id: paymentHash })
    sendJson(response, 201, {
      payment_hash: paymentHash,
      checking_id: paymentHash,
      amount: -Number(paid.amountMsat),
      fee: -Number(paid.feeMsat),
      preimage: paid.preimage,
      status: 'success',
    })
  })

  function lookUpLnbits(response: ServerResponse, paymentHash: string) {
    const found = lookedUp(outgoing, paymentHash, behavior)
    if (!found) return sendJson(response, 404, { detail: 'Payment does not exist.' })
    const details = { payment_hash: paymentHash, checking_id: paymentHash }
    if (found === 'pending')
      return sendJson(response, 200, {
        paid: false,
        status: 'pending',
        preimage: null,
        details: { ...details, status: 'pending' },
      })
    if (found.status === 'failed')
      return sendJson(response, 200, { paid: false, status: 'failed', details: { ...details, status: 'failed' } })
    // `paid` as text and no status: not the documented shape.
    if (behavior.lookup === 'malformed') return sendJson(response, 200, { paid: 'true', preimage: found.preimage })
    sendJson(response, 200, {
      paid: true,
      preimage: found.preimage,
      details: {
        ...details,
        status: 'success',
        amount: -Number(found.amountMsat),
        fee: -Number(found.feeMsat),
        preimage: found.preimage,
      },
    })
  }
}
