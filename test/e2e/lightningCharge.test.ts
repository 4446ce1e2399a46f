// Proves the hand-built Lightning `charge` server (draft-lightning-charge-00) with a client that is
// not payfetch: Alby's fetchWithMpp (@getalby/lightning-tools 9.0.1), paying through Nostr Wallet
// Connect (@getalby/sdk's NWCClient) against the local wallet service, which settles from the
// server's own node. A failure here is the harness (or Alby), not payfetch.

import { createHash } from 'node:crypto'
import { fetchWithMpp } from '@getalby/lightning-tools/402/mpp'
import { decode as decodeInvoice } from 'bolt11'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { ChargeServer } from '../../examples/local-stack/chargeServer.js'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import type { NostrWalletService } from '../../examples/local-stack/nostrWalletService.js'

// The wallet service module installs a global WebSocket (Node 20 lacks one) before the SDK loads.
const { NWCClient } = await import('@getalby/sdk/nwc')

let stack: LightningStack
let server: ChargeServer
let service: NostrWalletService
let wallet: InstanceType<typeof NWCClient>

beforeAll(async () => {
  stack = await startLightningStack()
  server = await stack.chargeServer()
  service = await stack.walletService()
  wallet = new NWCClient({ nostrWalletConnectUrl: service.uri })
})

afterAll(async () => {
  wallet?.close()
  await stack?.stop()
})

const fromBase64url = (value: string | null | undefined) =>
  JSON.parse(Buffer.from(value ?? '', 'base64url').toString('utf8'))
const sha256 = (hex: string) => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex')
const challengeOf = (response: Response) =>
  Object.fromEntries(
    [...(response.headers.get('www-authenticate') ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(
      ([, name, value]) => [name, value],
    ),
  ) as Record<string, string>

describe('Lightning charge server, paid with Alby fetchWithMpp over NWC', () => {
  test('behavior: the 402 is a draft-conformant challenge: a regtest invoice from the node, its payment hash, and expires no later than the invoice', async () => {
    const response = await fetch(`${server.url}/weather`)
    expect(response.status).toBe(402)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    const challenge = challengeOf(response)
    expect(challenge).toMatchObject({
      realm: server.realm,
      method: 'lightning',
      intent: 'charge',
      description: 'weather report',
    })
    const body = await response.json()
    expect(body).toMatchObject({ type: 'https://paymentauth.org/problems/payment-required', status: 402 })
    expect(body.challengeId).toBe(challenge.id)

    const request = fromBase64url(challenge.request)
    expect(Object.keys(request)).toEqual(['amount', 'currency', 'description', 'methodDetails'])
    expect(request).toMatchObject({ amount: '100', currency: 'sat', methodDetails: { network: 'regtest' } })
    const invoice = decodeInvoice(request.methodDetails.invoice, {
      bech32: 'bcrt',
      pubKeyHash: 0x6f,
      scriptHash: 0xc4,
      validWitnessVersions: [0, 1],
    })
    expect(invoice.payeeNodeKey).toBe(stack.node.publicKey)
    expect(invoice.millisatoshis).toBe('100000')
    expect(invoice.tagsObject.payment_hash).toBe(request.methodDetails.paymentHash)
    expect(Date.parse(challenge.expires as string)).toBeLessThanOrEqual(
      ((invoice.timeExpireDate as number) ?? 0) * 1000,
    )
  })

  test('behavior: Alby pays GET /weather; the server checks sha256(preimage) and answers 200 with a receipt whose reference is the payment hash', async () => {
    const paidBefore = service.requests.length
    const response = await fetchWithMpp(`${server.url}/weather`, {}, { wallet })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', temperature: 21, paidWith: 'lightning' })
    expect(service.requests).toHaveLength(paidBefore + 1)
    const preimage = response.payment?.preimage as string
    const receipt = fromBase64url(response.headers.get('payment-receipt'))
    expect(receipt).toEqual({
      method: 'lightning',
      challengeId: server.outcomes.at(-1)?.challengeId,
      reference: sha256(preimage),
      status: 'success',
      timestamp: expect.any(String),
    })
    expect(stack.node.isSettled(receipt.reference)).toBe(true)
    expect(response.headers.get('cache-control')).toBe('private')

    const credential = fromBase64url(response.payment?.credentials.value.replace(/^Payment /, ''))
    expect(credential).toEqual({
      challenge: {
        id: receipt.challengeId,
        realm: server.realm,
        method: 'lightning',
        intent: 'charge',
        request: expect.any(String),
        expires: expect.any(String),
      },
      payload: { preimage },
    })
  })

  test('error: the same credential again is refused (unknown-challenge: consumed) and Alby does not pay again', async () => {
    const first = await fetchWithMpp(`${server.url}/weather`, {}, { wallet })
    expect(first.status).toBe(200)
    const paidBefore = service.requests.length
    const again = await fetchWithMpp(`${server.url}/weather`, {}, { wallet, credentials: first.payment!.credentials })
    expect(again.status).toBe(402)
    expect(await again.json()).toMatchObject({
      type: 'https://paymentauth.org/problems/lightning/unknown-challenge',
      detail: 'this challenge has already been used',
    })
    expect(again.headers.get('payment-receipt')).toBeNull()
    expect(challengeOf(again).id).not.toBe(fromBase64url(first.headers.get('payment-receipt')).challengeId)
    expect(service.requests).toHaveLength(paidBefore)
  })

  test('error: a preimage that does not hash to the payment hash is refused (invalid-preimage); the right one is accepted after', async () => {
    const unpaid = await fetch(`${server.url}/weather`)
    const challenge = challengeOf(unpaid)
    const { invoice } = fromBase64url(challenge.request).methodDetails
    const { preimage } = stack.node.pay(invoice)
    const echo = { id: challenge.id, realm: challenge.realm, method: 'lightning', intent: 'charge' }
    const credential = (preimageHex: string) =>
      `Payment ${Buffer.from(
        JSON.stringify({
          challenge: { ...echo, request: challenge.request, expires: challenge.expires },
          payload: { preimage: preimageHex },
        }),
      ).toString('base64url')}`

    const wrong = await fetch(`${server.url}/weather`, { headers: { authorization: credential('00'.repeat(32)) } })
    expect(wrong.status).toBe(402)
    expect(await wrong.json()).toMatchObject({ type: 'https://paymentauth.org/problems/lightning/invalid-preimage' })
    const upper = await fetch(`${server.url}/weather`, {
      headers: { authorization: credential(preimage.toUpperCase()) },
    })
    expect(await upper.json()).toMatchObject({
      type: 'https://paymentauth.org/problems/lightning/malformed-credential',
    })
    const elsewhere = await fetch(`${server.url}/pricey`, { headers: { authorization: credential(preimage) } })
    expect(await elsewhere.json()).toMatchObject({ detail: 'challenge was issued for GET /weather' })
    const right = await fetch(`${server.url}/weather`, { headers: { authorization: credential(preimage) } })
    expect(right.status).toBe(200)
  })

  test('error: two concurrent requests with one valid credential: exactly one succeeds', async () => {
    const first = await fetch(`${server.url}/weather`)
    const challenge = challengeOf(first)
    const { preimage } = stack.node.pay(fromBase64url(challenge.request).methodDetails.invoice)
    const { description: _, ...echoed } = challenge
    const authorization = `Payment ${Buffer.from(JSON.stringify({ challenge: echoed, payload: { preimage } })).toString('base64url')}`
    const statuses = await Promise.all(
      [1, 2, 3].map(() => fetch(`${server.url}/weather`, { headers: { authorization } }).then((r) => r.status)),
    )
    expect(statuses.sort()).toEqual([200, 402, 402])
  })

  test('behavior: POST /echo: Alby resends the same body; the answer is the bytes and their sha256', async () => {
    const body = JSON.stringify({ hello: 'wörld' })
    const response = await fetchWithMpp(
      `${server.url}/echo`,
      { method: 'POST', body, headers: { 'content-type': 'application/json' } },
      { wallet },
    )
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(body)
    const [unpaid, paid] = server.requests.to('/echo').slice(-2)
    expect(paid?.bodySha256).toBe(unpaid?.bodySha256)
    expect(response.headers.get('x-echo-sha256')).toBe(paid?.bodySha256)
  })

  test('error: POST /echo-bound carries digest; Alby echoes no digest, so its paid credential is refused (Alby and the core draft disagree)', async () => {
    const body = '{"bound":true}'
    const unpaid = await fetch(`${server.url}/echo-bound`, { method: 'POST', body })
    const digest = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
    expect(challengeOf(unpaid).digest).toBe(digest)
    const paidBefore = stack.node.settled.length
    const response = await fetchWithMpp(`${server.url}/echo-bound`, { method: 'POST', body }, { wallet })
    expect(response.status).toBe(402)
    expect(await response.json()).toMatchObject({ detail: 'challenge.digest is not the one issued' })
    expect(stack.node.settled.length).toBe(paidBefore + 1)
  })

  test('error: a challenge issued already expired (invoice and expires both past): Alby does not check expires and asks the wallet, which refuses the expired invoice', async () => {
    const unpaid = await fetch(`${server.url}/expired`)
    expect(Date.parse(challengeOf(unpaid).expires as string)).toBeLessThan(Date.now())
    const askedBefore = service.requests.length
    await expect(fetchWithMpp(`${server.url}/expired`, {}, { wallet })).rejects.toThrow(/payInvoice failed/)
    expect(service.requests).toHaveLength(askedBefore + 1)
    expect(server.outcomes.filter((outcome) => outcome.path === '/expired')).toEqual([])
  })

  test('behavior: misbehaving routes: /lying-hash names another payment hash, /overcharge an invoice for 10x the amount; Alby checks neither and pays', async () => {
    const lying = fromBase64url(challengeOf(await fetch(`${server.url}/lying-hash`)).request)
    const invoiceNetwork = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] }
    expect(decodeInvoice(lying.methodDetails.invoice, invoiceNetwork).tagsObject.payment_hash).not.toBe(
      lying.methodDetails.paymentHash,
    )
    const over = fromBase64url(challengeOf(await fetch(`${server.url}/overcharge`)).request)
    expect(over.amount).toBe('100')
    expect(decodeInvoice(over.methodDetails.invoice, invoiceNetwork).millisatoshis).toBe('1000000')

    expect((await fetchWithMpp(`${server.url}/lying-hash`, {}, { wallet })).status).toBe(200)
    const overcharged = await fetchWithMpp(`${server.url}/overcharge`, {}, { wallet })
    expect(overcharged.status).toBe(200)
    expect(overcharged.payment?.amountSat).toBe(1000)
  })
})
