import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import bolt11 from 'bolt11'
import { close, listen } from '../../examples/local-stack/http.js'
import type { Signer } from '../../src/index.js'
import { l402 } from '../../src/protocols/l402/index.js'

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

export type L402Merchant = {
  url: string
  /** Preimages by payment hash: what a Lightning node would reveal once the invoice is paid. */
  preimages: Map<string, string>
  /** Requests that presented a valid token and preimage. */
  paid: number
  close(): Promise<void>
}

/**
 * A loopback L402 server: a real v2 macaroon whose identifier commits to the payment hash (as
 * Aperture mints it) and a real signed BOLT11 invoice for `sats`. A request with
 * `Authorization: L402 <macaroon>:<preimage>` is served when the macaroon verifies and the preimage
 * hashes to the payment hash. No Lightning node runs offline: the wallet settles from `preimages`.
 */
export async function startL402Merchant(sats: number, options: { loseAnswers?: number } = {}): Promise<L402Merchant> {
  let loseAnswers = options.loseAnswers ?? 0
  const rootKey = randomBytes(32)
  const nodeKey = randomBytes(32).toString('hex')
  const preimages = new Map<string, string>()
  const server = createServer((request, response) => {
    const presented = /^L402 ([^:]+):([0-9a-f]{64})$/.exec(request.headers.authorization ?? '')
    if (presented) {
      const [, token = '', preimage = ''] = presented
      const hash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex')
      if (verifies(token, rootKey, hash)) {
        merchant.paid++
        // Served, then the answer is lost on the wire (the first `loseAnswers` times).
        if (loseAnswers-- > 0) return void request.socket.destroy()
        response.writeHead(200, { 'content-type': 'text/plain' })
        return void response.end('lightning paid')
      }
    }
    const preimage = randomBytes(32)
    const hash = createHash('sha256').update(preimage).digest('hex')
    preimages.set(hash, preimage.toString('hex'))
    // Aperture's identifier: uint16 version 0 ‖ payment hash ‖ token id.
    const identifier = Buffer.concat([Buffer.alloc(2), Buffer.from(hash, 'hex'), randomBytes(32)])
    const token = Buffer.from(
      newMacaroon({ identifier, location: 'payfetch-test', rootKey, version: 2 }).exportBinary(),
    ).toString('base64')
    const unsigned = bolt11.encode({
      satoshis: sats,
      timestamp: Math.floor(Date.now() / 1000),
      tags: [
        { tagName: 'payment_hash', data: hash },
        { tagName: 'description', data: 'payfetch test' },
        { tagName: 'expire_time', data: 600 },
      ],
    })
    const invoice = bolt11.sign(unsigned, nodeKey).paymentRequest as string
    response.writeHead(402, { 'www-authenticate': `L402 macaroon="${token}", invoice="${invoice}"` })
    response.end('payment required')
  })
  const url = await listen(server)
  const merchant: L402Merchant = { url, preimages, paid: 0, close: () => close(server) }
  return merchant
}

function verifies(token: string, rootKey: Uint8Array, hash: string): boolean {
  try {
    const macaroon = importMacaroon(token)
    macaroon.verify(rootKey, () => null)
    return Buffer.from(macaroon.identifier).subarray(2, 34).toString('hex') === hash
  } catch {
    return false
  }
}

/** A Lightning "wallet" that pays by reading the preimage from the merchant's table; counts payments. */
export function tableWallet(merchant: L402Merchant, options: { feeMsat?: bigint } = {}): Signer & { calls: number } {
  const wallet: Signer & { calls: number } = {
    name: 'lightning-test',
    // L402 comes with the Lightning signer, not with every paying fetch.
    protocols: [l402],
    calls: 0,
    methods: {
      bolt11: {
        async pay(invoice) {
          wallet.calls++
          const preimage = merchant.preimages.get(invoice.paymentHash)
          if (!preimage) throw new Error('unknown invoice')
          return { kind: 'bolt11', preimage, feeMsat: options.feeMsat }
        },
      },
    },
  }
  return wallet
}
