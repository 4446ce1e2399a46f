import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import WebSocket from 'ws'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import { bitcoinRegtest, createPayingFetch, getReceipt } from '../../src/index.js'
import { lightning, nwc } from '../../src/lightning/index.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

// payfetch pays an Aperture-like L402 server through Nostr Wallet Connect: a real NIP-01 relay on
// loopback, @getalby/sdk's NIP-47 wallet service settling from the server's node.
let stack: LightningStack

beforeAll(async () => {
  stack = await startLightningStack()
})

afterAll(async () => {
  await stack?.stop()
})

const signerFor = (uri: string, options: { timeoutMs?: number } = {}) =>
  lightning({ wallet: nwc(uri, { WebSocket }), networks: ['regtest'], ...options })

describe('L402 over Nostr Wallet Connect', () => {
  test('behavior: pays the server end to end; the request is NIP-44 encrypted and expires with the timeout; the receipt is the payment hash', async () => {
    const server = await stack.l402Server()
    const service = await stack.walletService()
    const fetchPaid = createPayingFetch({ signers: [signerFor(service.uri, { timeoutMs: 30_000 })] })
    const settledBefore = stack.node.settled.length

    const started = performance.now()
    const response = await fetchPaid(`${server.url}/report`)
    const elapsed = performance.now() - started

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true, path: '/report' })
    expect(service.requests).toHaveLength(1)
    expect(stack.node.settled.length).toBe(settledBefore + 1)
    const paymentHash = stack.node.settled.at(-1)?.paymentHash
    expect(getReceipt(response)).toMatchObject({
      protocol: 'l402',
      network: bitcoinRegtest,
      asset: 'BTC',
      amount: 21_000n,
      reference: paymentHash,
    })
    expect(server.authorizations).toHaveLength(1)
    expect(server.authorizations[0]).toMatch(/^L402 [A-Za-z0-9+/]+=*:[0-9a-f]{64}$/)

    const request = stack.relay.published.filter((event) => event.kind === 23194).at(-1)
    const tag = (name: string) => request?.tags.find(([key]) => key === name)?.[1]
    expect(tag('encryption')).toBe('nip44_v2')
    const expiration = Number(tag('expiration')) - request!.created_at
    expect(expiration).toBe(27)
    console.info(
      `e2e: one L402 payment through NWC (402, relay round trips, wallet service, replay) took ${elapsed.toFixed(0)} ms`,
    )
  })

  test('behavior: measured: median time of an L402 payment through NWC, first contact excluded', async () => {
    const server = await stack.l402Server()
    const service = await stack.walletService()
    const signer = signerFor(service.uri)
    const times: number[] = []
    for (let run = 0; run < 8; run++) {
      // A new paying fetch has no stored token, so every call pays.
      const started = performance.now()
      expect((await createPayingFetch({ signers: [signer] })(`${server.url}/run/${run}`)).status).toBe(200)
      times.push(performance.now() - started)
    }
    expect(service.requests).toHaveLength(8)
    const sorted = times.slice(1).sort((a, b) => a - b)
    console.info(
      `e2e: L402 via NWC, ms per payment: median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)}, first ${times[0]?.toFixed(1)}`,
    )
  })

  test("behavior: Aperture's LSAT+L402 lines, the 2026 token= form and an MPP challenge alongside are all paid the same way", async () => {
    const service = await stack.walletService()
    for (const options of [
      { scheme: 'lsat+l402' as const },
      { tokenParam: 'token' as const, version: true },
      { mpp: true },
    ]) {
      const server = await stack.l402Server(options)
      const response = await createPayingFetch({ signers: [signerFor(service.uri)] })(`${server.url}/x`)
      expect(response.status).toBe(200)
      expect(server.authorizations.every((header) => header.startsWith('L402 '))).toBe(true)
    }
  })

  test('error: a wallet service that reports a wrong preimage ends the call as PAYMENT_OUTCOME_UNKNOWN; the server gets no credential', async () => {
    const server = await stack.l402Server()
    const service = await stack.walletService({ garbagePreimage: true })
    const error = await failure(createPayingFetch({ signers: [signerFor(service.uri)] })(`${server.url}/x`))
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    expect(error.details).toMatchObject({ wallet: 'nwc', paymentHash: expect.stringMatching(/^[0-9a-f]{64}$/) })
    expect(service.requests).toHaveLength(1)
    expect(server.authorizations).toEqual([])
  })

  test('error: a wallet service that never answers is PAYMENT_OUTCOME_UNKNOWN at the timeout, after exactly one request', async () => {
    const server = await stack.l402Server()
    const service = await stack.walletService({ silent: true })
    const started = performance.now()
    const error = await failure(
      createPayingFetch({ signers: [signerFor(service.uri, { timeoutMs: 1_000 })] })(`${server.url}/x`),
    )
    // Bounded: without the timeout the call would wait for ever. The margin is for a loaded machine.
    expect(performance.now() - started).toBeLessThan(20_000)
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    // The relay may hand the request over after the call gave up; it is sent once, never again.
    await vi.waitFor(() => expect(service.requests.length).toBeGreaterThan(0), { timeout: 10_000 })
    expect(service.requests).toHaveLength(1)
  })

  test('error: a NIP-47 PAYMENT_FAILED answer (an invoice the wallet cannot route) is PAYMENT_FAILED with the wallet report', async () => {
    // A server whose invoices come from another node: the wallet service's node cannot pay them.
    const { startL402Server } = await import('../../examples/local-stack/l402Server.js')
    const server = await startL402Server()
    const service = await stack.walletService()
    try {
      const error = await failure(createPayingFetch({ signers: [signerFor(service.uri)] })(`${server.url}/x`))
      expect(error).toMatchObject({
        code: 'PAYMENT_FAILED',
        details: { wallet: 'nwc', code: 'PAYMENT_FAILED', message: 'no route: unknown invoice' },
      })
      expect(service.requests).toHaveLength(1)
    } finally {
      await server.close()
    }
  })

  test('behavior: an unreachable first relay is skipped before anything is sent', async () => {
    const server = await stack.l402Server()
    const service = await stack.walletService()
    const uri = service.uri.replace('?relay=', `?relay=${encodeURIComponent('ws://127.0.0.1:1')}&relay=`)
    expect((await createPayingFetch({ signers: [signerFor(uri)] })(`${server.url}/x`)).status).toBe(200)
    expect(service.requests).toHaveLength(1)
  })

  test('error: no relay reachable is PAYMENT_FAILED: nothing was sent', async () => {
    const server = await stack.l402Server()
    const uri = `nostr+walletconnect://${'a'.repeat(64)}?relay=${encodeURIComponent('ws://127.0.0.1:1')}&secret=${'b'.repeat(64)}`
    const error = await failure(createPayingFetch({ signers: [signerFor(uri)] })(`${server.url}/x`))
    expect(error).toMatchObject({ code: 'PAYMENT_FAILED', details: { wallet: 'nwc' } })
  })

  test('behavior: a wallet that pays after its client timed out: resume asks lookup_invoice, which does not know it yet (unknown, still pending), then finds it paid and finishes it without paying again', async () => {
    const server = await stack.l402Server()
    let pay = () => {}
    const service = await stack.walletService({ hold: new Promise<void>((resolve) => (pay = resolve)) })
    const fetchPaid = createPayingFetch({ signers: [signerFor(service.uri, { timeoutMs: 1_000 })] })
    const settled = stack.node.settled.length

    expect((await failure(fetchPaid(`${server.url}/late`))).code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    const [pending] = await fetchPaid.pendingPayments()
    if (!pending?.reference) throw new Error('no pending payment with a payment hash')
    expect(pending).toMatchObject({ proof: {}, paidOnSigning: true })

    const early = await failure(fetchPaid.resume(pending))
    expect(early).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { paymentHash: pending.reference } })
    expect(service.lookups).toEqual([{ payment_hash: pending.reference }])

    pay()
    while (stack.node.settled.length === settled) await new Promise((resolve) => setTimeout(resolve, 5))
    const response = await fetchPaid.resume(pending)
    expect(response.status).toBe(200)
    expect(getReceipt(response)).toMatchObject({ protocol: 'l402', reference: pending.reference })
    expect(service.requests).toHaveLength(1)
    expect(service.lookups).toHaveLength(2)
    expect(server.stats.accepted).toBe(1)
    expect(await fetchPaid.pendingPayments()).toEqual([])
  })
})
