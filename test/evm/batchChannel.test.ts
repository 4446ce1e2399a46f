import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterEach, describe, expect, test } from 'vitest'
import { batchSettlement, type ChannelOptions, evm } from '../../src/evm/index.js'
import {
  type ApprovalRequest,
  type ChannelReport,
  createPayingFetch,
  getReceipt,
  memoryLedger,
  memorySessions,
  type PayfetchEvent,
  type SessionStore,
} from '../../src/index.js'
import { fileSessions } from '../../src/node/index.js'
import { createPayfetchTools } from '../../src/tools/index.js'
import { type ChannelServer, type ChannelServerOptions, price, startChannelServer } from '../support/channelServer.js'

// The client side of x402 batch-settlement against a loopback server that checks every voucher
// (channel id, signature, exact cumulative) and can lie on purpose.
const account = privateKeyToAccount(generatePrivateKey())
let server: ChannelServer | undefined
let dir: string | undefined

afterEach(async () => {
  await server?.close()
  server = undefined
  if (dir) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

function paying(sessions: SessionStore = memorySessions(), channels: ChannelOptions = {}, more = {}) {
  const events: PayfetchEvent[] = []
  const ledger = memoryLedger()
  const fetchPaid = createPayingFetch({
    signers: [evm({ account, batchSettlement: batchSettlement(channels) })],
    sessions,
    ledger,
    onEvent: (event) => events.push(event),
    ...more,
  })
  const channelEvents = () => events.filter((event): event is ChannelReport => event.type.startsWith('channel.'))
  return { fetchPaid, events, channelEvents, ledger }
}

async function start(options: ChannelServerOptions = {}) {
  server = await startChannelServer(options)
  return server
}

describe('batch-settlement channels', () => {
  test('behavior: five calls make one deposit, then vouchers only; the ledger spends exactly the charges, budgets count the deposit once', async () => {
    const { url, payloads } = await start()
    const { fetchPaid, channelEvents } = paying(
      memorySessions(),
      {},
      { caps: { budgets: [{ usd: '1', window: '1d' }] } },
    )
    for (let call = 0; call < 5; call++) {
      const response = await fetchPaid(`${url}/weather`)
      expect(response.status).toBe(200)
      expect(getReceipt(response)?.amount).toBe(price)
    }
    expect(payloads.map((payload) => payload.type)).toEqual(['deposit', 'voucher', 'voucher', 'voucher', 'voucher'])
    expect(payloads.map((payload) => (payload.voucher as { maxClaimableAmount: string }).maxClaimableAmount)).toEqual([
      '1000',
      '2000',
      '3000',
      '4000',
      '5000',
    ])
    // Ten times the price, above the server's minDeposit of 5000.
    expect((payloads[0]?.deposit as { amount: string }).amount).toBe('10000')
    expect(channelEvents().map((event) => [event.type, event.amount])).toEqual([
      ['channel.deposit', 10_000n],
      ['channel.voucher', price],
      ['channel.voucher', price],
      ['channel.voucher', price],
      ['channel.voucher', price],
      ['channel.voucher', price],
    ])
    const report = await fetchPaid.spendReport()
    expect(report.totals.map(({ spent, reserved, unknown }) => ({ spent, reserved, unknown }))).toEqual([
      { spent: 5n * price, reserved: 0n, unknown: 0n },
    ])
    // The deposit (0.01 USDC = 10^7 nano-dollars) is what the budget counts, once.
    expect(report.budgets[0]?.used).toBe(10_000_000n)
  })

  test('behavior: a restarted process on the same file sessions continues the channel without a new deposit', async () => {
    const { url, payloads } = await start()
    dir = await mkdtemp(join(tmpdir(), 'payfetch-channel-'))
    const path = join(dir, 'sessions.json')
    const first = paying(await fileSessions(path))
    await first.fetchPaid(`${url}/weather`)
    await first.fetchPaid(`${url}/weather`)
    const second = paying(await fileSessions(path))
    const response = await second.fetchPaid(`${url}/weather`)
    expect(response.status).toBe(200)
    expect(payloads.map((payload) => payload.type)).toEqual(['deposit', 'voucher', 'voucher'])
    expect((payloads[2]?.voucher as { maxClaimableAmount: string }).maxClaimableAmount).toBe('3000')
  })

  test('behavior: quote() shows the channel offer with the deposit it needs first, then none', async () => {
    const { url } = await start()
    const { fetchPaid } = paying()
    const before = await fetchPaid.quote(`${url}/weather`)
    expect(before.offers[0]?.offer.scheme).toBe('batch-settlement')
    expect(before.offers[0]?.offer.amount).toBe(price)
    expect(before.offers[0]?.deposit).toBe(10_000n)
    await fetchPaid(`${url}/weather`)
    expect((await fetchPaid.quote(`${url}/weather`)).offers[0]?.deposit).toBe(0n)
  })

  test('error: a charge reported above the price sets the channel aside; the next call signs nothing (CHANNEL_INVALID)', async () => {
    const self = await start({ reportCharged: () => price + 1n })
    const { fetchPaid, channelEvents } = paying()
    const response = await fetchPaid(`${self.url}/weather`)
    // The answer was paid for: it is returned, the charge counted at the price signed.
    expect(response.status).toBe(200)
    expect(channelEvents().map((event) => event.type)).toEqual(['channel.unusable'])
    const error = await thrown(fetchPaid(`${self.url}/weather`))
    expect(error).toMatchObject({
      code: 'CHANNEL_INVALID',
      details: { reason: 'the server reported a charge above the price' },
    })
    expect(self.payloads).toHaveLength(1)
    const report = await fetchPaid.spendReport()
    expect(report.totals[0]?.spent).toBe(price)
  })

  test('error: an answer for another channel id sets the channel aside (CHANNEL_INVALID)', async () => {
    const self = await start({ reportChannelId: `0x${'ab'.repeat(32)}` })
    const { fetchPaid } = paying()
    await fetchPaid(`${self.url}/weather`)
    expect(await thrown(fetchPaid(`${self.url}/weather`))).toMatchObject({
      code: 'CHANNEL_INVALID',
      details: { reason: 'the server answered for another channel' },
    })
    expect(self.payloads).toHaveLength(1)
  })

  test('error: a cumulative total that does not add up sets the channel aside (CHANNEL_INVALID)', async () => {
    const self = await start({ skewCumulative: 1n })
    const { fetchPaid } = paying()
    await fetchPaid(`${self.url}/weather`)
    expect(await thrown(fetchPaid(`${self.url}/weather`))).toMatchObject({ code: 'CHANNEL_INVALID' })
    expect(self.payloads).toHaveLength(1)
  })

  test('error: a corrective 402 with a voucher this payer never signed is refused, nothing more is signed (CHANNEL_INVALID)', async () => {
    const forger = privateKeyToAccount(generatePrivateKey())
    const self = await start({ serverCharged: 3_000n, forgeWith: forger })
    const { fetchPaid } = paying()
    const error = await thrown(fetchPaid(`${self.url}/weather`))
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED' })
    expect(self.payloads).toHaveLength(1)
    expect(await thrown(fetchPaid(`${self.url}/weather`))).toMatchObject({
      code: 'CHANNEL_INVALID',
      details: { reason: 'the server sent a channel state this payer never signed' },
    })
    expect(self.payloads).toHaveLength(1)
  })

  test('behavior: a corrective 402 carrying this payer’s own last voucher resyncs the channel and the call pays once', async () => {
    const self = await start()
    const sessions = memorySessions()
    const { fetchPaid } = paying(sessions)
    await fetchPaid(`${self.url}/weather`)
    await fetchPaid(`${self.url}/weather`)
    // The client lost the second charge (its record says 1000 charged, 2000 signed).
    const key = Object.keys(await snapshot(sessions, self.url))[0] as string
    const token = await sessions.get(key)
    if (!token?.channel) throw new Error('no channel kept')
    await sessions.set(key, { ...token, channel: { ...token.channel, charged: '1000' } })
    const response = await fetchPaid(`${self.url}/weather`)
    expect(response.status).toBe(200)
    expect(
      self.payloads.map((payload) => (payload.voucher as { maxClaimableAmount: string }).maxClaimableAmount),
    ).toEqual(['1000', '2000', '2000', '3000'])
    expect(self.charged()).toBe(3_000n)
  })

  test('behavior: after a lost answer the next voucher builds on the open one, never signing its total again', async () => {
    const self = await start()
    const { fetchPaid } = paying()
    await fetchPaid(`${self.url}/weather`)
    self.options.loseNext = true
    expect(await thrown(fetchPaid(`${self.url}/weather`))).toMatchObject({ code: 'PAYMENT_OUTCOME_UNKNOWN' })
    expect((await fetchPaid(`${self.url}/weather`)).status).toBe(200)
    const totals = self.payloads.map(
      (payload) => (payload.voucher as { maxClaimableAmount: string }).maxClaimableAmount,
    )
    expect(totals).toEqual(['1000', '2000', '3000'])
    expect(self.charged()).toBe(3_000n)
  })

  test('behavior: channel_busy sends the same voucher again, a bounded number of times', async () => {
    const self = await start({ busy: 2 })
    const { fetchPaid } = paying()
    const response = await fetchPaid(`${self.url}/weather`)
    expect(response.status).toBe(200)
    expect(self.payloads).toHaveLength(3)
    expect(new Set(self.payloads.map((payload) => JSON.stringify(payload))).size).toBe(1)
  })

  test('error: a channel busy past the retries is a refusal (PAYMENT_REJECTED) after four sends of one voucher', async () => {
    const stubborn = await start({ busy: 10 })
    const error = await thrown(paying().fetchPaid(`${stubborn.url}/weather`))
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED' })
    expect(stubborn.payloads).toHaveLength(4)
    expect(new Set(stubborn.payloads.map((payload) => JSON.stringify(payload))).size).toBe(1)
  })

  test('policy: the approve hook is shown the deposit a call makes first, and no deposit once the channel has room', async () => {
    const self = await start()
    const asked: ApprovalRequest[] = []
    const { fetchPaid } = paying(memorySessions(), {}, { approve: (request: ApprovalRequest) => !!asked.push(request) })
    expect((await fetchPaid(`${self.url}/weather`)).status).toBe(200)
    expect((await fetchPaid(`${self.url}/weather`)).status).toBe(200)
    expect(asked.map(({ offer, deposit }) => [offer.amount, deposit?.amount])).toEqual([
      [1_000n, 10_000n],
      [1_000n, undefined],
    ])
  })

  test('policy: an agent tool confirming above $0.005 asks for the $0.01 deposit, not for the $0.001 voucher after it', async () => {
    const self = await start()
    const sessions = memorySessions()
    const tools = createPayfetchTools({
      payfetch: { signers: [evm({ account, batchSettlement: batchSettlement() })], sessions },
      confirm: { aboveUsd: '0.005' },
    })
    const pay = tools.get('pay_fetch')
    const first = await pay?.run({ url: `${self.url}/weather` })
    expect(first).toMatchObject({
      ok: false,
      error: {
        code: 'CONFIRMATION_REQUIRED',
        paid: false,
        quote: { amount: '1000', deposit: '10000', deposit_usd: '0.01' },
      },
    })
    expect(self.payloads).toHaveLength(0)
    const quoteId = first?.ok === false ? first.error.quote?.quote_id : undefined
    expect(await pay?.run({ url: `${self.url}/weather`, confirm_quote_id: quoteId })).toMatchObject({
      ok: true,
      output: { paid: true },
    })
    expect(await pay?.run({ url: `${self.url}/weather` })).toMatchObject({ ok: true, output: { paid: true } })
    expect(self.payloads.map((payload) => (payload as { type: string }).type)).toEqual(['deposit', 'voucher'])
  })

  test('behavior: quote_fetch shows the deposit paying would make first, and none once the channel has room', async () => {
    const self = await start()
    const tools = createPayfetchTools({
      payfetch: { signers: [evm({ account, batchSettlement: batchSettlement() })], sessions: memorySessions() },
    })
    const quoteOf = async () => {
      const result = await tools.get('quote_fetch')?.run({ url: `${self.url}/weather` })
      return result?.ok ? (result.output as { offers: { amount: string; deposit?: string }[] }).offers : undefined
    }
    expect(await quoteOf()).toMatchObject([{ amount: '1000', deposit: '10000' }])
    expect(self.payloads).toHaveLength(0)
    expect(await tools.get('pay_fetch')?.run({ url: `${self.url}/weather` })).toMatchObject({ ok: true })
    expect(await quoteOf()).toMatchObject([{ amount: '1000', deposit: '0' }])
    expect(self.payloads).toHaveLength(1)
  })

  test('policy: a deposit above maxDeposit is refused before anything is signed (CAP_EXCEEDED)', async () => {
    const self = await start()
    const error = await thrown(paying(memorySessions(), { maxDeposit: 4_000n }).fetchPaid(`${self.url}/weather`))
    expect(error).toMatchObject({ code: 'CAP_EXCEEDED' })
    expect(self.payloads).toHaveLength(0)
  })

  test('policy: a deposit the budget cannot hold is refused before anything is signed (BUDGET_EXHAUSTED)', async () => {
    const self = await start()
    const { fetchPaid } = paying(memorySessions(), {}, { caps: { budgets: [{ usd: '0.005', window: '1d' }] } })
    expect(await thrown(fetchPaid(`${self.url}/weather`))).toMatchObject({ code: 'BUDGET_EXHAUSTED' })
    expect(self.payloads).toHaveLength(0)
  })

  test('policy: without batchSettlement() evm() shows channel offers but never pays them (NO_SIGNER)', async () => {
    const self = await start()
    const fetchPaid = createPayingFetch({ signers: [evm({ account })] })
    expect((await fetchPaid.quote(`${self.url}/weather`)).offers[0]?.offer.scheme).toBe('batch-settlement')
    expect(await thrown(fetchPaid(`${self.url}/weather`))).toMatchObject({ code: 'NO_SIGNER' })
    expect(self.payloads).toHaveLength(0)
  })

  test('error: batchSettlement() refuses a multiplier, maxDeposit or salt it cannot use (INVALID_OPTIONS)', () => {
    for (const options of [
      { depositMultiplier: 0 },
      { depositMultiplier: 101 },
      { maxDeposit: 0n },
      { salt: '0x12' as const },
    ])
      expect(() => batchSettlement(options)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
  })

  test('behavior: two fetches on one store never sign the same cumulative amount for different calls', async () => {
    const self = await start()
    const sessions = memorySessions()
    const a = paying(sessions)
    const b = paying(sessions)
    const results = await Promise.allSettled([
      a.fetchPaid(`${self.url}/weather`),
      b.fetchPaid(`${self.url}/weather`),
      a.fetchPaid(`${self.url}/weather`),
      b.fetchPaid(`${self.url}/weather`),
    ])
    expect(results.every((result) => result.status === 'fulfilled')).toBe(true)
    const totals = self.payloads.map(
      (payload) => (payload.voucher as { maxClaimableAmount: string }).maxClaimableAmount,
    )
    expect(totals).toEqual(['1000', '2000', '3000', '4000'])
    expect(self.payloads.filter((payload) => payload.type === 'deposit')).toHaveLength(1)
  })
})

/** What a promise rejects with; fails the test when it resolves. */
async function thrown(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error,
  )
}

// The keys a memory store holds for channels, found by asking for the one a test just used.
async function snapshot(sessions: SessionStore, url: string): Promise<Record<string, unknown>> {
  const key = `x402-channel:${new URL(url).origin}|eip155:84532|0x036cbd53842c5426634e7929541ec2318f3dcf7e|0x209693bc6afc0c5328ba36faf03c514ef312287c|${account.address.toLowerCase()}`
  return (await sessions.get(key)) ? { [key]: true } : {}
}
