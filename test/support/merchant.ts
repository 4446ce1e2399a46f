import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import {
  declarePaymentIdentifierExtension,
  extractAndValidatePaymentIdentifier,
  validatePaymentIdentifierRequirement,
} from '@x402/extensions/payment-identifier'
import { type Address, type Hex, keccak256, verifyTypedData } from 'viem'
import { close, decodeBase64Json, encodeBase64Json, listen, readBody } from '../../examples/local-stack/http.js'
import { transferWithAuthorizationTypes } from './eip3009.js'

/** USDC on Base Sepolia: a stablecoin payfetch knows, so the default caps apply. */
export const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
export const payTo = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'

export type Seen = { method: string; path: string; headers: IncomingMessage['headers']; body: Buffer }

export type Requirement = Record<string, unknown>

/** A requirement in x402 v2 form, priced in Base Sepolia USDC unless overridden. */
export function requirement(overrides: Requirement = {}): Requirement {
  return {
    scheme: 'exact',
    network: 'eip155:84532',
    amount: '10000',
    asset: usdc,
    payTo,
    maxTimeoutSeconds: 60,
    extra: { name: 'USDC', version: '2' },
    ...overrides,
  }
}

type Handler = (request: Seen, response: ServerResponse, merchant: Merchant) => void | Promise<void>

export type MerchantOptions = {
  /**
   * Declare the x402 `payment-identifier` extension in every 402 (with `required`), and answer a
   * proof whose id was seen before from a cache, as x402 servers make retries idempotent: same id
   * and same payload → the first answer again, settled once; same id, other payload → 409.
   */
  paymentIdentifier?: { required: boolean } | undefined
  /** Wait this long after receiving a proof before verifying it (a slow facilitator). */
  delayMs?: number | undefined
  /** More extensions every 402 declares, made per 402 for the resource URL (sign-in-with-x's fresh nonce). */
  extensions?: ((resourceUrl: string) => Record<string, unknown>) | undefined
}

export type ChargeOptions = {
  /**
   * Lose the answer on the wire: the socket is destroyed instead of answering (after settling and
   * recording the answer for the payment-identifier cache). Asked once per proof; `true` loses it.
   */
  loseResponse?: (() => boolean) | undefined
}

type Cached = { status: number; headers: OutgoingHttpHeaders; body: Buffer }

export type Merchant = {
  url: string
  seen: Seen[]
  /** Proofs that verified, in arrival order. */
  settled: { nonce: Hex; from: Address; value: string }[]
  /** Answers served from the payment-identifier cache, without settling again. */
  replayed: number
  /** Proofs refused with 409 because their payment id came with another payload. */
  conflicts: number
  /** The sum of the settled values, in atomic units. */
  settledTotal(): bigint
  /** Resolves once `count` proofs have settled. */
  whenSettled(count: number): Promise<void>
  /** Answers 402 with a v2 challenge, or verifies the proof: 200 with PAYMENT-RESPONSE, 402 when invalid. */
  charge(
    request: Seen,
    response: ServerResponse,
    accepts: Requirement[],
    paid: () => unknown,
    options?: ChargeOptions,
  ): Promise<void>
  close(): Promise<void>
}

/**
 * A loopback x402 v2 merchant that checks proofs for real (EIP-712 signature recovery, `accepted`
 * echo, single-use nonce) without a chain: enough to test the paying loop's behaviour on the wire.
 * The chain itself is covered by the e2e tests.
 */
export async function startMerchant(routes: Record<string, Handler>, options: MerchantOptions = {}): Promise<Merchant> {
  const seen: Seen[] = []
  const settled: Merchant['settled'] = []
  const waiters: { count: number; resolve: () => void }[] = []
  // payment id → the payload it came with and the answer it got (pending while the handler runs).
  const answers = new Map<string, { payload: string; answer: Promise<Cached> }>()
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const entry: Seen = {
      method: request.method ?? 'GET',
      path: url.pathname,
      headers: request.headers,
      body: Buffer.from(await readBody(request)),
    }
    seen.push(entry)
    // Writing to a client that is gone (killed, timed out) is not the merchant's failure.
    response.on('error', () => {})
    const handler = routes[`${entry.method} ${url.pathname}`] ?? routes[url.pathname]
    if (!handler) {
      response.writeHead(404).end()
      return
    }
    try {
      await handler(entry, response, merchant)
    } catch (error) {
      if (!response.headersSent) response.writeHead(500)
      response.end(String(error))
    }
  })
  const base = await listen(server)
  const extensions = options.paymentIdentifier
    ? { 'payment-identifier': declarePaymentIdentifierExtension(options.paymentIdentifier.required) }
    : undefined

  const merchant: Merchant = {
    url: base,
    seen,
    settled,
    replayed: 0,
    conflicts: 0,
    settledTotal: () => settled.reduce((sum, entry) => sum + BigInt(entry.value), 0n),
    whenSettled(count) {
      if (settled.length >= count) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ count, resolve }))
    },
    async charge(request, response, accepts, paid, chargeOptions = {}) {
      const resource = { url: `${base}${request.path}`, description: 'test resource', mimeType: 'application/json' }
      const declared = { ...extensions, ...options.extensions?.(resource.url) }
      const challenge = (error: string, headers: OutgoingHttpHeaders = {}) => {
        const required = {
          x402Version: 2,
          error,
          resource,
          accepts,
          ...(Object.keys(declared).length > 0 ? { extensions: declared } : {}),
        }
        response.writeHead(402, {
          'payment-required': encodeBase64Json(required),
          'content-type': 'application/json',
          ...headers,
        })
        response.end('{}')
      }
      const header = request.headers['payment-signature']
      if (typeof header !== 'string') return challenge('PAYMENT-SIGNATURE header is required')
      const proof = decodeBase64Json(header) as {
        accepted: Requirement
        payload: { signature: Hex; authorization: Record<string, string> }
        extensions?: Record<string, unknown>
      }
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs))
      const lose = chargeOptions.loseResponse?.() ?? false

      let paymentId: string | undefined
      if (options.paymentIdentifier) {
        // The reference server's own checks of the extension (@x402/extensions).
        const required = validatePaymentIdentifierRequirement(proof as never, options.paymentIdentifier.required)
        const { id, validation } = extractAndValidatePaymentIdentifier(proof as never)
        if (!required.valid || !validation.valid) {
          response.writeHead(400, { 'content-type': 'application/json' })
          return void response.end(
            JSON.stringify({ error: [...(required.errors ?? []), ...(validation.errors ?? [])].join('; ') }),
          )
        }
        paymentId = id ?? undefined
        const earlier = paymentId === undefined ? undefined : answers.get(paymentId)
        if (earlier) {
          if (earlier.payload !== fingerprint(proof)) {
            merchant.conflicts++
            response.writeHead(409, { 'content-type': 'application/json' })
            return void response.end(JSON.stringify({ error: 'payment id reused with a different payload' }))
          }
          const answer = await earlier.answer
          merchant.replayed++
          if (lose) return void response.socket?.destroy()
          response.writeHead(answer.status, answer.headers)
          return void response.end(answer.body)
        }
      }

      const accepted = accepts.find((candidate) => JSON.stringify(candidate) === JSON.stringify(proof.accepted))
      if (!accepted) return challenge('no matching requirement')
      const { authorization, signature } = proof.payload
      const valid = await verifyTypedData({
        address: authorization.from as Address,
        domain: {
          ...(accepted.extra as { name: string; version: string }),
          chainId: Number(String(accepted.network).split(':')[1]),
          verifyingContract: accepted.asset as Address,
        },
        types: transferWithAuthorizationTypes,
        primaryType: 'TransferWithAuthorization',
        message: {
          ...authorization,
          value: BigInt(authorization.value ?? 0),
          validAfter: BigInt(authorization.validAfter ?? 0),
          validBefore: BigInt(authorization.validBefore ?? 0),
        } as never,
        signature,
      })
      const fresh = !settled.some((entry) => entry.nonce === authorization.nonce)
      if (
        !valid ||
        !fresh ||
        authorization.value !== accepted.amount ||
        authorization.to?.toLowerCase() !== String(accepted.payTo).toLowerCase()
      )
        return challenge(valid ? 'authorization reused or wrong' : 'invalid signature')
      settled.push({
        nonce: authorization.nonce as Hex,
        from: authorization.from as Address,
        value: String(authorization.value),
      })
      for (const waiter of waiters.filter((candidate) => settled.length >= candidate.count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
      const settlement = {
        success: true,
        transaction: keccak256(signature),
        network: accepted.network,
        payer: authorization.from,
      }
      response.setHeader('payment-response', encodeBase64Json(settlement))
      if (paymentId !== undefined || lose) {
        const answer = recordAnswer(response, lose)
        if (paymentId !== undefined) answers.set(paymentId, { payload: fingerprint(proof), answer })
      }
      await paid()
    },
    close: () => close(server),
  }
  return merchant
}

// Same payment means the same authorization and the same accepted requirement (a re-signed
// authorization has a fresh nonce and signature, so it is another payload).
function fingerprint(proof: { accepted: unknown; payload: unknown }): string {
  return JSON.stringify([proof.accepted, proof.payload])
}

/**
 * Records what the handler answers (status, headers, body) as it ends the response. With `lose`,
 * the answer is recorded and then lost: the socket is destroyed before anything is sent.
 */
function recordAnswer(response: ServerResponse, lose: boolean): Promise<Cached> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let status: number | undefined
    let written: OutgoingHttpHeaders = {}
    const writeHead = response.writeHead.bind(response)
    const write = response.write.bind(response)
    const end = response.end.bind(response)
    response.writeHead = ((code: number, ...rest: unknown[]) => {
      status = code
      const headers = rest.find((value) => typeof value === 'object' && value !== null)
      if (headers) written = { ...written, ...(headers as OutgoingHttpHeaders) }
      if (!lose) writeHead(code, ...(rest as []))
      return response
    }) as typeof response.writeHead
    response.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk !== undefined && chunk !== null) chunks.push(Buffer.from(chunk as string))
      return lose ? true : write(chunk as string, ...(rest as []))
    }) as typeof response.write
    response.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (chunk !== undefined && chunk !== null && typeof chunk !== 'function')
        chunks.push(Buffer.from(chunk as string))
      resolve({
        status: status ?? response.statusCode,
        headers: { ...response.getHeaders(), ...written },
        body: Buffer.concat(chunks),
      })
      if (lose) response.socket?.destroy()
      else end(chunk as string, ...(rest as []))
      return response
    }) as typeof response.end
  })
}
