// payfetch's batch-settlement client against the local stack: the x402 2.27 reference server and
// facilitator, the channel contracts on anvil. Real deposits, vouchers, claims, settlement, refund.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { EvmStack } from '../../examples/local-stack/evmStack.js'
import { startEvmStack } from '../../examples/local-stack/evmStack.js'
import { batchSettlement, evm, refundChannel } from '../../src/evm/index.js'
import {
  type ChannelReport,
  createPayingFetch,
  getReceipt,
  memoryLedger,
  type PayfetchEvent,
  type SessionStore,
} from '../../src/index.js'
import { fileSessions } from '../../src/node/index.js'

let stack: EvmStack
let dir: string

beforeAll(async () => {
  stack = await startEvmStack()
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
    // The record left the sessions: the next call opens (deposits into) the channel again.
    expect(await (await fileSessions(path)).get(channelKeyOf(account.address))).toBeUndefined()
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
})

function channelKeyOf(payerAddress: string): string {
  const origin = new URL(stack.batch.weatherUrl).origin
  return `x402-channel:${[origin, 'eip155:84532', stack.usdc.address, stack.payTo, payerAddress].map((part) => part.toLowerCase()).join('|')}`
}
