import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type LightningStack, startLightningStack, walletSecrets } from '../../examples/local-stack/lightningStack.js'
import type { WalletServer, WalletServerBehavior } from '../../examples/local-stack/lightningWallets.js'
import { createPayingFetch, getReceipt, type PayingFetch } from '../../src/index.js'
import { coreLightning, type LightningWallet, lightning, lnbits, lnd } from '../../src/lightning/index.js'
import { fileLedger } from '../../src/node/index.js'
import { rejectedPayfetchError as failure } from '../support/thrown.js'

// A payment made through lnd, Core Lightning or LNbits whose pay answer was lost (the wallet paid,
// then the connection dropped) is finished by `resume()` through the wallet's own lookup endpoint,
// on loopback wallet servers that speak the documented shapes and answer from what they really did
// (L402 first, then a `Payment` lightning charge).
let stack: LightningStack
let dir: string

beforeAll(async () => {
  stack = await startLightningStack()
  dir = await mkdtemp(join(tmpdir(), 'payfetch-rest-lookup-'))
})

afterAll(async () => {
  await stack?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

type Backend = {
  readonly name: string
  start(behavior?: WalletServerBehavior): Promise<WalletServer>
  wallet(url: string): LightningWallet
  /** The same wallet with a credential the server refuses, and that credential. */
  refused(url: string): { wallet: LightningWallet; secret: string }
  /** The fee the wallet server reports on top of the invoice, in msat. */
  readonly feeMsat: bigint
  /** What the wallet server must have received for a lookup of `paymentHash`. */
  expectLookup(request: WalletServer['requests'][number], paymentHash: string): void
}

const backends: Backend[] = [
  {
    name: 'lnd',
    start: (behavior) => stack.lnd(behavior),
    wallet: (url) => lnd({ url, macaroon: walletSecrets.lndMacaroon }),
    refused(url) {
      const secret = randomBytes(32).toString('hex')
      return { wallet: lnd({ url, macaroon: secret }), secret }
    },
    feeMsat: 0n,
    expectLookup(request, paymentHash) {
      // TrackPaymentV2: the hash as URL-safe base64, padded.
      const inPath = Buffer.from(paymentHash, 'hex').toString('base64').replaceAll('+', '-').replaceAll('/', '_')
      expect(request).toMatchObject({
        method: 'GET',
        path: `/v2/router/track/${inPath}`,
        headers: { 'grpc-metadata-macaroon': walletSecrets.lndMacaroon },
      })
    },
  },
  {
    name: 'coreLightning',
    start: (behavior) => stack.coreLightning(behavior),
    wallet: (url) => coreLightning({ url, rune: walletSecrets.clnRune }),
    refused(url) {
      const secret = randomBytes(24).toString('base64url')
      return { wallet: coreLightning({ url, rune: secret }), secret }
    },
    feeMsat: 1000n,
    expectLookup(request, paymentHash) {
      expect(request).toMatchObject({ method: 'POST', path: '/v1/listpays', headers: { rune: walletSecrets.clnRune } })
      expect(request.body).toEqual({ payment_hash: paymentHash })
    },
  },
  {
    name: 'lnbits',
    start: (behavior) => stack.lnbits(behavior),
    wallet: (url) => lnbits({ url, adminKey: walletSecrets.lnbitsAdminKey, pollIntervalMs: 20 }),
    refused(url) {
      const secret = randomBytes(16).toString('hex')
      return { wallet: lnbits({ url, adminKey: secret }), secret }
    },
    feeMsat: 2000n,
    expectLookup(request, paymentHash) {
      expect(request).toMatchObject({
        method: 'GET',
        path: `/api/v1/payments/${paymentHash}`,
        headers: { 'x-api-key': walletSecrets.lnbitsAdminKey },
      })
    },
  },
]

const lookupOptions = () => ({ signal: AbortSignal.timeout(10_000), timeoutSeconds: 9 })

/** Each journal line of a file ledger is `<json>\t<checksum>`; the commits of one pending payment. */
async function commitsOf(path: string, id: string | undefined): Promise<number> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line.slice(0, line.lastIndexOf('\t'))) as { op: string; id?: string; state?: string })
    .filter((record) => record.op === 'state' && record.id === id && record.state === 'committed').length
}

describe.each(backends)('resuming a payment through $name whose pay answer was lost', (backend) => {
  let run = 0
  /** A paying fetch on a fresh file ledger, paying through `wallet`. */
  async function payingFetch(wallet: LightningWallet): Promise<{ fetchPaid: PayingFetch; ledgerPath: string }> {
    const ledgerPath = join(dir, `${backend.name}-${run++}.jsonl`)
    const signer = lightning({ wallet, networks: ['regtest'], maxFeeSats: 7, timeoutMs: 20_000 })
    // The charge server's 100 sat charges plus the fee limit: above the default 100 sat cap.
    const caps = { perRequest: { sats: 200 } }
    return {
      fetchPaid: createPayingFetch({ signers: [signer], caps, ledger: await fileLedger(ledgerPath) }),
      ledgerPath,
    }
  }

  /** Pays `url` through a wallet server that drops its answer: unknown, one pending payment. */
  async function lostPayment(url: string, behavior: WalletServerBehavior = {}, init?: RequestInit) {
    const server = await backend.start({ dropAnswer: true, ...behavior })
    const wallet = backend.wallet(server.url)
    const { fetchPaid, ledgerPath } = await payingFetch(wallet)
    const lost = await failure(fetchPaid(url, init))
    expect(lost).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { wallet: backend.name } })
    const paymentHash = (lost.details as { paymentHash: string }).paymentHash
    const [pending, ...others] = await fetchPaid.pendingPayments()
    expect(others).toEqual([])
    expect(pending).toMatchObject({ reference: paymentHash, proof: {} })
    return { server, wallet, fetchPaid, ledgerPath, paymentHash, pending: pending as NonNullable<typeof pending> }
  }

  test('behavior: the wallet paid and the answer was lost; resume looks it up by hash, the server answers, the ledger commits once and the invoice is paid once', async () => {
    const l402 = await stack.l402Server()
    const settledBefore = stack.node.settled.length
    const { server, fetchPaid, ledgerPath, paymentHash, pending } = await lostPayment(`${l402.url}/report`)
    expect(pending.protocol).toBe('l402')
    // The money left; the proof never reached the L402 server.
    expect(stack.node.settled.length).toBe(settledBefore + 1)
    expect(stack.node.settled.at(-1)?.paymentHash).toBe(paymentHash)
    expect(l402.stats.accepted).toBe(0)
    expect(server.requests).toHaveLength(1)

    const response = await fetchPaid.resume(pending)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true, path: '/report' })
    expect(getReceipt(response)).toMatchObject({ protocol: 'l402', amount: 21_000n, reference: paymentHash })
    // One pay, one lookup, shaped as the wallet documents; nothing paid again.
    expect(server.requests).toHaveLength(2)
    backend.expectLookup(server.requests[1] as WalletServer['requests'][number], paymentHash)
    expect(stack.node.settled.length).toBe(settledBefore + 1)
    expect(l402.stats.accepted).toBe(1)
    // Spent: the amount and the fee the lookup reported, committed once.
    expect(await fetchPaid.pendingPayments()).toEqual([])
    expect((await fetchPaid.spendReport()).totals).toEqual([
      expect.objectContaining({ spent: 21_000n + backend.feeMsat, reserved: 0n, unknown: 0n }),
    ])
    expect(await commitsOf(ledgerPath, pending.id)).toBe(1)
    expect((await failure(fetchPaid.resume(pending))).code).toBe('INVALID_OPTIONS')
    expect(server.requests).toHaveLength(2)
  })

  test('behavior: a `Payment` lightning charge whose pay answer was lost is finished the same way: the kept challenge is echoed, the body replayed, the invoice paid once', async () => {
    const charge = await stack.chargeServer()
    const settledBefore = stack.node.settled.length
    const body = JSON.stringify({ city: 'Lisbon' })
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body }
    const { server, fetchPaid, paymentHash, pending } = await lostPayment(`${charge.url}/echo`, {}, init)
    expect(pending).toMatchObject({ protocol: 'payment', challenge: { 'www-authenticate': expect.any(String) } })

    const response = await fetchPaid.resume(pending)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(body)
    expect(getReceipt(response)).toMatchObject({ protocol: 'payment', reference: paymentHash })
    expect(server.requests).toHaveLength(2)
    expect(stack.node.settled.length).toBe(settledBefore + 1)
    expect(charge.outcomes.filter((outcome) => outcome.accepted)).toHaveLength(1)
  })

  test('error: the payment failed and that answer was lost; the lookup reports it failed: resume is PAYMENT_FAILED and the reservation is released', async () => {
    // A server whose invoices no node of the stack can route to: the wallet tries and fails.
    const { startL402Server } = await import('../../examples/local-stack/l402Server.js')
    const foreign = await startL402Server()
    try {
      const { server, wallet, fetchPaid, paymentHash, pending } = await lostPayment(`${foreign.url}/x`)
      expect(await wallet.lookupPayment?.(paymentHash, lookupOptions())).toEqual({ status: 'failed' })
      const error = await failure(fetchPaid.resume(pending))
      expect(error).toMatchObject({ code: 'PAYMENT_FAILED', details: { paymentHash, pendingId: pending.id } })
      expect(await fetchPaid.pendingPayments()).toEqual([])
      expect((await fetchPaid.spendReport()).totals).toEqual([])
      expect(foreign.node.settled).toEqual([])
      expect(foreign.stats.accepted).toBe(0)
      expect(server.requests.filter((request) => request.path === server.requests[0]?.path)).toHaveLength(1)
    } finally {
      await foreign.close()
    }
  })

  test('error: a wallet with no record of the payment, or with it still in flight: PAYMENT_OUTCOME_UNKNOWN with details.paymentHash; it stays pending and counted, and is never paid again', async () => {
    const l402 = await stack.l402Server()
    for (const lookup of ['unknown', 'pending'] as const) {
      const settledBefore = stack.node.settled.length
      const { server, wallet, fetchPaid, paymentHash, pending } = await lostPayment(`${l402.url}/x`, { lookup })
      expect(await wallet.lookupPayment?.(paymentHash, lookupOptions())).toEqual({ status: 'pending' })
      const error = await failure(fetchPaid.resume(pending))
      expect(error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { paymentHash, pendingId: pending.id } })
      expect(await fetchPaid.pendingPayments()).toEqual([expect.objectContaining({ id: pending.id, proof: {} })])
      // Counted as money that may have moved: the amount plus the fee limit (7 sats).
      expect((await fetchPaid.spendReport()).totals).toEqual([
        expect.objectContaining({ spent: 0n, reserved: 0n, unknown: 28_000n }),
      ])
      expect(server.requests).toHaveLength(3)
      expect(stack.node.settled.length).toBe(settledBefore + 1)
    }
    expect(l402.stats.accepted).toBe(0)
  })

  test('error: a malformed lookup answer (off the documented shape, though it carries the real preimage) is pending: resume is PAYMENT_OUTCOME_UNKNOWN and nothing is released', async () => {
    const l402 = await stack.l402Server()
    const { wallet, fetchPaid, paymentHash, pending } = await lostPayment(`${l402.url}/x`, { lookup: 'malformed' })
    expect(await wallet.lookupPayment?.(paymentHash, lookupOptions())).toEqual({ status: 'pending' })
    const error = await failure(fetchPaid.resume(pending))
    expect(error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { paymentHash } })
    expect(await fetchPaid.pendingPayments()).toHaveLength(1)
    expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ spent: 0n, unknown: 28_000n })])
    expect(l402.stats.accepted).toBe(0)
  })

  test('error: a lookup the wallet refuses (a wrong credential) is a typed PAYMENT_OUTCOME_UNKNOWN naming the hash and not the credential', async () => {
    const server = await backend.start()
    const { wallet, secret } = backend.refused(server.url)
    const paymentHash = randomBytes(32).toString('hex')
    const error = await failure(Promise.resolve(wallet.lookupPayment?.(paymentHash, lookupOptions())))
    expect(error).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { wallet: backend.name, paymentHash } })
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain(secret)
    expect(server.requests).toHaveLength(1)
  })
})
