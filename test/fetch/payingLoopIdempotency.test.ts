import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeBase64Json } from '../../examples/local-stack/http.js'
import { evm } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, type PayfetchError } from '../../src/index.js'
import { countingSigner } from '../support/countingSigner.js'
import { startL402Merchant, tableWallet } from '../support/l402Merchant.js'
import { type Merchant, requirement, type Seen, startMerchant } from '../support/merchant.js'

// Never paying twice: a stable Idempotency-Key, x402 payment-identifier, and resume() after an
// unknown outcome, which replays the proof bytes instead of signing again.
const account = privateKeyToAccount(generatePrivateKey())

let plain: Merchant
let idempotent: Merchant

/** True for the first `count` calls, then false: lose the answer that many times. */
const firstTimes = (count: number) => () => count-- > 0

function routes() {
  return {
    '/item': async (request: Seen, response: Parameters<Merchant['charge']>[1], self: Merchant) =>
      self.charge(request, response, [requirement()], () => response.end('item')),
    // Settles, then the answer is lost on the wire (socket destroyed) once.
    '/lost-once': (() => {
      const lose = firstTimes(1)
      return async (request: Seen, response: Parameters<Merchant['charge']>[1], self: Merchant) =>
        self.charge(
          request,
          response,
          [requirement()],
          () => response.writeHead(200, { 'content-type': 'text/plain' }).end('paid report'),
          { loseResponse: lose },
        )
    })(),
    '/lost-twice': (() => {
      const lose = firstTimes(2)
      return async (request: Seen, response: Parameters<Merchant['charge']>[1], self: Merchant) =>
        self.charge(request, response, [requirement()], () => response.end('paid report'), { loseResponse: lose })
    })(),
    // The connection breaks before the proof is even verified, once: nothing settled.
    '/dropped-before-settle': (() => {
      let dropped = false
      return async (request: Seen, response: Parameters<Merchant['charge']>[1], self: Merchant) => {
        if (request.headers['payment-signature'] && !dropped) {
          dropped = true
          return void response.socket?.destroy()
        }
        await self.charge(request, response, [requirement()], () => response.end('paid report'))
      }
    })(),
  }
}

beforeAll(async () => {
  plain = await startMerchant(routes())
  idempotent = await startMerchant(routes(), { paymentIdentifier: { required: false } })
})

afterAll(async () => {
  await Promise.all([plain.close(), idempotent.close()])
})

const sends = (target: Merchant, path: string) => target.seen.filter((entry) => entry.path === path)
const withProof = (target: Merchant, path: string) =>
  sends(target, path).filter((entry) => entry.headers['payment-signature'])
const failure = (call: Promise<unknown>) =>
  call.then(
    () => expect.unreachable('the call should have failed'),
    (error: unknown) => error as PayfetchError,
  )
type Proof = { extensions?: Record<string, { info: Record<string, unknown>; schema?: unknown }> }
const decodeProof = (entry: Seen | undefined) => decodeBase64Json(String(entry?.headers['payment-signature'])) as Proof

describe('idempotency keys', () => {
  test('behavior: the paid replay carries a fresh Idempotency-Key per call; the unpaid first request carries none', async () => {
    const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
    const before = sends(plain, '/item').length
    await fetchPaid(`${plain.url}/item`)
    await fetchPaid(`${plain.url}/item`)
    const [first, replay, second, secondReplay] = sends(plain, '/item').slice(before)
    expect(first?.headers['idempotency-key']).toBeUndefined()
    expect(replay?.headers['idempotency-key']).toMatch(/^pf_[0-9a-f]{32}$/)
    expect(second?.headers['idempotency-key']).toBeUndefined()
    expect(secondReplay?.headers['idempotency-key']).toMatch(/^pf_[0-9a-f]{32}$/)
    expect(secondReplay?.headers['idempotency-key']).not.toBe(replay?.headers['idempotency-key'])
  })

  test('behavior: a caller-supplied Idempotency-Key is reused verbatim on the paid replay', async () => {
    const key = 'order-2024.11/20:0001'
    await createPayingFetch({ signers: [evm({ account })] })(`${plain.url}/item`, {
      headers: { 'Idempotency-Key': key },
    })
    const [first, replay] = sends(plain, '/item').slice(-2)
    expect(first?.headers['idempotency-key']).toBe(key)
    expect(replay?.headers['idempotency-key']).toBe(key)
    expect(replay?.headers['payment-signature']).toBeDefined()
  })

  test('behavior: a merchant declaring payment-identifier gets it echoed with info.id = the idempotency key', async () => {
    const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
    expect(await (await fetchPaid(`${idempotent.url}/item`)).text()).toBe('item')
    const replay = withProof(idempotent, '/item').at(-1)
    const echoed = decodeProof(replay).extensions?.['payment-identifier']
    expect(echoed?.info).toEqual({ required: false, id: replay?.headers['idempotency-key'] })
    expect(echoed?.schema).toMatchObject({ properties: { id: { pattern: '^[a-zA-Z0-9_-]+$' } } })

    const key = 'checkout_7f3a9c2e41d84b0f'
    await fetchPaid(`${idempotent.url}/item`, { headers: { 'idempotency-key': key } })
    expect(decodeProof(withProof(idempotent, '/item').at(-1)).extensions?.['payment-identifier']?.info).toEqual({
      required: false,
      id: key,
    })
    // A merchant that declares nothing gets no extension.
    await fetchPaid(`${plain.url}/item`)
    expect(decodeProof(withProof(plain, '/item').at(-1)).extensions).toBeUndefined()
  })
})

describe('never paying twice', () => {
  test('error: the answer lost after the proof left is PAYMENT_OUTCOME_UNKNOWN; resume() sends the byte-identical proof, signs nothing, and returns the paid response', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer] })
    const settledBefore = idempotent.settled.length

    const error = await failure(fetchPaid(`${idempotent.url}/lost-once`))
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    expect(error.details).toMatchObject({
      url: `${idempotent.url}/lost-once`,
      pendingId: expect.any(String),
      idempotencyKey: expect.stringMatching(/^pf_/),
      amount: '10000',
    })
    expect(typeof error.resume).toBe('function')
    const pending = await fetchPaid.pendingPayments()
    expect(pending.map((entry) => entry.id)).toEqual([error.details.pendingId])
    expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ spent: 0n, unknown: 10_000n })])
    // The merchant did settle the first proof: only its answer was lost.
    expect(idempotent.settled.length - settledBefore).toBe(1)

    const response = await (error.resume as () => Promise<Response>)()
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('paid report')
    expect(getReceipt(response)).toMatchObject({
      protocol: 'x402',
      amount: 10_000n,
      payer: account.address,
      reference: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    })

    expect(signer.calls).toHaveLength(1)
    const [sent, resent] = withProof(idempotent, '/lost-once')
    expect(resent?.headers['payment-signature']).toBe(sent?.headers['payment-signature'])
    expect(resent?.headers['idempotency-key']).toBe(sent?.headers['idempotency-key'])
    expect(idempotent.settled.length - settledBefore).toBe(1)
    expect(idempotent.replayed).toBe(1)
    expect(await fetchPaid.pendingPayments()).toEqual([])
    expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ spent: 10_000n, unknown: 0n })])
  })

  test('behavior: a resumed L402 payment’s receipt keeps the invoice’s payment hash and the wallet’s fee', async () => {
    const lightning = await startL402Merchant(10, { loseAnswers: 1 })
    try {
      const wallet = tableWallet(lightning, { feeMsat: 42n })
      const fetchPaid = createPayingFetch({ signers: [wallet] })
      const error = await failure(fetchPaid(`${lightning.url}/report`))
      expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
      const [paymentHash] = [...lightning.preimages.keys()]
      const [pending] = await fetchPaid.pendingPayments()
      expect(pending).toMatchObject({ protocol: 'l402', reference: paymentHash, fee: '42', paidOnSigning: true })
      const response = await fetchPaid.resume(pending!)
      expect(await response.text()).toBe('lightning paid')
      expect(getReceipt(response)).toMatchObject({
        protocol: 'l402',
        amount: 10_000n,
        fee: 42n,
        asset: 'BTC',
        reference: paymentHash,
      })
      expect([wallet.calls, lightning.paid]).toEqual([1, 2])
    } finally {
      await lightning.close()
    }
  })

  test('behavior: a second call with the same Idempotency-Key after an unknown outcome resumes instead of signing', async () => {
    const target = await startMerchant(routes(), { paymentIdentifier: { required: true } })
    try {
      const signer = countingSigner(evm({ account }))
      const fetchPaid = createPayingFetch({ signers: [signer] })
      const init = { headers: { 'Idempotency-Key': 'agent-task-0042-attempt' } }
      expect((await failure(fetchPaid(`${target.url}/lost-once`, init))).code).toBe('PAYMENT_OUTCOME_UNKNOWN')

      const response = await fetchPaid(`${target.url}/lost-once`, init)
      expect(await response.text()).toBe('paid report')
      expect(getReceipt(response)?.reference).toMatch(/^0x/)
      expect(signer.calls).toHaveLength(1)
      const [sent, resent] = withProof(target, '/lost-once')
      expect(resent?.headers['payment-signature']).toBe(sent?.headers['payment-signature'])
      expect(target.settled).toHaveLength(1)
      expect(target.replayed).toBe(1)
      expect(await fetchPaid.pendingPayments()).toEqual([])
    } finally {
      await target.close()
    }
  })

  test('behavior: a proof lost before the server verified it settles on resume, with the same bytes', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer] })
    const error = await failure(fetchPaid(`${plain.url}/dropped-before-settle`))
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    const [pending] = await fetchPaid.pendingPayments()
    const response = await fetchPaid.resume(pending as NonNullable<typeof pending>)
    expect(await response.text()).toBe('paid report')
    expect(signer.calls).toHaveLength(1)
    const [sent, resent] = withProof(plain, '/dropped-before-settle')
    expect(resent?.headers['payment-signature']).toBe(sent?.headers['payment-signature'])
    expect(plain.settled.filter((entry) => entry.from === account.address).length).toBeGreaterThan(0)
  })

  test('error: without payment-identifier, resuming a proof the server already settled is refused, never paid again', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer] })
    const settledBefore = plain.settled.length
    const error = await failure(fetchPaid(`${plain.url}/lost-once`))
    expect(error.code).toBe('PAYMENT_OUTCOME_UNKNOWN')
    const resumed = await failure((error.resume as () => Promise<Response>)())
    expect(resumed).toMatchObject({
      code: 'PAYMENT_REJECTED',
      details: { reason: 'authorization reused or wrong', pendingId: error.details.pendingId },
    })
    expect(signer.calls).toHaveLength(1)
    expect(plain.settled.length - settledBefore).toBe(1)
    // The money moved once; payfetch keeps it counted, apart from what it saw succeed.
    expect((await fetchPaid.spendReport()).totals).toEqual([expect.objectContaining({ spent: 0n, unknown: 10_000n })])
    expect(await fetchPaid.pendingPayments()).toEqual([])
  })

  test('behavior: a resume whose answer is lost again stays pending and can be resumed again', async () => {
    const signer = countingSigner(evm({ account }))
    const fetchPaid = createPayingFetch({ signers: [signer] })
    const first = await failure(fetchPaid(`${idempotent.url}/lost-twice`))
    const second = await failure((first.resume as () => Promise<Response>)())
    expect(second).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN', details: { pendingId: first.details.pendingId } })
    expect((await fetchPaid.pendingPayments()).map((entry) => entry.id)).toEqual([first.details.pendingId])
    const response = await (second.resume as () => Promise<Response>)()
    expect(await response.text()).toBe('paid report')
    expect(signer.calls).toHaveLength(1)
    expect(new Set(withProof(idempotent, '/lost-twice').map((entry) => entry.headers['payment-signature'])).size).toBe(
      1,
    )
    expect(await fetchPaid.pendingPayments()).toEqual([])
  })
})
