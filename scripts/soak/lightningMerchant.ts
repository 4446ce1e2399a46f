import { createHash, randomBytes } from 'node:crypto'
import { createServer, type RequestListener, type Server } from 'node:http'
import { createRequire } from 'node:module'
import bolt11 from 'bolt11'
import { close, listen, readBody } from '../../examples/local-stack/http.js'

type Macaroon = {
  readonly identifier: Uint8Array
  exportBinary(): Uint8Array
  verify(rootKey: Uint8Array, check: (caveat: string) => string | null): void
}
type MacaroonModule = {
  newMacaroon(options: { identifier: Uint8Array; location: string; rootKey: Uint8Array; version: number }): Macaroon
  importMacaroon(token: string): Macaroon
}
const { newMacaroon, importMacaroon } = createRequire(import.meta.url)('macaroon') as MacaroonModule
const regtest = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] }

/** An invoice the node settled: the merchant's own record of Lightning money received. */
export type SettledInvoice = { paymentHash: string; msat: bigint }

export type LightningMerchant = {
  /** The L402 origins (one server each, one node behind them all). */
  origins: string[]
  /**
   * The node: `POST /pay` an invoice to get its preimage (once per invoice); `GET /lookup/<hash>`
   * for what it did with a payment hash (`paid` with the preimage, else `failed`, for good).
   */
  nodeUrl: string
  settled: SettledInvoice[]
  /** Times the node was asked to pay an invoice it had already settled (refused). */
  payAgain: number
  /** Times the node was asked to pay an invoice a lookup had already reported failed (refused). */
  payAfterFailed: number
  /** Lookups answered, by status. */
  lookups: { paid: number; failed: number }
  /** Requests served with a valid token. */
  served: number
  /** Requests with a valid, paid token that had served its `uses` already (answered 402). */
  usedUp: number
  close(): Promise<void>
}

/**
 * The soak's Lightning merchant: `origins` L402 servers minting real v2 macaroons (identifier =
 * Aperture's layout, committing to the payment hash) and real signed regtest BOLT11 invoices, and
 * the node they share. No Lightning network runs offline, so the node is where a wallet pays:
 * it settles an invoice once and reveals its preimage, and where it looks a payment up. A token serves `uses` requests, then the
 * origin asks for a new payment, so tokens keep being bought across processes.
 */
export async function startLightningMerchant(options: {
  origins: number
  sats: number
  uses: number
}): Promise<LightningMerchant> {
  const rootKey = randomBytes(32)
  const nodeKey = randomBytes(32).toString('hex')
  // invoice → [payment hash, preimage]; hash → preimage of what it settled; hashes a lookup reported
  // failed; uses per token identifier.
  const invoices = new Map<string, [string, string]>()
  const paidHashes = new Map<string, string>()
  const failedHashes = new Set<string>()
  const uses = new Map<string, number>()
  const merchant: LightningMerchant = {
    origins: [],
    nodeUrl: '',
    settled: [],
    payAgain: 0,
    payAfterFailed: 0,
    lookups: { paid: 0, failed: 0 },
    served: 0,
    usedUp: 0,
    close: async () => {},
  }

  const serve: RequestListener = (request, response) => {
    response.on('error', () => {})
    const presented = /^L402 ([^:]+):([0-9a-f]{64})$/.exec(request.headers.authorization ?? '')
    if (presented) {
      const [, token = '', preimage = ''] = presented
      const hash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex')
      const identifier = verified(token, rootKey, hash)
      const used = identifier === undefined ? undefined : (uses.get(identifier) ?? 0)
      if (identifier !== undefined && used !== undefined && used < options.uses && paidHashes.has(hash)) {
        uses.set(identifier, used + 1)
        merchant.served++
        response.writeHead(200, { 'content-type': 'text/plain' })
        return void response.end('lightning paid')
      }
      if (used !== undefined && used >= options.uses && paidHashes.has(hash)) merchant.usedUp++
    }
    const preimage = randomBytes(32)
    const hash = createHash('sha256').update(preimage).digest('hex')
    const identifier = Buffer.concat([Buffer.alloc(2), Buffer.from(hash, 'hex'), randomBytes(32)])
    const token = Buffer.from(
      newMacaroon({ identifier, location: 'payfetch-soak', rootKey, version: 2 }).exportBinary(),
    ).toString('base64')
    const unsigned = bolt11.encode({
      network: regtest,
      satoshis: options.sats,
      timestamp: Math.floor(Date.now() / 1000),
      tags: [
        { tagName: 'payment_hash', data: hash },
        { tagName: 'payment_secret', data: randomBytes(32).toString('hex') },
        { tagName: 'description', data: 'payfetch soak' },
        { tagName: 'expire_time', data: 600 },
      ],
    })
    const invoice = bolt11.sign(unsigned, nodeKey).paymentRequest as string
    invoices.set(invoice, [hash, preimage.toString('hex')])
    response.writeHead(402, { 'www-authenticate': `L402 macaroon="${token}", invoice="${invoice}"` })
    response.end('payment required')
  }
  // The node: settles an invoice it issued, once, as a Lightning node refuses to be paid twice, and
  // answers lookups from what it settled. It stands for the payer's wallet and the network at once,
  // so a lookup is authoritative: a hash it never settled is failed, and stays failed (a later
  // request to pay it is refused and counted), as a wallet never retries a payment it reported failed.
  const node = createServer(async (request, response) => {
    response.on('error', () => {})
    const lookup = /^\/lookup\/([0-9a-f]{64})$/.exec(request.url ?? '')
    if (request.method === 'GET' && lookup) {
      const hash = lookup[1] as string
      const preimage = paidHashes.get(hash)
      if (preimage) merchant.lookups.paid++
      else {
        failedHashes.add(hash)
        merchant.lookups.failed++
      }
      response.writeHead(200, { 'content-type': 'application/json' })
      return void response.end(JSON.stringify(preimage ? { status: 'paid', preimage } : { status: 'failed' }))
    }
    if (request.method !== 'POST' || request.url !== '/pay') return void response.writeHead(404).end()
    // A payer killed while sending leaves a request that ends early: nothing to settle.
    const body = await readBody(request).catch(() => undefined)
    const known = body && invoices.get(Buffer.from(body).toString('utf8'))
    if (!known) return void response.writeHead(404).end('unknown invoice')
    const [hash, preimage] = known
    if (paidHashes.has(hash)) {
      merchant.payAgain++
      return void response.writeHead(409).end('invoice already paid')
    }
    if (failedHashes.has(hash)) {
      merchant.payAfterFailed++
      return void response.writeHead(410).end('payment reported failed')
    }
    paidHashes.set(hash, preimage)
    merchant.settled.push({ paymentHash: hash, msat: BigInt(options.sats) * 1000n })
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ preimage }))
  })
  const servers: Server[] = [node]
  merchant.nodeUrl = await listen(node)
  // One handler on several ports: each port is an origin of its own for the session store.
  for (let index = 0; index < options.origins; index++) {
    const server = createServer(serve)
    servers.push(server)
    merchant.origins.push(await listen(server))
  }
  merchant.close = async () => {
    await Promise.all(servers.filter((server) => server.listening).map((server) => close(server)))
  }
  return merchant
}

/** The token's identifier (hex) when its macaroon verifies and commits to `hash`. */
function verified(token: string, rootKey: Uint8Array, hash: string): string | undefined {
  try {
    const macaroon = importMacaroon(token)
    macaroon.verify(rootKey, () => null)
    const identifier = Buffer.from(macaroon.identifier)
    return identifier.subarray(2, 34).toString('hex') === hash ? identifier.toString('hex') : undefined
  } catch {
    return undefined
  }
}
