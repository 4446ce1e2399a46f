import { randomBytes } from 'node:crypto'
import { type ChargeMethod, type ChargeRoute, type ChargeServer, problem, startChargeServer } from './chargeServer.js'
import { type LightningNode, sha256Hex } from './lightningNode.js'
import { decodeJson, isObject } from './paymentAuth.js'
import { echo, json } from './routes.js'

/** How a Lightning charge route is priced, and how a misbehaving route lies about it. */
export type LightningTerms = {
  /** The price in satoshis: `request.amount`, and the invoice amount unless `overchargeTimes` is set. */
  readonly sat: bigint
  /** Issues each invoice this many seconds in the past (with the node's 600 s expiry: past 600, it has expired). */
  readonly invoiceAgeSeconds?: number | undefined
  /** Misbehaving server: `methodDetails.paymentHash` is not the invoice's. Clients must refuse to pay. */
  readonly lieAboutPaymentHash?: boolean | undefined
  /** Misbehaving server: the invoice asks for this many times `amount`. Clients must refuse to pay. */
  readonly overchargeTimes?: bigint | undefined
}

export type LightningChargeRoute = ChargeRoute<LightningTerms>

const invoiceExpirySeconds = 600
const problems = 'https://paymentauth.org/problems/lightning/'

/** The routes of the Lightning charge server unless a caller passes its own. */
export const defaultLightningChargeRoutes: readonly LightningChargeRoute[] = [
  {
    method: 'GET',
    path: '/weather',
    terms: { sat: 100n },
    description: 'weather report',
    handler: () => json({ weather: 'sunny', temperature: 21, paidWith: 'lightning' }),
  },
  { method: 'POST', path: '/echo', terms: { sat: 100n }, handler: echo },
  { method: 'POST', path: '/echo-bound', terms: { sat: 100n }, bindBody: true, handler: echo },
  { method: 'GET', path: '/pricey', terms: { sat: 50_000n }, handler: () => json({ pricey: true }) },
  {
    method: 'GET',
    path: '/expired',
    terms: { sat: 100n, invoiceAgeSeconds: invoiceExpirySeconds + 60 },
    expiresInSeconds: -60,
    handler: () => json({ expired: false }),
  },
  {
    method: 'GET',
    path: '/lying-hash',
    terms: { sat: 100n, lieAboutPaymentHash: true },
    handler: () => json({ lied: 'paymentHash' }),
  },
  {
    method: 'GET',
    path: '/overcharge',
    terms: { sat: 100n, overchargeTimes: 10n },
    handler: () => json({ lied: 'amount' }),
  },
]

type Issued = { readonly paymentHash: string; readonly amount: string; readonly invoiceExpiresAt: number }

/**
 * The `lightning` charge method of draft-lightning-charge-00: each challenge carries a fresh BOLT11
 * invoice signed by `node` (`regtest`), `methodDetails.{invoice, paymentHash, network}`, and an
 * `expires` no later than the invoice's; the server keeps the payment hash by challenge id. The
 * credential's `payload.preimage` (64 lowercase hex) must hash to it; the receipt's `reference` is
 * the payment hash. Problem types are the draft's `…/problems/lightning/*`.
 */
export function lightningChargeMethod(node: LightningNode): ChargeMethod<LightningTerms, Issued> {
  return {
    name: 'lightning',
    problems: {
      malformed: `${problems}malformed-credential`,
      unknownChallenge: `${problems}unknown-challenge`,
      expired: `${problems}expired-invoice`,
    },
    async issue(route) {
      const { sat, invoiceAgeSeconds = 0, overchargeTimes = 1n } = route.terms
      const timestamp = Math.floor(Date.now() / 1000) - invoiceAgeSeconds
      const { invoice, paymentHash } = node.createInvoice({
        amountMsat: sat * overchargeTimes * 1000n,
        network: 'regtest',
        timestamp,
        expirySeconds: invoiceExpirySeconds,
        description: route.description ?? route.path,
      })
      const invoiceExpiresAt = (timestamp + invoiceExpirySeconds) * 1000
      const amount = sat.toString()
      const request = {
        amount,
        currency: 'sat',
        ...(route.description === undefined ? {} : { description: route.description }),
        methodDetails: {
          invoice,
          paymentHash: route.terms.lieAboutPaymentHash ? randomBytes(32).toString('hex') : paymentHash,
          network: 'regtest',
        },
      }
      return { request, state: { paymentHash, amount, invoiceExpiresAt }, expires: new Date(invoiceExpiresAt) }
    },
    malformedPayload(payload) {
      const { preimage } = payload
      return typeof preimage === 'string' && /^[0-9a-f]{64}$/.test(preimage)
        ? undefined
        : 'payload.preimage must be 64 lowercase hex characters'
    },
    async verify({ payload, state, credential }) {
      const echoed = decodeJson(String(credential.challenge.request))
      if (!isObject(echoed) || echoed.amount !== state.amount || echoed.currency !== 'sat')
        return problem(`${problems}unknown-challenge`, 'Unknown Challenge', 'the request does not match the invoice')
      if (state.invoiceExpiresAt <= Date.now())
        return problem(`${problems}expired-invoice`, 'Expired Invoice', 'the invoice has expired')
      if (sha256Hex(payload.preimage as string) !== state.paymentHash)
        return problem(
          `${problems}invalid-preimage`,
          'Invalid Preimage',
          'SHA-256 of the provided preimage does not match the stored payment hash',
        )
      return { reference: state.paymentHash }
    },
  }
}

/**
 * A Lightning `charge` server (draft-lightning-charge-00) on 127.0.0.1 whose invoices `node`
 * issues and settles. Routes: {@link defaultLightningChargeRoutes} unless given.
 */
export function startLightningChargeServer(
  node: LightningNode,
  routes: readonly LightningChargeRoute[] = defaultLightningChargeRoutes,
): Promise<ChargeServer> {
  return startChargeServer(lightningChargeMethod(node), routes)
}
