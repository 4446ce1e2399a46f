import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import {
  issueL402Macaroon,
  makeL402AuthenticateHeader,
  parseL402Authorization,
  verifyL402Macaroon,
} from '@getalby/lightning-tools/402/l402'
import { close, listen } from './http.js'
import { createLightningNode, type LightningNode, sha256Hex } from './lightningNode.js'

export type AlbyL402Server = {
  readonly url: string
  readonly node: LightningNode
  readonly stats: { challenges: number; accepted: number }
  close(): Promise<void>
}

/**
 * An L402 server built on Alby's own server helpers (`@getalby/lightning-tools/402/l402`): the
 * token is `issueL402Macaroon` (base64url JSON + HMAC, not a macaroon), the challenge is
 * `makeL402AuthenticateHeader` (`L402 version="0" token="…", invoice="…"`, with its missing comma),
 * and a credential is read with `parseL402Authorization` and `verifyL402Macaroon`, then checked
 * against the preimage and the node's settled invoices (the helpers check neither).
 */
export async function startAlbyL402Server(options: { priceMsat?: bigint } = {}): Promise<AlbyL402Server> {
  const node = createLightningNode()
  const secret = randomBytes(32).toString('hex')
  const stats = { challenges: 0, accepted: 0 }
  const server = createServer(async (request, response) => {
    request.resume()
    const credential = request.headers.authorization ? parseL402AuthorizationSafe(request.headers.authorization) : null
    if (credential) {
      try {
        const { paymentHash } = await verifyL402Macaroon(secret, credential.token)
        if (sha256Hex(credential.preimage) === paymentHash && node.isSettled(paymentHash)) {
          stats.accepted++
          response.writeHead(200, { 'content-type': 'application/json' })
          response.end(JSON.stringify({ ok: true, by: 'alby-helpers' }))
          return
        }
      } catch {}
    }
    stats.challenges++
    const { invoice, paymentHash } = node.createInvoice({ amountMsat: options.priceMsat ?? 10_000n })
    const token = await issueL402Macaroon(secret, paymentHash, { path: request.url ?? '/' })
    response.writeHead(402, {
      'www-authenticate': makeL402AuthenticateHeader({ token, invoice }),
      'content-type': 'text/plain',
    })
    response.end('payment required')
  })
  const url = await listen(server)
  return { url, node, stats, close: () => close(server) }
}

function parseL402AuthorizationSafe(header: string): { token: string; preimage: string } | null {
  try {
    return parseL402Authorization(header)
  } catch {
    return null
  }
}
