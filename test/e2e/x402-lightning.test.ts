// x402 `exact` on Lightning (scheme_exact_lightning): the offer carries a BOLT11 invoice, the client
// pays it and sends `payload: { invoice }`; the server looks the invoice up on its own node. payfetch
// pays it through lightning(); Alby's fetchWithX402 pays the same server, as a second client.
import { createServer } from 'node:http'
import { fetchWithX402 } from '@getalby/lightning-tools/402/x402'
import { decode } from 'bolt11'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { close, decodeBase64Json, encodeBase64Json, listen } from '../../examples/local-stack/http.js'
import { bolt11Networks, createLightningNode } from '../../examples/local-stack/lightningNode.js'
import { bitcoinRegtest, createPayingFetch, getReceipt } from '../../src/index.js'
import { lightning } from '../../src/lightning/index.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

const node = createLightningNode()
const paymentHashOf = (invoice: string) => decode(invoice, bolt11Networks.regtest).tagsObject.payment_hash as string
const used = new Set<string>()
const proofs: Record<string, unknown>[] = []
let base = ''
const server = createServer((request, response) => {
  const signature = request.headers['payment-signature']
  if (typeof signature === 'string') {
    const proof = decodeBase64Json(signature) as {
      payload?: { invoice?: string }
      accepted?: { extra?: { invoice?: string } }
    }
    proofs.push(proof as Record<string, unknown>)
    const invoice = proof.payload?.invoice
    const hash = invoice && paymentHashOf(invoice)
    if (invoice && invoice === proof.accepted?.extra?.invoice && hash && node.isSettled(hash) && !used.has(invoice)) {
      used.add(invoice)
      response.writeHead(200, { 'content-type': 'application/json' })
      return void response.end(JSON.stringify({ paid: true }))
    }
  }
  const sats = request.url === '/pricey' ? 50_000n : 100n
  const { invoice } = node.createInvoice({ amountMsat: sats * 1000n })
  const accepts = [
    {
      scheme: 'exact',
      network: bitcoinRegtest,
      amount: (sats * 1000n).toString(),
      asset: 'BTC',
      payTo: node.publicKey,
      maxTimeoutSeconds: 600,
      extra: { paymentMethod: 'lightning', invoice },
    },
  ]
  response.writeHead(402, {
    'payment-required': encodeBase64Json({ x402Version: 2, resource: { url: `${base}${request.url}` }, accepts }),
  })
  response.end()
})

beforeAll(async () => {
  base = await listen(server)
})

afterAll(async () => {
  await close(server)
})

const wallet = (paid: string[]) => ({
  async payInvoice(invoice: string) {
    paid.push(invoice)
    return node.pay(invoice)
  },
})

describe('x402 exact on Lightning', () => {
  test('behavior: lightning() pays the offer’s invoice and sends it as the payload; Alby pays the same server the same way', async () => {
    const paid: string[] = []
    const fetchPaid = createPayingFetch({
      signers: [lightning({ wallet: wallet(paid), networks: ['regtest'] })],
      caps: { perRequest: { sats: 200 } },
    })
    const response = await fetchPaid(`${base}/report`)
    expect(response.status).toBe(200)
    expect(paid).toHaveLength(1)
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({ protocol: 'x402', network: bitcoinRegtest, asset: 'BTC', amount: 100_000n })
    expect(receipt?.reference).toBe(paymentHashOf(paid[0]!))
    const ours = proofs.at(-1) as { payload: unknown; accepted: { extra: { invoice: string } } }
    expect(ours.payload).toEqual({ invoice: paid[0] })

    const albyPaid: string[] = []
    const albyWallet = {
      payInvoice: async ({ invoice }: { invoice: string }) => {
        albyPaid.push(invoice)
        return { preimage: node.pay(invoice).preimage }
      },
    }
    const theirs = await fetchWithX402(`${base}/report`, {}, { wallet: albyWallet })
    expect(theirs.status).toBe(200)
    expect((proofs.at(-1) as { payload: unknown }).payload).toEqual({ invoice: albyPaid[0] })
  })

  test('policy: an invoice over the sats cap is refused before the wallet is asked; without lightning() the offer has no method', async () => {
    const paid: string[] = []
    const fetchPaid = createPayingFetch({ signers: [lightning({ wallet: wallet(paid), networks: ['regtest'] })] })
    expect((await failure(fetchPaid(`${base}/pricey`))).code).toBe('CAP_EXCEEDED')
    const quote = await createPayingFetch({ signers: [] }).quote(`${base}/report`)
    expect(quote.offers.map((entry) => [entry.offer.network, entry.offer.method, entry.refusal?.code])).toEqual([
      [bitcoinRegtest, undefined, 'NO_SIGNER'],
    ])
    expect(paid).toHaveLength(0)
  })

  test('behavior: an offer whose wallet answer was lost is kept with its PAYMENT-REQUIRED challenge and finished by resume through the wallet lookup, paid once', async () => {
    const paid = new Map<string, string>()
    const lossy = {
      async payInvoice(invoice: string) {
        paid.set(paymentHashOf(invoice), node.pay(invoice).preimage)
        throw new Error('the connection to the node dropped')
      },
      async lookupPayment(paymentHash: string) {
        const preimage = paid.get(paymentHash)
        return preimage ? { status: 'paid' as const, preimage } : { status: 'pending' as const }
      },
    }
    const fetchPaid = createPayingFetch({
      signers: [lightning({ wallet: lossy, networks: ['regtest'] })],
      caps: { perRequest: { sats: 200 } },
    })
    expect((await failure(fetchPaid(`${base}/report`))).code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    const [pending] = await fetchPaid.pendingPayments()
    if (!pending) throw new Error('nothing pending')
    expect(pending).toMatchObject({
      protocol: 'x402',
      proof: {},
      challenge: { 'payment-required': expect.any(String) },
    })

    const response = await fetchPaid.resume(pending)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ paid: true })
    expect(getReceipt(response)).toMatchObject({ protocol: 'x402', reference: pending.reference })
    expect(paid.size).toBe(1)
    expect(await fetchPaid.pendingPayments()).toEqual([])
  })
})
