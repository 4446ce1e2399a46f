import { fetch402 } from '@getalby/lightning-tools/402'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startAlbyL402Server } from '../../examples/local-stack/l402AlbyServer.js'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import { createPayingFetch, getReceipt } from '../../src/index.js'
import { lightning } from '../../src/lightning/index.js'

// The test L402 server and payfetch against the reference JS client and server helpers:
// @getalby/lightning-tools 9.0.1.
let stack: LightningStack

beforeAll(async () => {
  stack = await startLightningStack()
})

afterAll(async () => {
  await stack?.stop()
})

describe('interop with Alby lightning-tools', () => {
  test.each([
    { scheme: 'l402' as const },
    { scheme: 'lsat+l402' as const },
    { tokenParam: 'token' as const, version: true },
  ])("behavior: Alby's fetch402 pays the Aperture-like test server (%o)", async (options) => {
    const server = await stack.l402Server(options)
    // Alby's wallet interface, shaped like NWC's payInvoice: { invoice } → { preimage, fees_paid }.
    const invoices: string[] = []
    const wallet = {
      async payInvoice({ invoice }: { invoice: string }) {
        invoices.push(invoice)
        const { preimage, feeMsat } = stack.node.pay(invoice)
        return { preimage, fees_paid: Number(feeMsat) }
      },
    }
    const response = await fetch402(`${server.url}/alby`, {}, { wallet, maxAmount: 100 })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true, path: '/alby' })
    expect(response.payment).toMatchObject({ paid: true, amountSat: 21 })
    expect(invoices).toHaveLength(1)
    expect(server.stats).toMatchObject({ challenges: 1, accepted: 1 })
  })

  test("behavior: payfetch pays a server built with Alby's own L402 helpers (opaque HMAC token, missing comma) and reuses the token", async () => {
    const server = await startAlbyL402Server({ priceMsat: 10_000n })
    try {
      const paid: string[] = []
      const wallet = {
        name: 'alby-node',
        payInvoice: async (invoice: string) => (paid.push(invoice), server.node.pay(invoice)),
      }
      const fetchPaid = createPayingFetch({ signers: [lightning({ wallet, networks: ['regtest'] })] })
      const response = await fetchPaid(`${server.url}/report`)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ ok: true, by: 'alby-helpers' })
      expect(getReceipt(response)).toMatchObject({ protocol: 'l402', amount: 10_000n })
      expect(paid).toHaveLength(1)
      expect(server.stats).toEqual({ challenges: 1, accepted: 1 })
      const again = await fetchPaid(`${server.url}/report`)
      expect(again.status).toBe(200)
      expect(paid).toHaveLength(1)
    } finally {
      await server.close()
    }
  })
})
