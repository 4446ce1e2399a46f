import { createServer } from 'node:http'
import { HTTPFacilitatorClient } from '@x402/core/server'
import { ExactEvmScheme } from '@x402/evm/exact/server'
import { paymentMiddleware, x402ResourceServer } from '@x402/express'
import {
  createSIWxResourceServerExtension,
  declareSIWxExtension,
  InMemorySIWxStorage,
  type SIWxHookEvent,
} from '@x402/extensions/sign-in-with-x'
import { ExactSvmScheme } from '@x402/svm/exact/server'
import type { Address } from 'viem'
import { v2Network } from './constants.js'
import { createExpressApp, toExpress } from './express.js'
import { close, listen } from './http.js'
import type { TestToken } from './installContracts.js'
import { json } from './routes.js'

export type SiwxServerOptions = {
  readonly facilitatorUrl: string
  /** The EVM token paid on the local anvil chain; ignored with `solana`. */
  readonly token?: TestToken
  /**
   * Paid on Solana instead: the mint and network of the local Solana stack, through `@x402/svm` (its
   * facilitator supplies the fee payer); the sign-in is then SIWS.
   */
  readonly solana?: { readonly network: string; readonly mint: string }
  readonly payTo: Address | string
  /** The price of `GET /report` and `GET /other`, in atomic units. Default 10 000. */
  readonly amount?: bigint
  /** The sign-in-with-x challenge's lifetime (`expirationTime`), in seconds. Default: none. */
  readonly expirationSeconds?: number
}

export type SiwxServer = {
  readonly url: string
  /** Who paid for which path, as the settle hook recorded it. */
  readonly storage: InMemorySIWxStorage
  /** Every event of the sign-in-with-x hooks (payment recorded, access granted, validation failed). */
  readonly events: readonly SIWxHookEvent[]
  close(): Promise<void>
}

/**
 * The x402 v2 reference server (`@x402/express`) with the reference sign-in-with-x extension:
 * `GET /report` and `GET /other` declare it (`declareSIWxExtension`); the extension's settle hook
 * records each payer per path in an `InMemorySIWxStorage`, and its request hook grants access to a
 * valid `SIGN-IN-WITH-X` signature from an address that paid for that path.
 */
export async function startSiwxServer(options: SiwxServerOptions): Promise<SiwxServer> {
  const { facilitatorUrl, token, payTo, solana } = options
  if (!solana && !token) throw new Error('startSiwxServer needs a token, or solana')
  const network = (solana?.network ?? v2Network) as typeof v2Network
  // The extension binds signatures to the server's origin: listen first to know it.
  const server = createServer()
  const url = await listen(server)
  const storage = new InMemorySIWxStorage()
  const events: SIWxHookEvent[] = []
  const resourceServer = new x402ResourceServer(new HTTPFacilitatorClient({ url: facilitatorUrl }))
    .register(network, solana ? new ExactSvmScheme() : new ExactEvmScheme())
    .registerExtension(createSIWxResourceServerExtension({ origin: url, storage, onEvent: (e) => events.push(e) }))
  const route = {
    accepts: {
      scheme: 'exact',
      network,
      payTo,
      maxTimeoutSeconds: 60,
      price: {
        amount: (options.amount ?? 10_000n).toString(),
        ...(solana
          ? { asset: solana.mint, extra: {} }
          : { asset: token?.address as string, extra: { name: token?.name, version: token?.version } }),
      },
    },
    extensions: declareSIWxExtension({
      network,
      statement: 'Sign in to read again what you paid for',
      ...(options.expirationSeconds === undefined ? {} : { expirationSeconds: options.expirationSeconds }),
    }),
    mimeType: 'application/json',
  }
  const app = createExpressApp()
  app.use(paymentMiddleware({ 'GET /report': route, 'GET /other': route }, resourceServer))
  app.get(
    '/report',
    toExpress(() => json({ report: 'quarterly' })),
  )
  app.get(
    '/other',
    toExpress(() => json({ report: 'other' })),
  )
  server.on('request', app)
  return { url, storage, events, close: () => close(server) }
}
