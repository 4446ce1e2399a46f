import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import { type Address, type Hex, keccak256, verifyTypedData } from 'viem'
import { close, decodeBase64Json, encodeBase64Json, listen, readBody } from '../../examples/local-stack/http.js'

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

export type Merchant = {
  url: string
  seen: Seen[]
  /** Proofs that verified, in arrival order. */
  settled: { nonce: Hex; from: Address; value: string }[]
  /** Answers 402 with a v2 challenge, or verifies the proof: 200 with PAYMENT-RESPONSE, 402 when invalid. */
  charge(request: Seen, response: ServerResponse, accepts: Requirement[], paid: () => void): Promise<void>
  close(): Promise<void>
}

/**
 * A loopback x402 v2 merchant that checks proofs for real (EIP-712 signature recovery, `accepted`
 * echo, single-use nonce) without a chain: enough to test the paying loop's behaviour on the wire.
 * The chain itself is covered by the e2e tests.
 */
export async function startMerchant(routes: Record<string, Handler>): Promise<Merchant> {
  const seen: Seen[] = []
  const settled: Merchant['settled'] = []
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    const entry: Seen = { method: request.method ?? 'GET', path: url.pathname, headers: request.headers, body: Buffer.from(await readBody(request)) }
    seen.push(entry)
    const handler = routes[`${entry.method} ${url.pathname}`] ?? routes[url.pathname]
    if (!handler) {
      response.writeHead(404).end()
      return
    }
    try {
      await handler(entry, response, merchant)
    } catch (error) {
      response.writeHead(500).end(String(error))
    }
  })
  const base = await listen(server)
  const merchant: Merchant = {
    url: base,
    seen,
    settled,
    async charge(request, response, accepts, paid) {
      const resource = { url: `${base}${request.path}`, description: 'test resource', mimeType: 'application/json' }
      const challenge = (error: string, headers: OutgoingHttpHeaders = {}) => {
        response.writeHead(402, { 'payment-required': encodeBase64Json({ x402Version: 2, error, resource, accepts }), 'content-type': 'application/json', ...headers })
        response.end('{}')
      }
      const header = request.headers['payment-signature']
      if (typeof header !== 'string') return challenge('PAYMENT-SIGNATURE header is required')
      const proof = decodeBase64Json(header) as { accepted: Requirement; payload: { signature: Hex; authorization: Record<string, string> } }
      const accepted = accepts.find((candidate) => JSON.stringify(candidate) === JSON.stringify(proof.accepted))
      if (!accepted) return challenge('no matching requirement')
      const { authorization, signature } = proof.payload
      const valid = await verifyTypedData({
        address: authorization.from as Address,
        domain: { ...(accepted.extra as { name: string; version: string }), chainId: Number(String(accepted.network).split(':')[1]), verifyingContract: accepted.asset as Address },
        types: {
          TransferWithAuthorization: [
            { name: 'from', type: 'address' },
            { name: 'to', type: 'address' },
            { name: 'value', type: 'uint256' },
            { name: 'validAfter', type: 'uint256' },
            { name: 'validBefore', type: 'uint256' },
            { name: 'nonce', type: 'bytes32' },
          ],
        },
        primaryType: 'TransferWithAuthorization',
        message: { ...authorization, value: BigInt(authorization.value ?? 0), validAfter: BigInt(authorization.validAfter ?? 0), validBefore: BigInt(authorization.validBefore ?? 0) } as never,
        signature,
      })
      const fresh = !settled.some((entry) => entry.nonce === authorization.nonce)
      if (!valid || !fresh || authorization.value !== accepted.amount || authorization.to?.toLowerCase() !== String(accepted.payTo).toLowerCase())
        return challenge(valid ? 'authorization reused or wrong' : 'invalid signature')
      settled.push({ nonce: authorization.nonce as Hex, from: authorization.from as Address, value: String(authorization.value) })
      const settlement = { success: true, transaction: keccak256(signature), network: accepted.network, payer: authorization.from }
      response.setHeader('payment-response', encodeBase64Json(settlement))
      paid()
    },
    close: () => close(server),
  }
  return merchant
}
