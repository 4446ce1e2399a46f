import { generateKeyPairSync, sign } from 'node:crypto'
import { createServer } from 'node:http'
import { HTTPFacilitatorClient } from '@x402/core/server'
import { ExactEvmScheme } from '@x402/evm/exact/server'
import { paymentMiddleware, x402ResourceServer } from '@x402/express'
import {
  createEIP712OfferReceiptIssuer,
  createJWSOfferReceiptIssuer,
  createOfferReceiptExtension,
  declareOfferReceiptExtension,
} from '@x402/extensions/offer-receipt'
import type { Address } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { v2Network } from './constants.js'
import { createExpressApp, toExpress } from './express.js'
import { close, listen } from './http.js'
import type { TestToken } from './installContracts.js'
import { json } from './routes.js'

export type OfferReceiptServerOptions = {
  readonly facilitatorUrl: string
  readonly token: TestToken
  /**
   * How the server signs: `eip712` with the key of its own `payTo` address (kid `did:pkh`), or
   * `jws` (EdDSA) with a key it publishes at `/.well-known/did.json` (kid `did:web:<its host>#key-1`).
   */
  readonly format: 'eip712' | 'jws'
  /** Where the JWS server's payments go (the EIP-712 server is paid at its signing address). */
  readonly payTo: Address
  /** The price of `GET /report` and `GET /unsigned`, in atomic units. Default 10 000. */
  readonly amount?: bigint
}

export type OfferReceiptServer = {
  readonly url: string
  /** Where its payments go. */
  readonly payTo: Address
  /** The key id its signatures name. */
  readonly kid: string
  /** Paths requested, oldest first (to count DID document fetches). */
  readonly requests: readonly string[]
  close(): Promise<void>
}

/**
 * The x402 v2 reference server (`@x402/express`) with the reference offer-receipt extension
 * (`createOfferReceiptExtension` and its EIP-712 or JWS issuer): `GET /report` declares it
 * (`declareOfferReceiptExtension`, transaction hash in the receipt), so its 402 carries a signed
 * offer per option and its paid answer a signed receipt; `GET /unsigned` is the same route without it.
 */
export async function startOfferReceiptServer(options: OfferReceiptServerOptions): Promise<OfferReceiptServer> {
  const { facilitatorUrl, token, format } = options
  const server = createServer()
  const url = await listen(server)
  const host = new URL(url).host
  const requests: string[] = []
  let payTo = options.payTo
  let kid: string
  let issuer: ReturnType<typeof createJWSOfferReceiptIssuer>
  let didDocument: unknown
  if (format === 'eip712') {
    const signing = privateKeyToAccount(generatePrivateKey())
    payTo = signing.address
    kid = `did:pkh:eip155:1:${signing.address}`
    issuer = createEIP712OfferReceiptIssuer(kid, (params) =>
      signing.signTypedData(params as Parameters<typeof signing.signTypedData>[0]),
    )
  } else {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const did = `did:web:${encodeURIComponent(host)}`
    kid = `${did}#key-1`
    didDocument = {
      '@context': ['https://www.w3.org/ns/did/v1'],
      id: did,
      verificationMethod: [
        { id: kid, type: 'JsonWebKey2020', controller: did, publicKeyJwk: publicKey.export({ format: 'jwk' }) },
      ],
      assertionMethod: [kid],
    }
    issuer = createJWSOfferReceiptIssuer(kid, {
      kid,
      format: 'jws',
      algorithm: 'EdDSA',
      sign: async (payload) => sign(null, payload, privateKey).toString('base64url'),
    })
  }
  const resourceServer = new x402ResourceServer(new HTTPFacilitatorClient({ url: facilitatorUrl }))
    .register(v2Network, new ExactEvmScheme())
    .registerExtension(createOfferReceiptExtension(issuer))
  const route = (signed: boolean) => ({
    accepts: {
      scheme: 'exact',
      network: v2Network,
      payTo,
      maxTimeoutSeconds: 60,
      price: {
        amount: (options.amount ?? 10_000n).toString(),
        asset: token.address,
        extra: { name: token.name, version: token.version },
      },
    },
    ...(signed && { extensions: declareOfferReceiptExtension({ includeTxHash: true }) }),
    mimeType: 'application/json',
  })
  const app = createExpressApp()
  app.use((request, _response, next) => {
    requests.push(new URL(request.url ?? '/', url).pathname)
    next()
  })
  if (didDocument)
    app.get(
      '/.well-known/did.json',
      toExpress(() => json(didDocument)),
    )
  app.use(paymentMiddleware({ 'GET /report': route(true), 'GET /unsigned': route(false) }, resourceServer))
  app.get(
    '/report',
    toExpress(() => json({ report: 'quarterly' })),
  )
  app.get(
    '/unsigned',
    toExpress(() => json({ report: 'unsigned' })),
  )
  server.on('request', app)
  return { url, payTo, kid, requests, close: () => close(server) }
}
