// payfetch pays the `Payment` scheme's lightning charge (draft-lightning-charge-00) over Nostr Wallet
// Connect, against the hand-built charge server with real signed invoices; Alby's fetchWithMpp pays
// the same server in the same tests, so the wire is checked against a second client.
import { createHash } from 'node:crypto'
import { fetchWithMpp } from '@getalby/lightning-tools/402/mpp'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import type { ChargeServer } from '../../examples/local-stack/chargeServer.js'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import type { NostrWalletService } from '../../examples/local-stack/nostrWalletService.js'
import { bitcoinRegtest, createPayingFetch, getReceipt } from '../../src/index.js'
import { lightning, nwc } from '../../src/lightning/index.js'
import { startInterceptingProxy } from '../support/interceptingProxy.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

const { NWCClient } = await import('@getalby/sdk/nwc')

let stack: LightningStack
let server: ChargeServer
let service: NostrWalletService
let alby: InstanceType<typeof NWCClient>

beforeAll(async () => {
  stack = await startLightningStack()
  server = await stack.chargeServer()
  service = await stack.walletService()
  alby = new NWCClient({ nostrWalletConnectUrl: service.uri })
})

afterAll(async () => {
  alby?.close()
  await stack?.stop()
})

// 100 sat charges plus the default 10 sat fee limit: above the default 100 sat cap.
const payfetch = () =>
  createPayingFetch({
    signers: [lightning({ wallet: nwc(service.uri, { WebSocket }), networks: ['regtest'] })],
    caps: { perRequest: { sats: 200 } },
  })
const decode = (value: string) => JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))
const credentialOf = (headers: Record<string, string | string[] | undefined>) => {
  const value = headers.authorization
  return typeof value === 'string' && value.startsWith('Payment ') ? decode(value.slice('Payment '.length)) : undefined
}
const sha256 = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex')

describe('Payment scheme, lightning charge', () => {
  test('behavior: payfetch and Alby each pay GET /weather once; the server checks the preimage; payfetch’s receipt is the payment hash and its credential has the same shape as Alby’s', async () => {
    const paidBefore = service.requests.length
    const response = await payfetch()(`${server.url}/weather`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ weather: 'sunny' })
    const paymentHash = stack.node.settled.at(-1)?.paymentHash
    expect(getReceipt(response)).toMatchObject({
      protocol: 'payment',
      network: bitcoinRegtest,
      asset: 'BTC',
      amount: 100_000n,
      reference: paymentHash,
    })
    expect(decode(response.headers.get('payment-receipt') ?? '').reference).toBe(paymentHash)

    const byAlby = await fetchWithMpp(`${server.url}/weather`, {}, { wallet: alby })
    expect(byAlby.status).toBe(200)
    expect(service.requests.length - paidBefore).toBe(2)

    const [ours, theirs] = server.requests
      .to('/weather')
      .map((entry) => credentialOf(entry.headers))
      .filter(Boolean)
      .slice(-2)
    expect(Object.keys(ours.payload)).toEqual(Object.keys(theirs.payload))
    expect(sha256(ours.payload.preimage)).toBe(paymentHash)
    // payfetch echoes every param it was given: the description too.
    expect(Object.keys(ours.challenge).sort()).toEqual([...Object.keys(theirs.challenge), 'description'].sort())
    expect(ours.source).toBeUndefined()
  })

  test('policy: an invoice that contradicts the request (another payment hash, ten times the amount) is refused before the wallet is asked; Alby pays both', async () => {
    const fetchPaid = payfetch()
    const paidBefore = service.requests.length
    for (const path of ['/lying-hash', '/overcharge']) {
      const error = await failure(fetchPaid(`${server.url}${path}`))
      expect(error.code, path).toBe('CHALLENGE_INVALID')
    }
    expect(service.requests.length).toBe(paidBefore)
    expect((await fetchPaid.spendReport()).totals).toEqual([])
    // The contrast: a client that does not check pays the lie.
    await fetchWithMpp(`${server.url}/overcharge`, {}, { wallet: alby })
    expect(service.requests.length).toBe(paidBefore + 1)
  })

  test('policy: an expired challenge and a charge over the sats cap are refused with nothing paid', async () => {
    const fetchPaid = payfetch()
    const paidBefore = service.requests.length
    expect((await failure(fetchPaid(`${server.url}/expired`))).code).toBe('CHALLENGE_INVALID')
    expect(await failure(fetchPaid(`${server.url}/pricey`))).toMatchObject({
      code: 'CAP_EXCEEDED',
      details: { limitSats: '200' },
    })
    expect(service.requests.length).toBe(paidBefore)
  })

  test('policy: a challenge bound to the body by digest is paid for that body, and refused before paying when the replayed body would differ', async () => {
    const fetchPaid = payfetch()
    const body = JSON.stringify({ order: 42 })
    const response = await fetchPaid(`${server.url}/echo-bound`, { method: 'POST', body })
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(body)
    const [, paid] = server.requests.to('/echo-bound').slice(-2)
    expect(credentialOf(paid!.headers).challenge.digest).toBe(
      `sha-256=:${createHash('sha256').update(body).digest('base64')}:`,
    )

    // The server saw another body than the one payfetch would replay (a proxy rewrote it).
    const proxy = await startInterceptingProxy(server.url, {
      rewriteBody: (request, sent) => (request.headers.authorization ? sent : Buffer.from('{"order":43}')),
    })
    try {
      const paidBefore = service.requests.length
      const error = await failure(fetchPaid(`${proxy.url}/echo-bound`, { method: 'POST', body }))
      expect(error.code).toBe('CHALLENGE_INVALID')
      expect(error.shortMessage).toContain('digest')
      expect(service.requests.length).toBe(paidBefore)
      expect(proxy.seen.filter((entry) => entry.headers.authorization)).toHaveLength(0)
    } finally {
      await proxy.close()
    }
  })

  test('behavior: a charge whose wallet paid after the client timed out is finished by resume through lookup_invoice: the kept challenge is echoed, the body replayed, the invoice paid once', async () => {
    let pay = () => {}
    const late = await stack.walletService({ hold: new Promise<void>((resolve) => (pay = resolve)) })
    const fetchPaid = createPayingFetch({
      signers: [lightning({ wallet: nwc(late.uri, { WebSocket }), networks: ['regtest'], timeoutMs: 1_000 })],
      caps: { perRequest: { sats: 200 } },
    })
    const settled = stack.node.settled.length
    const accepted = server.outcomes.filter((outcome) => outcome.accepted).length
    const body = JSON.stringify({ city: 'Lisbon' })
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body }

    expect((await failure(fetchPaid(`${server.url}/echo`, init))).code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    const [pending] = await fetchPaid.pendingPayments()
    if (!pending?.reference) throw new Error('no pending payment with a payment hash')
    expect(pending).toMatchObject({
      protocol: 'payment',
      proof: {},
      challenge: { 'www-authenticate': expect.any(String) },
    })
    pay()
    while (stack.node.settled.length === settled) await new Promise((resolve) => setTimeout(resolve, 5))

    const response = await fetchPaid.resume(pending)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(body)
    expect(getReceipt(response)).toMatchObject({ protocol: 'payment', reference: pending.reference })
    expect(late.requests).toHaveLength(1)
    expect(late.lookups).toEqual([{ payment_hash: pending.reference }])
    expect(server.outcomes.filter((outcome) => outcome.accepted).length).toBe(accepted + 1)
  })
})
