import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { importMacaroon, newMacaroon } from 'macaroon'
import { close, listen } from './http.js'
import { createLightningNode, type InvoiceOptions, type LightningNode, sha256Hex } from './lightningNode.js'

export type L402ServerOptions = {
  /** The node that issues and settles invoices. Default: a new one. */
  readonly node?: LightningNode | undefined
  /** The price of every resource in msat. Default 21 000 (21 sats). */
  readonly priceMsat?: bigint | undefined
  /** The Aperture service name in the caveats. Default `demo`. */
  readonly service?: string | undefined
  /** `lsat+l402`: Aperture's two header lines, LSAT first. Default `l402`. */
  readonly scheme?: 'l402' | 'lsat+l402' | undefined
  /** The parameter carrying the token: the 2026 spec's `token=` or the older `macaroon=` (default). */
  readonly tokenParam?: 'macaroon' | 'token' | undefined
  /** Adds `version="0"` before the token. */
  readonly version?: boolean | undefined
  /** Adds an MPP `Payment` challenge line before the L402 one. */
  readonly mpp?: boolean | undefined
  /** Seconds a paid token stays valid (`<service>_valid_until`). Default 3600. */
  readonly tokenTtlSeconds?: number | undefined
  /** Overrides for each invoice: amountless, expired, another network… */
  readonly invoice?: InvoiceOptions | undefined
  /** Mints the macaroon over a payment hash that is not the invoice's. */
  readonly mismatchHash?: boolean | undefined
  /** Answers 402 even to a valid credential (a server that keeps asking). */
  readonly rejectAll?: boolean | undefined
  /** Delays every 402 challenge by this many ms (to line up concurrent callers). */
  readonly challengeDelayMs?: number | undefined
  /** Serves each token this many requests, then answers 402 to it (a metered token). Default: no limit. */
  readonly usesPerToken?: number | undefined
}

export type L402Server = {
  readonly url: string
  readonly node: LightningNode
  /** Challenges issued, credentials accepted, credentials refused. */
  readonly stats: { challenges: number; accepted: number; refused: number }
  /** Every Authorization header received, in order. */
  readonly authorizations: string[]
  /** Rotates the root key: every token issued so far stops verifying (expiry, revocation). */
  rotateRootKey(): void
  close(): Promise<void>
}

// Aperture's credential regex (`l402/header.go`): one token, a colon, 64 lowercase hex.
const credentialPattern = /^(?:LSAT|L402) (.+?):([a-f0-9]{64})$/

/**
 * An L402 server that behaves like Aperture: every request without a valid credential gets 402
 * with a fresh challenge; the token is a real V2 macaroon (location `lsat`, identifier
 * `uint16 0 ‖ payment_hash ‖ token_id`, caveats `services=<service>:0` and
 * `<service>_valid_until=<unix>`) over a real signed invoice from `node`. A credential is accepted
 * when the macaroon verifies under the root key, its caveats hold, `sha256(preimage)` is the
 * identifier's payment hash and the node has settled that invoice.
 */
export async function startL402Server(options: L402ServerOptions = {}): Promise<L402Server> {
  const node = options.node ?? createLightningNode()
  const service = options.service ?? 'demo'
  const stats = { challenges: 0, accepted: 0, refused: 0 }
  const authorizations: string[] = []
  // Requests served per payment hash, for `usesPerToken`.
  const uses = new Map<string, number>()
  let rootKey = randomBytes(32)

  function mint(paymentHash: string): string {
    const identifier = Buffer.concat([Buffer.from([0, 0]), Buffer.from(paymentHash, 'hex'), randomBytes(32)])
    const macaroon = newMacaroon({ version: 2, rootKey, identifier, location: 'lsat' })
    macaroon.addFirstPartyCaveat(`services=${service}:0`)
    macaroon.addFirstPartyCaveat(
      `${service}_valid_until=${Math.floor(Date.now() / 1000) + (options.tokenTtlSeconds ?? 3600)}`,
    )
    // Aperture sends Go's StdEncoding base64.
    return Buffer.from(macaroon.exportBinary()).toString('base64')
  }

  function verify(header: string | undefined): boolean {
    const match = header ? credentialPattern.exec(header) : null
    if (!match) return false
    const [, token, preimage] = match as unknown as [string, string, string]
    try {
      const macaroon = importMacaroon(token)
      const identifier = Buffer.from(macaroon.identifier)
      if (identifier.length !== 66 || identifier.readUInt16BE(0) !== 0) return false
      const paymentHash = identifier.subarray(2, 34).toString('hex')
      if (sha256Hex(preimage) !== paymentHash) return false
      const now = Math.floor(Date.now() / 1000)
      macaroon.verify(rootKey, (condition) => {
        const [key, value = ''] = condition.split('=', 2) as [string, string?]
        if (key === 'services')
          return value.split(',').some((entry) => entry.startsWith(`${service}:`)) ? null : 'service not granted'
        if (key === `${service}_valid_until`) return Number(value) > now ? null : 'expired'
        return null // unknown caveats are skipped, as the spec says
      })
      // Aperture also asks its node whether the invoice is settled.
      if (!node.isSettled(paymentHash)) return false
      const used = uses.get(paymentHash) ?? 0
      if (used >= (options.usesPerToken ?? Number.POSITIVE_INFINITY)) return false
      uses.set(paymentHash, used + 1)
      return true
    } catch {
      return false
    }
  }

  function challenge(response: ServerResponse): void {
    stats.challenges++
    const { invoice, paymentHash } = node.createInvoice({
      amountMsat: options.priceMsat ?? 21_000n,
      ...options.invoice,
    })
    const token = mint(options.mismatchHash ? sha256Hex(randomBytes(32)) : paymentHash)
    const params = `${options.version ? 'version="0", ' : ''}${options.tokenParam ?? 'macaroon'}="${token}", invoice="${invoice}"`
    const lines = [
      ...(options.mpp
        ? [
            'Payment id="kM9xPqWvT2nJrHsY4aDfEb", realm="api.example.com", method="lightning", intent="charge", request="eyJhbW91bnQiOiIxMDAwIn0"',
          ]
        : []),
    ]
    if (options.scheme === 'lsat+l402') lines.push(`LSAT ${params}`)
    lines.push(`L402 ${params}`)
    response.writeHead(402, {
      'www-authenticate': lines,
      'cache-control': 'no-store',
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'WWW-Authenticate',
      'content-type': 'text/plain',
    })
    response.end('payment required')
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const authorization = request.headers.authorization
    if (authorization) authorizations.push(authorization)
    request.resume()
    if (!options.rejectAll && verify(authorization)) {
      stats.accepted++
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ ok: true, path: request.url }))
      return
    }
    if (authorization) stats.refused++
    if (options.challengeDelayMs) setTimeout(() => challenge(response), options.challengeDelayMs)
    else challenge(response)
  })
  const url = await listen(server)
  return {
    url,
    node,
    stats,
    authorizations,
    rotateRootKey: () => (rootKey = randomBytes(32)),
    close: () => close(server),
  }
}
