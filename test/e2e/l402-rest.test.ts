import { createServer } from 'node:http'
import { decode } from 'bolt11'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { close, listen } from '../../examples/local-stack/http.js'
import { bolt11Networks } from '../../examples/local-stack/lightningNode.js'
import { type LightningStack, startLightningStack, walletSecrets } from '../../examples/local-stack/lightningStack.js'
import type { WalletServer, WalletServerBehavior } from '../../examples/local-stack/lightningWallets.js'
import { createPayingFetch, getReceipt } from '../../src/index.js'
import { coreLightning, type LightningWallet, lightning, lnbits, lnd } from '../../src/lightning/index.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

// payfetch pays an Aperture-like L402 server through lnd, Core Lightning and LNbits REST APIs:
// loopback servers speaking their documented request and response shapes, settling from the node.
let stack: LightningStack

beforeAll(async () => {
  stack = await startLightningStack()
})

afterAll(async () => {
  await stack?.stop()
})

type Backend = {
  readonly name: string
  start(behavior?: WalletServerBehavior): Promise<WalletServer>
  wallet(url: string): LightningWallet
  /** What the wallet server must have received for a payment with a 7-sat fee limit and a 20 s timeout. */
  expectRequest(request: WalletServer['requests'][number], invoice: string): void
}

const backends: Backend[] = [
  {
    name: 'lnd',
    start: (behavior) => stack.lnd(behavior),
    wallet: (url) => lnd({ url, macaroon: walletSecrets.lndMacaroon }),
    expectRequest(request, invoice) {
      expect(request).toMatchObject({
        method: 'POST',
        path: '/v2/router/send',
        headers: { 'grpc-metadata-macaroon': walletSecrets.lndMacaroon },
      })
      expect(request.body).toEqual({
        payment_request: invoice,
        fee_limit_sat: '7',
        timeout_seconds: 18,
        no_inflight_updates: true,
      })
    },
  },
  {
    name: 'coreLightning',
    start: (behavior) => stack.coreLightning(behavior),
    wallet: (url) => coreLightning({ url, rune: walletSecrets.clnRune }),
    expectRequest(request, invoice) {
      expect(request).toMatchObject({ method: 'POST', path: '/v1/pay', headers: { rune: walletSecrets.clnRune } })
      expect(request.body).toEqual({ bolt11: invoice, maxfee: 7000, retry_for: 18 })
    },
  },
  {
    name: 'lnbits',
    start: (behavior) => stack.lnbits(behavior),
    wallet: (url) => lnbits({ url, adminKey: walletSecrets.lnbitsAdminKey, pollIntervalMs: 20 }),
    expectRequest(request, invoice) {
      // LNbits takes no per-payment fee limit or timeout: its fee reserve applies, and payfetch polls until its own timeout.
      expect(request).toMatchObject({
        method: 'POST',
        path: '/api/v1/payments',
        headers: { 'x-api-key': walletSecrets.lnbitsAdminKey },
      })
      expect(request.body).toEqual({ out: true, bolt11: invoice })
    },
  },
]

describe.each(backends)('L402 through $name', (backend) => {
  const signerFor = (url: string, timeoutMs = 20_000) =>
    lightning({ wallet: backend.wallet(url), networks: ['regtest'], maxFeeSats: 7, timeoutMs })

  test('behavior: pays the L402 server end to end, passing the fee limit and timeout the backend documents', async () => {
    const server = await stack.l402Server()
    const wallet = await backend.start()
    const response = await createPayingFetch({ signers: [signerFor(wallet.url)] })(`${server.url}/report`)
    expect(response.status).toBe(200)
    expect(wallet.requests).toHaveLength(1)
    const paid = stack.node.settled.at(-1)
    expect(getReceipt(response)).toMatchObject({ protocol: 'l402', amount: 21_000n, reference: paid?.paymentHash })
    // The invoice the wallet was given is the one the node settled.
    const body = wallet.requests[0]?.body as { payment_request?: string; bolt11?: string }
    const invoice = body.payment_request ?? body.bolt11 ?? ''
    expect(decode(invoice, bolt11Networks.regtest).tagsObject.payment_hash).toBe(paid?.paymentHash)
    backend.expectRequest(wallet.requests[0] as WalletServer['requests'][number], invoice)
    expect(server.stats).toMatchObject({ challenges: 1, accepted: 1 })
  })

  test('behavior: measured: median time of an L402 payment through the REST wallet', async () => {
    const server = await stack.l402Server()
    const wallet = await backend.start()
    const signer = signerFor(wallet.url)
    const times: number[] = []
    for (let run = 0; run < 8; run++) {
      const started = performance.now()
      expect((await createPayingFetch({ signers: [signer] })(`${server.url}/run/${run}`)).status).toBe(200)
      times.push(performance.now() - started)
    }
    const sorted = times.slice(1).sort((a, b) => a - b)
    console.info(
      `e2e: L402 via ${backend.name} REST, ms per payment: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)}, first ${times[0]?.toFixed(1)}`,
    )
  })

  test('error: a wallet that takes the request and never answers is PAYMENT_OUTCOME_UNKNOWN after exactly one call; the invoice was in fact paid', async () => {
    const server = await stack.l402Server()
    const wallet = await backend.start({ hang: true })
    const settled = stack.node.settled.length
    const error = await failure(createPayingFetch({ signers: [signerFor(wallet.url, 300)] })(`${server.url}/x`))
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    expect(error.details).toMatchObject({ wallet: backend.name, paymentHash: stack.node.settled.at(-1)?.paymentHash })
    expect(wallet.requests.filter((request) => request.method === 'POST')).toHaveLength(1)
    expect(stack.node.settled.length).toBe(settled + 1)
    expect(server.authorizations).toEqual([])
  })

  test('error: a wallet that cannot route the invoice says so: PAYMENT_FAILED with its report, nothing settled', async () => {
    const { startL402Server } = await import('../../examples/local-stack/l402Server.js')
    const foreign = await startL402Server()
    const wallet = await backend.start()
    try {
      const error = await failure(createPayingFetch({ signers: [signerFor(wallet.url)] })(`${foreign.url}/x`))
      expect(error).toMatchObject({ code: 'PAYMENT_FAILED', details: { wallet: backend.name } })
      expect(foreign.node.settled).toEqual([])
      expect(wallet.requests).toHaveLength(1)
    } finally {
      await foreign.close()
    }
  })

  test('error: a wallet that reports a wrong preimage leaves the outcome unknown', async () => {
    const server = await stack.l402Server()
    const wallet = await backend.start({ garbagePreimage: true })
    expect((await failure(createPayingFetch({ signers: [signerFor(wallet.url)] })(`${server.url}/x`))).code).toBe(
      'PAYMENT_OUTCOME_UNKNOWN',
    )
    expect(server.authorizations).toEqual([])
  })

  test('error: a wallet that cannot be reached (connection refused) is PAYMENT_FAILED: nothing was sent', async () => {
    const server = await stack.l402Server()
    // A port that was just free: fetch itself refuses well-known ports such as 1.
    const probe = createServer()
    const closed = await listen(probe)
    await close(probe)
    const error = await failure(createPayingFetch({ signers: [signerFor(closed)] })(`${server.url}/x`))
    expect(error).toMatchObject({ code: 'PAYMENT_FAILED', details: { wallet: backend.name, error: 'ECONNREFUSED' } })
  })
})

describe('REST wallet specifics', () => {
  test('behavior: LNbits answering the old way (no preimage) is looked up until it reports the payment, fee made positive', async () => {
    const server = await stack.l402Server()
    const wallet = await stack.lnbits({ pending: true })
    const signer = lightning({
      wallet: lnbits({ url: wallet.url, adminKey: walletSecrets.lnbitsAdminKey, pollIntervalMs: 10 }),
      networks: ['regtest'],
    })
    const response = await createPayingFetch({ signers: [signer] })(`${server.url}/x`)
    expect(response.status).toBe(200)
    expect(
      wallet.requests.map((request) => `${request.method} ${request.path.replace(/[0-9a-f]{64}/, ':hash')}`),
    ).toEqual(['POST /api/v1/payments', 'GET /api/v1/payments/:hash'])
  })

  test('error: a wrong credential is refused by each wallet before paying: PAYMENT_FAILED', async () => {
    const server = await stack.l402Server()
    const lndServer = await stack.lnd()
    const clnServer = await stack.coreLightning()
    const lnbitsServer = await stack.lnbits()
    for (const wallet of [
      lnd({ url: lndServer.url, macaroon: '00' }),
      coreLightning({ url: clnServer.url, rune: 'wrong' }),
      lnbits({ url: lnbitsServer.url, adminKey: 'wrong' }),
    ]) {
      const error = await failure(
        createPayingFetch({ signers: [lightning({ wallet, networks: ['regtest'] })] })(`${server.url}/x`),
      )
      expect(error).toMatchObject({ code: 'PAYMENT_FAILED', details: { wallet: wallet.name } })
    }
  })
})
