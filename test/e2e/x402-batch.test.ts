// payfetch's batch-settlement client against the local stack: the x402 2.27 reference server and
// facilitator, the channel contracts on anvil. Real deposits, vouchers, claims, settlement, refund.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { declareEip2612GasSponsoringExtension, declareErc20ApprovalGasSponsoringExtension } from '@x402/extensions'
import { type Hex, maxUint256 } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { EvmStack } from '../../examples/local-stack/evmStack.js'
import { defaultBatchRoutes, json, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { decodeBase64Json } from '../../examples/local-stack/http.js'
import { batchSettlement, evm, permit2Address, permit2DepositCollector, refundChannel } from '../../src/evm/index.js'
import {
  type ChannelReport,
  createPayingFetch,
  getReceipt,
  memoryLedger,
  memorySessions,
  type PayfetchEvent,
  type SessionStore,
  type SessionToken,
} from '../../src/index.js'
import { fileSessions } from '../../src/node/index.js'
import { createPayfetchTools, type ToolResult } from '../../src/tools/index.js'

let stack: EvmStack
let dir: string

beforeAll(async () => {
  stack = await startEvmStack({
    batchRoutes: [
      ...defaultBatchRoutes,
      {
        method: 'GET',
        path: '/batch/permit2/eip2612',
        amount: 1_000n,
        token: 'usdc',
        scheme: 'batch-settlement',
        assetTransferMethod: 'permit2',
        extensions: declareEip2612GasSponsoringExtension(),
        description: 'A Permit2 channel whose server sponsors the Permit2 allowance with an EIP-2612 permit',
        handler: () => json({ weather: 'sunny', via: 'batch-settlement+permit2+eip2612' }),
      },
      {
        method: 'GET',
        path: '/batch/permit2/erc20-approval',
        amount: 1_000n,
        token: 'usdc',
        scheme: 'batch-settlement',
        assetTransferMethod: 'permit2',
        extensions: declareErc20ApprovalGasSponsoringExtension(),
        description: "A Permit2 channel whose server funds and broadcasts the payer's signed approve",
        handler: () => json({ weather: 'sunny', via: 'batch-settlement+permit2+erc20-approval' }),
      },
    ],
  })
  dir = await mkdtemp(join(tmpdir(), 'payfetch-batch-'))
})

afterAll(async () => {
  await stack?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function payer() {
  const account = stack.newAccount()
  await stack.mint(stack.usdc, account.address, 1_000_000n)
  return account
}

function paying(account: Awaited<ReturnType<typeof payer>>, sessions: SessionStore) {
  const events: PayfetchEvent[] = []
  const fetchPaid = createPayingFetch({
    signers: [evm({ account, batchSettlement: batchSettlement() })],
    sessions,
    ledger: memoryLedger(),
    caps: { budgets: [{ usd: '1', window: '1d' }] },
    onEvent: (event) => events.push(event),
  })
  const channel = () => events.filter((event): event is ChannelReport => event.type.startsWith('channel.'))
  return { fetchPaid, events, channel }
}

describe('batch-settlement on the local stack: payfetch', () => {
  test('behavior: five calls cost one deposit transaction and vouchers only; claim + settle pays the receiver exactly the charges; a restarted process continues the channel; a refund returns the rest', async () => {
    const account = await payer()
    const path = join(dir, 'sessions.json')
    const first = paying(account, await fileSessions(path))
    const start = await stack.blockNumber()
    const timings: number[] = []
    for (let call = 0; call < 5; call++) {
      const began = performance.now()
      const response = await first.fetchPaid(stack.batch.weatherUrl)
      timings.push(performance.now() - began)
      expect(response.status).toBe(200)
      expect(getReceipt(response)?.amount).toBe(1_000n)
      await response.arrayBuffer()
    }
    expect(await stack.transactionsSince(start)).toBe(1)
    expect(first.channel().map((event) => [event.type, event.amount, event.cumulative])).toEqual([
      ['channel.deposit', 10_000n, 10_000n],
      ['channel.voucher', 1_000n, 1_000n],
      ['channel.voucher', 1_000n, 2_000n],
      ['channel.voucher', 1_000n, 3_000n],
      ['channel.voucher', 1_000n, 4_000n],
      ['channel.voucher', 1_000n, 5_000n],
    ])
    const report = await first.fetchPaid.spendReport()
    expect(report.totals.map(({ spent, reserved, unknown }) => ({ spent, reserved, unknown }))).toEqual([
      { spent: 5_000n, reserved: 0n, unknown: 0n },
    ])
    // The deposit is the money at risk the budget counts, once: 0.01 USDC.
    expect(report.budgets[0]?.used).toBe(10_000_000n)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    const channelId = first.channel()[0]?.channelId as `0x${string}`
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 10_000n, totalClaimed: 0n })

    // A restarted process on the same file sessions: no second deposit, the cumulative goes on.
    const second = paying(account, await fileSessions(path))
    const restarted = await second.fetchPaid(stack.batch.weatherUrl)
    expect(restarted.status).toBe(200)
    expect(second.channel().map((event) => [event.type, event.cumulative])).toEqual([['channel.voucher', 6_000n]])
    expect(await stack.transactionsSince(start)).toBe(1)

    const receiverBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    await stack.batch.claimAndSettle()
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(receiverBefore + 6_000n)
    expect(await stack.transactionsSince(start)).toBe(3)

    // Cooperative refund: everything not charged comes back to the payer.
    const refundEvents: ChannelReport[] = []
    const refund = await refundChannel({
      account,
      url: stack.batch.weatherUrl,
      sessions: await fileSessions(path),
      onEvent: (event) => refundEvents.push(event),
    })
    expect(refund).toMatchObject({ channelId, returned: 4_000n })
    expect(refund.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(refundEvents.map((event) => [event.type, event.amount])).toEqual([['channel.refund', 4_000n]])
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 6_000n)
    // The drained record stays, for the charged total the server remembers: the next call deposits
    // into the channel again and its voucher goes on from 6000 (one below it would be refused).
    expect((await (await fileSessions(path)).get(channelKeyOf(account.address)))?.channel).toMatchObject({
      deposited: '6000',
      charged: '6000',
    })
    const reopened = paying(account, await fileSessions(path))
    const afterRefund = await stack.blockNumber()
    expect((await reopened.fetchPaid(stack.batch.weatherUrl)).status).toBe(200)
    expect(reopened.channel().map((event) => [event.type, event.amount, event.cumulative])).toEqual([
      ['channel.deposit', 10_000n, 16_000n],
      ['channel.voucher', 1_000n, 7_000n],
    ])
    expect(await stack.transactionsSince(afterRefund)).toBe(1)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 16_000n)
    console.log(
      `batch-settlement client time: deposit call ${timings[0]?.toFixed(1)} ms, voucher calls ${timings
        .slice(1)
        .map((time) => time.toFixed(1))
        .join(', ')} ms`,
    )
  })

  test('behavior: a metered route charging less than the price is counted at its charge, and the next voucher builds on it', async () => {
    const account = await payer()
    const sessions = await fileSessions(join(dir, 'metered.json'))
    const { fetchPaid, channel } = paying(account, sessions)
    const response = await fetchPaid(`${stack.batch.meteredUrl}?charge=1234`)
    expect(response.status).toBe(200)
    expect(getReceipt(response)?.amount).toBe(1_234n)
    const next = await fetchPaid(stack.batch.meteredUrl)
    expect(next.status).toBe(200)
    expect(channel().map((event) => [event.type, event.amount, event.cumulative])).toEqual([
      ['channel.deposit', 50_000n, 50_000n],
      ['channel.voucher', 1_234n, 1_234n],
      ['channel.voucher', 5_000n, 6_234n],
    ])
    expect((await fetchPaid.spendReport()).totals[0]?.spent).toBe(6_234n)
  })

  test("behavior: a process whose channel state is one call behind meets the reference server's corrective 402, checks its own last voucher in it, resyncs and pays once", async () => {
    const account = await payer()
    const ahead = memorySessions()
    const first = paying(account, ahead)
    expect((await first.fetchPaid(stack.batch.weatherUrl)).status).toBe(200)
    // A copy of the state after the first call, as a process that missed the second would have.
    const behind = memorySessions()
    const key = channelKeyOf(account.address)
    await behind.set(key, (await ahead.get(key)) as SessionToken)
    expect((await first.fetchPaid(stack.batch.weatherUrl)).status).toBe(200)
    const start = await stack.blockNumber()
    const late = paying(account, behind)
    const response = await late.fetchPaid(stack.batch.weatherUrl)
    expect(response.status).toBe(200)
    expect(getReceipt(response)?.amount).toBe(1_000n)
    // Signed 2000 (refused: the server holds 2000), resynced to the server's 2000, then signed 3000.
    expect(late.channel().map((event) => [event.type, event.cumulative])).toEqual([['channel.voucher', 3_000n]])
    expect((await behind.get(key))?.channel).toMatchObject({ deposited: '10000', charged: '3000', signed: '3000' })
    expect(await stack.transactionsSince(start)).toBe(0)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
  })

  test('policy: a confirmation quoted while the channel had room covers no deposit: the channel closed before it was used, it is CONFIRMATION_INVALID and nothing moves', async () => {
    const account = await payer()
    const sessions = memorySessions()
    const { get } = createPayfetchTools({
      payfetch: { signers: [evm({ account, batchSettlement: batchSettlement() })], sessions, ledger: memoryLedger() },
      confirm: 'always',
    })
    const payFetch = (input: Record<string, unknown> = {}) =>
      get('pay_fetch')?.run({ url: stack.batch.weatherUrl, ...input }) as Promise<ToolResult<unknown>>
    const quoteId = (result: ToolResult<unknown>) => (result.ok ? undefined : result.error.quote?.quote_id)
    const opening = await payFetch()
    expect(opening).toMatchObject({ ok: false, error: { code: 'CONFIRMATION_REQUIRED', quote: { deposit: '10000' } } })
    expect(await payFetch({ confirm_quote_id: quoteId(opening) })).toMatchObject({ ok: true, output: { paid: true } })
    const roomy = await payFetch()
    expect(roomy).toMatchObject({ ok: false, error: { code: 'CONFIRMATION_REQUIRED' } })
    expect(roomy).not.toMatchObject({ error: { quote: { deposit: expect.anything() } } })
    // Another caller on the same sessions closes the channel: the next payment must deposit again.
    await refundChannel({ account, url: stack.batch.weatherUrl, sessions })
    const start = await stack.blockNumber()
    const balance = await stack.balanceOf(stack.usdc, account.address)
    expect(await payFetch({ confirm_quote_id: quoteId(roomy) })).toMatchObject({
      ok: false,
      error: { code: 'CONFIRMATION_INVALID', paid: false, message: expect.stringContaining('larger deposit') },
    })
    expect(await stack.transactionsSince(start)).toBe(0)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(balance)
  })

  test('policy: pay_fetch with reuse_session: false goes on with the open channel: no second deposit, the voucher builds on the first', async () => {
    const account = await payer()
    const sessions = await fileSessions(join(dir, 'reuse-session.json'))
    const { get } = createPayfetchTools({
      payfetch: { signers: [evm({ account, batchSettlement: batchSettlement() })], sessions, ledger: memoryLedger() },
    })
    const payFetch = (input: Record<string, unknown>) =>
      get('pay_fetch')?.run({ url: stack.batch.weatherUrl, ...input })
    const start = await stack.blockNumber()
    expect(await payFetch({})).toMatchObject({ ok: true, output: { paid: true, payment: { deposit: '10000' } } })
    const fresh = await payFetch({ reuse_session: false })
    expect(fresh).toMatchObject({ ok: true, output: { ok: true, paid: true, payment: { amount: '1000' } } })
    expect(fresh).not.toMatchObject({ output: { payment: { deposit: expect.anything() } } })
    expect(await stack.transactionsSince(start)).toBe(1)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    // The channel record still holds both charges: the next call builds on 2000, and can be refunded.
    expect((await sessions.get(channelKeyOf(account.address)))?.channel).toMatchObject({
      deposited: '10000',
      charged: '2000',
    })
  })
})

type DepositPayload = {
  payload: {
    type: string
    voucher: { channelId: Hex; maxClaimableAmount: string }
    deposit?: {
      amount: string
      authorization: {
        permit2Authorization?: {
          from: string
          spender: string
          permitted: { token: string; amount: string }
          nonce: string
          deadline: string
          witness: { channelId: Hex }
          signature: Hex
        }
      }
    }
  }
  extensions?: Record<string, { info?: Record<string, string> }>
}

/** A funded payer paying Permit2 channels, with every proof it sent. */
async function permit2Payer(options: { approved?: boolean; approvePermit2?: boolean; publicClient?: boolean } = {}) {
  const account = await payer()
  if (options.approved || options.approvePermit2) await stack.setBalance(account.address, 10n ** 17n)
  if (options.approved) await stack.approvePermit2(account)
  const proofs: DepositPayload[] = []
  const sent: string[] = []
  const events: PayfetchEvent[] = []
  const fetchPaid = createPayingFetch({
    signers: [
      evm({
        account,
        batchSettlement: batchSettlement(),
        ...(options.publicClient !== false && { publicClient: stack.publicClient }),
        ...(options.approvePermit2 && { approvePermit2: { wallet: stack.walletFor(account) } }),
      }),
    ],
    ledger: memoryLedger(),
    caps: { budgets: [{ usd: '1', window: '1d' }] },
    onEvent: (event) => events.push(event),
    fetch: async (input, init) => {
      const request = new Request(input, init)
      const proof = request.headers.get('payment-signature')
      if (proof) {
        sent.push(proof)
        proofs.push(decodeBase64Json(proof) as DepositPayload)
      }
      return fetch(request)
    },
  })
  const channel = () => events.filter((event): event is ChannelReport => event.type.startsWith('channel.'))
  return { account, fetchPaid, proofs, sent, events, channel }
}

const refusalOf = (response: Response) =>
  (decodeBase64Json(response.headers.get('payment-required') as string) as { error?: string }).error

describe('batch-settlement through Permit2 on the local stack: payfetch', () => {
  test('behavior: three calls on a Permit2 channel cost one on-chain transaction (the deposit through the Permit2 collector); claim + settle pays the receiver exactly the charges', async () => {
    const { account, fetchPaid, proofs, channel } = await permit2Payer({ approved: true })
    // Earlier tests' charges are claimed first, so the receiver's balance below moves by this channel's only.
    await stack.batch.claimAndSettle()
    const start = await stack.blockNumber()
    const timings: number[] = []
    for (let call = 0; call < 3; call++) {
      const began = performance.now()
      const response = await fetchPaid(stack.batch.permit2WeatherUrl)
      timings.push(performance.now() - began)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ weather: 'sunny', via: 'batch-settlement+permit2' })
      expect(getReceipt(response)?.amount).toBe(1_000n)
    }
    expect(await stack.transactionsSince(start)).toBe(1)
    // The deposit is signed as the reference client signs it: to the Permit2 collector, the channel id its witness.
    const [deposit, ...vouchers] = proofs
    const channelId = deposit?.payload.voucher.channelId as Hex
    expect(deposit?.payload.type).toBe('deposit')
    expect(deposit?.payload.deposit).toMatchObject({
      amount: '10000',
      authorization: {
        permit2Authorization: {
          from: account.address,
          spender: permit2DepositCollector,
          permitted: { token: stack.usdc.address, amount: '10000' },
          witness: { channelId },
        },
      },
    })
    expect(deposit?.payload.deposit?.authorization.permit2Authorization?.nonce).toMatch(/^[0-9]+$/)
    expect(vouchers.map((proof) => [proof.payload.type, proof.payload.voucher.maxClaimableAmount])).toEqual([
      ['voucher', '2000'],
      ['voucher', '3000'],
    ])
    expect(channel().map((event) => [event.type, event.amount, event.cumulative])).toEqual([
      ['channel.deposit', 10_000n, 10_000n],
      ['channel.voucher', 1_000n, 1_000n],
      ['channel.voucher', 1_000n, 2_000n],
      ['channel.voucher', 1_000n, 3_000n],
    ])
    const report = await fetchPaid.spendReport()
    expect(report.totals.map(({ spent, reserved, unknown }) => ({ spent, reserved, unknown }))).toEqual([
      { spent: 3_000n, reserved: 0n, unknown: 0n },
    ])
    // As with an EIP-3009 deposit, the budget counts the deposit once: 0.01 USDC.
    expect(report.budgets[0]?.used).toBe(10_000_000n)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 10_000n, totalClaimed: 0n })

    const receiverBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    await stack.batch.claimAndSettle()
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(receiverBefore + 3_000n)
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 10_000n, totalClaimed: 3_000n })
    expect(await stack.transactionsSince(start)).toBe(3)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    console.log(
      `batch-settlement Permit2 client time: deposit call ${timings[0]?.toFixed(1)} ms, voucher calls ${timings
        .slice(1)
        .map((time) => time.toFixed(1))
        .join(', ')} ms`,
    )
  })

  test('policy: no Permit2 allowance, no sponsoring, no approvePermit2: ALLOWANCE_REQUIRED before anything is signed; nothing moves, nothing stays reserved, and the channel opens once Permit2 is approved', async () => {
    const { account, fetchPaid, sent, events } = await permit2Payer()
    const start = await stack.blockNumber()
    const error = await fetchPaid(stack.batch.permit2WeatherUrl).catch((caught: unknown) => caught)
    expect(error).toMatchObject({
      code: 'ALLOWANCE_REQUIRED',
      details: { token: stack.usdc.address, spender: permit2Address, allowance: '0', required: '10000' },
    })
    expect((error as Error).message).toMatch(/approvePermit2/)
    expect(sent).toEqual([])
    expect(events.map((event) => event.type)).not.toContain('channel.deposit')
    const report = await fetchPaid.spendReport()
    expect(report.totals.every(({ spent, reserved, unknown }) => spent + reserved + unknown === 0n)).toBe(true)
    expect(report.budgets[0]?.used ?? 0n).toBe(0n)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n)
    expect(await stack.transactionsSince(start)).toBe(0)

    // Nothing was kept against the channel: once Permit2 is approved, the same fetch deposits and pays.
    await stack.approvePermit2(account)
    const response = await fetchPaid(stack.batch.permit2WeatherUrl)
    expect(response.status).toBe(200)
    expect(sent).toHaveLength(1)
    expect((await fetchPaid.spendReport()).totals[0]).toMatchObject({ spent: 1_000n, reserved: 0n, unknown: 0n })
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
  })

  test('policy: a top-up deposit checks the allowance again: Permit2 allowed only the first deposit, so the eleventh call is ALLOWANCE_REQUIRED with nothing reserved, and the channel goes on once approved', async () => {
    const { account, fetchPaid, sent, channel } = await permit2Payer()
    await stack.approvePermit2(account, { allowance: 10_000n })
    for (let call = 0; call < 10; call++) expect((await fetchPaid(stack.batch.permit2WeatherUrl)).status).toBe(200)
    // The first deposit used the whole allowance; its 10 000 carried ten calls.
    expect(await stack.allowance(stack.usdc, account.address, permit2Address)).toBe(0n)
    const error = await fetchPaid(stack.batch.permit2WeatherUrl).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'ALLOWANCE_REQUIRED', details: { allowance: '0', required: '10000' } })
    expect(sent).toHaveLength(10)
    const [total] = (await fetchPaid.spendReport()).totals
    expect(total).toMatchObject({ spent: 10_000n, reserved: 0n, unknown: 0n })
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)

    await stack.approvePermit2(account, { allowance: 10_000n })
    expect((await fetchPaid(stack.batch.permit2WeatherUrl)).status).toBe(200)
    expect(
      channel()
        .map((event) => [event.type, event.cumulative])
        .slice(-2),
    ).toEqual([
      ['channel.deposit', 20_000n],
      ['channel.voucher', 11_000n],
    ])
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 20_000n)
  })

  test('policy: without a publicClient a Permit2 channel is refused before signing, saying what to do', async () => {
    const { fetchPaid, sent } = await permit2Payer({ publicClient: false })
    const error = await fetchPaid(stack.batch.permit2WeatherUrl).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'NO_SIGNER' })
    expect((error as Error).message).toMatch(/evm\(\{ publicClient \}\)/)
    expect(sent).toEqual([])
  })

  test('behavior: approvePermit2 sends one approval from the payer wallet, reported before the deposit, then vouchers only', async () => {
    const { account, fetchPaid, events } = await permit2Payer({ approvePermit2: true })
    const start = await stack.blockNumber()
    for (let call = 0; call < 2; call++) expect((await fetchPaid(stack.batch.permit2WeatherUrl)).status).toBe(200)
    const steps = events
      .filter((event) => event.type === 'approval.sent' || event.type.startsWith('channel.'))
      .map((event) => event.type)
    expect(steps).toEqual(['approval.sent', 'channel.deposit', 'channel.voucher', 'channel.voucher'])
    const approval = events.find((event) => event.type === 'approval.sent') as { transaction: Hex; amount: bigint }
    expect(approval.amount).toBe(maxUint256)
    const mined = await stack.getTransactionReceipt(approval.transaction)
    expect(mined.from.toLowerCase()).toBe(account.address.toLowerCase())
    // The approval and the deposit; the second call is a voucher.
    expect(await stack.transactionsSince(start)).toBe(2)
    expect(await stack.allowance(stack.usdc, account.address, permit2Address)).toBe(maxUint256)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
  })

  test('error: the deposit sent again byte for byte is refused and moves nothing', async () => {
    const { account, fetchPaid, sent, proofs } = await permit2Payer({ approved: true })
    expect((await fetchPaid(stack.batch.permit2WeatherUrl)).status).toBe(200)
    expect(proofs[0]?.payload.type).toBe('deposit')
    const channelId = proofs[0]?.payload.voucher.channelId as Hex
    const start = await stack.blockNumber()
    const nothingMoved = async () => {
      expect(await stack.transactionsSince(start)).toBe(0)
      expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
      expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 10_000n })
    }
    const replay = await fetch(stack.batch.permit2WeatherUrl, { headers: { 'payment-signature': sent[0] as string } })
    expect(replay.status).toBe(402)
    expect(refusalOf(replay)).toBe('invalid_batch_settlement_evm_cumulative_amount_mismatch')
    await nothingMoved()
    // Even a server that lost its record cannot have the permit submitted twice: Permit2 spent its nonce
    // (the facilitator's simulation of the deposit fails).
    await stack.batch.forget(channelId)
    const again = await fetch(stack.batch.permit2WeatherUrl, { headers: { 'payment-signature': sent[0] as string } })
    expect(again.status).toBe(402)
    expect(refusalOf(again)).toBe('invalid_batch_settlement_evm_deposit_simulation_failed')
    await nothingMoved()
  })

  test('behavior: the server sponsors an EIP-2612 grant: a payer with no ETH and no allowance deposits through Permit2, granting it only the deposit', async () => {
    const { account, fetchPaid, proofs } = await permit2Payer()
    const url = `${stack.v2Url}/batch/permit2/eip2612`
    expect((await fetchPaid(url)).status).toBe(200)
    const info = proofs[0]?.extensions?.eip2612GasSponsoring?.info
    expect(info).toMatchObject({ from: account.address, spender: permit2Address, amount: '10000', version: '1' })
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    // The permit granted exactly the deposit and the deposit used it up.
    expect(await stack.allowance(stack.usdc, account.address, permit2Address)).toBe(0n)
    expect(await stack.ethBalance(account.address)).toBe(0n)
  })

  test("behavior: the server sponsors the payer's signed approve: the facilitator funds and broadcasts it, then submits the deposit", async () => {
    const { account, fetchPaid, proofs } = await permit2Payer()
    const start = await stack.blockNumber()
    expect((await fetchPaid(`${stack.v2Url}/batch/permit2/erc20-approval`)).status).toBe(200)
    const info = proofs[0]?.extensions?.erc20ApprovalGasSponsoring?.info
    expect(info).toMatchObject({ from: account.address, spender: permit2Address, amount: '10000', version: '1' })
    expect(info?.signedTransaction).toMatch(/^0x02/)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    expect(await stack.allowance(stack.usdc, account.address, permit2Address)).toBe(0n)
    // The facilitator's gas for the payer, the payer's approve, the deposit; the payer sent nothing itself.
    expect(await stack.transactionsSince(start)).toBe(3)
  })
})

function channelKeyOf(payerAddress: string): string {
  const origin = new URL(stack.batch.weatherUrl).origin
  return `x402-channel:${[origin, 'eip155:84532', stack.usdc.address, stack.payTo, payerAddress].map((part) => part.toLowerCase()).join('|')}`
}
