import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { type RedisServer, startRedis } from '../../examples/local-stack/redis.js'
import { connectMcp } from './support/mcpClient.js'
import { runCli } from './support/runCli.js'

// x402 batch-settlement channels from the built CLI and MCP server, against the x402 2.27 reference
// server and facilitator with the channel contracts on anvil: one deposit, then vouchers, across
// processes that share only the state dir; a refund back on chain.
let stack: EvmStack
let redis: RedisServer
let dir: string
const minted = 1_000_000n

beforeAll(async () => {
  ;[stack, redis] = await Promise.all([startEvmStack(), startRedis()])
  dir = await mkdtemp(join(tmpdir(), 'payfetch-cli-channels-'))
})

afterAll(async () => {
  await Promise.all([stack?.stop(), redis?.stop()])
})

/** A fresh funded payer, its own state dir, and the settings that turn channels on. */
async function payer(name: string, more: Record<string, string> = {}) {
  const key = generatePrivateKey()
  const { address } = privateKeyToAccount(key)
  await stack.mint(stack.usdc, address, minted)
  const env = {
    PAYFETCH_EVM_PRIVATE_KEY: key,
    PAYFETCH_EVM_NETWORKS: stack.v2Network,
    PAYFETCH_STATE_DIR: join(dir, name),
    PAYFETCH_EVM_CHANNELS: 'on',
    ...more,
  }
  return { key, address, env }
}

describe('payfetch with PAYFETCH_EVM_CHANNELS=on', () => {
  test('behavior: two runs in a row make one deposit transaction, the second pays by voucher from the state dir; payfetch channels lists the channel; payfetch refund returns the rest on chain to the unit', async () => {
    const { key, address, env } = await payer('two-runs')
    const start = await stack.blockNumber()
    const quoted = async () => JSON.parse((await runCli(['quote', stack.batch.weatherUrl], env)).stdout).offers
    expect(await quoted()).toContainEqual(
      expect.objectContaining({ scheme: 'batch-settlement', amount: '1000', deposit: '10000', payable: true }),
    )

    let began = performance.now()
    const first = await runCli(['-v', stack.batch.weatherUrl], env)
    const firstMs = performance.now() - began
    expect(first.code, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout)).toBeTruthy()
    expect(first.stderr).toMatch(
      /channel 0x[0-9a-f]{64}: deposited 10000 atomic units of 0x\w+ on eip155:84532 \(10000 deposited in all\)/,
    )
    expect(first.stderr).toMatch(/channel 0x[0-9a-f]{64}: voucher for 1000 atomic units \(1000 charged in all\)/)
    expect(first.stderr).toMatch(/paid 1000 atomic units of 0x\w+ on eip155:84532 via x402/)
    expect(await stack.transactionsSince(start)).toBe(1)

    // Another process: the channel comes from the state dir, so no deposit and no transaction.
    began = performance.now()
    const second = await runCli(['-v', stack.batch.weatherUrl], env)
    const secondMs = performance.now() - began
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).not.toContain('deposited')
    expect(second.stderr).toMatch(/voucher for 1000 atomic units \(2000 charged in all\); no transaction/)
    expect(await stack.transactionsSince(start)).toBe(1)
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted - 10_000n)
    expect(await quoted()).toContainEqual(expect.objectContaining({ scheme: 'batch-settlement', deposit: '0' }))

    const listed = await runCli(['channels'], env)
    expect(listed.code, listed.stderr).toBe(0)
    const { channels } = JSON.parse(listed.stdout)
    expect(channels).toEqual([
      {
        server: new URL(stack.batch.weatherUrl).origin,
        network: 'eip155:84532',
        asset: stack.usdc.address.toLowerCase(),
        receiver: stack.payTo.toLowerCase(),
        payer: address,
        channel_id: expect.stringMatching(/^0x[0-9a-f]{64}$/),
        deposited: '10000',
        charged: '2000',
        balance: '8000',
      },
    ])
    const channelId = channels[0].channel_id as `0x${string}`
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 10_000n, totalClaimed: 0n })

    // A partial refund, then the rest: each comes back on chain, to the unit.
    began = performance.now()
    const partial = await runCli(['refund', stack.batch.weatherUrl, '--amount', '3000'], env)
    const refundMs = performance.now() - began
    expect(partial.code, partial.stderr).toBe(0)
    expect(partial.stderr).toMatch(
      new RegExp(`^payfetch: channel ${channelId} refunded 3000 atomic units; transaction 0x[0-9a-f]{64}\\n$`),
    )
    expect(JSON.parse(partial.stdout)).toMatchObject({ channel_id: channelId, returned: '3000' })
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted - 10_000n + 3_000n)
    expect(JSON.parse((await runCli(['channels'], env)).stdout).channels[0]).toMatchObject({
      deposited: '7000',
      charged: '2000',
      balance: '5000',
    })

    const rest = await runCli(['refund', stack.batch.weatherUrl], env)
    expect(rest.code, rest.stderr).toBe(0)
    expect(JSON.parse(rest.stdout)).toMatchObject({ channel_id: channelId, returned: '5000' })
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted - 2_000n)
    expect(JSON.parse((await runCli(['channels'], env)).stdout)).toEqual({ channels: [] })
    expect(first.stderr + second.stderr + partial.stderr + rest.stderr).not.toContain(key.slice(2))

    // Nothing left: a refund is a typed failure (exit 4), nothing moves.
    const before = await stack.blockNumber()
    const empty = await runCli(['refund', stack.batch.weatherUrl], env)
    expect(empty).toMatchObject({ code: 4, stdout: '' })
    expect(empty.stderr).toMatch(/^payfetch: INVALID_OPTIONS: This payer has no channel with money left to refund/)
    expect(await stack.transactionsSince(before)).toBe(0)
    console.log(
      `payfetch CLI process, channel: deposit run ${firstMs.toFixed(0)} ms, voucher run ${secondMs.toFixed(0)} ms, refund run ${refundMs.toFixed(0)} ms`,
    )
  })

  test('behavior: with PAYFETCH_REDIS_URL, processes on different machines (state dirs) share the channel: one deposit; payfetch channels lists it from Redis; a refund from a third clears it', async () => {
    const { address, env } = await payer('fleet-a', { PAYFETCH_REDIS_URL: redis.url })
    const start = await stack.blockNumber()
    for (const machine of ['fleet-a', 'fleet-b']) {
      const run = await runCli([stack.batch.weatherUrl], { ...env, PAYFETCH_STATE_DIR: join(dir, machine) })
      expect(run.code, run.stderr).toBe(0)
    }
    expect(await stack.transactionsSince(start)).toBe(1)
    const elsewhere = { ...env, PAYFETCH_STATE_DIR: join(dir, 'fleet-c') }
    const listed = JSON.parse((await runCli(['channels'], elsewhere)).stdout).channels
    expect(listed).toEqual([
      expect.objectContaining({ payer: address, deposited: '10000', charged: '2000', balance: '8000' }),
    ])
    const refund = await runCli(['refund', stack.batch.weatherUrl], elsewhere)
    expect(refund.code, refund.stderr).toBe(0)
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted - 2_000n)
    expect(JSON.parse((await runCli(['channels'], elsewhere)).stdout)).toEqual({ channels: [] })
  })

  test('error: each bad channel setting or refund flag is named (exit 2), its value never shown, and nothing is paid; a refund at a server without channels is exit 4', async () => {
    const { address, env } = await payer('bad-settings')
    const start = await stack.blockNumber()
    const cases: [Record<string, string>, string][] = [
      [{ PAYFETCH_EVM_CHANNELS: 'yes-please' }, "PAYFETCH_EVM_CHANNELS must be 'on' or 'off'."],
      [
        { PAYFETCH_EVM_CHANNEL_MULTIPLIER: '500' },
        'PAYFETCH_EVM_CHANNEL_MULTIPLIER must be a whole number from 1 to 100.',
      ],
      [{ PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT: '12.5' }, 'PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT must be a whole number'],
      [
        { PAYFETCH_EVM_CHANNELS: 'off', PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT: '50000' },
        "PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT is set but PAYFETCH_EVM_CHANNELS is not 'on'.",
      ],
    ]
    for (const [more, message] of cases) {
      const run = await runCli([stack.batch.weatherUrl], { ...env, ...more })
      expect(run.code, message).toBe(2)
      expect(run.stderr).toContain(`payfetch: ${message}`)
      expect(run.stdout).toBe('')
      for (const value of Object.values(more)) if (value !== 'off') expect(run.stderr).not.toContain(value)
    }
    const { PAYFETCH_EVM_PRIVATE_KEY: _key, ...keyless } = env
    const noKey = await runCli([stack.batch.weatherUrl], keyless)
    expect(noKey).toMatchObject({ code: 2 })
    expect(noKey.stderr).toContain('PAYFETCH_EVM_CHANNELS is on but PAYFETCH_EVM_PRIVATE_KEY is missing.')

    // refund: flags and settings are checked first (exit 2); a server with no channel offer is exit 4.
    const refunds: [string[], Record<string, string>, number, string][] = [
      [['refund'], env, 2, 'payfetch refund needs exactly one URL of the server.'],
      [['refund', stack.batch.weatherUrl, '--amount', '1.5'], env, 2, '--amount must be a whole number'],
      [['refund', stack.batch.weatherUrl], keyless, 2, 'payfetch refund needs PAYFETCH_EVM_PRIVATE_KEY'],
      [['refund', `${stack.v2Url}/weather`], env, 4, 'payfetch: CHALLENGE_INVALID: The URL offers no batch-settlement'],
    ]
    for (const [args, runEnv, code, message] of refunds) {
      const run = await runCli(args, { ...runEnv, PAYFETCH_EVM_CHANNELS: 'off' })
      expect(run.code, message).toBe(code)
      expect(run.stderr).toContain(message)
    }

    // A cap below what the channel needs (the price is 1000): refused before anything is signed.
    const capped = await runCli([stack.batch.weatherUrl], { ...env, PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT: '500' })
    expect(capped.code, capped.stderr).toBe(3)
    expect(capped.stderr).toContain('CAP_EXCEEDED')
    expect(await stack.transactionsSince(start)).toBe(0)
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted)
  })

  test('policy: PAYFETCH_CONFIRM=above:0.005 judges the deposit ($0.01), not the price ($0.001): refused without -y, paid with it; the next call (a voucher) needs no confirmation', async () => {
    const { address, env } = await payer('confirm', { PAYFETCH_CONFIRM: 'above:0.005' })
    const start = await stack.blockNumber()
    const refused = await runCli([stack.batch.weatherUrl], env)
    expect(refused.code, refused.stderr).toBe(3)
    expect(refused.stderr).toContain('CONFIRMATION_REQUIRED')
    expect(await stack.transactionsSince(start)).toBe(0)
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted)

    expect((await runCli(['-y', stack.batch.weatherUrl], env)).code).toBe(0)
    const voucher = await runCli([stack.batch.weatherUrl], env)
    expect(voucher.code, voucher.stderr).toBe(0)
    expect(await stack.transactionsSince(start)).toBe(1)
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted - 10_000n)
  })
})

describe('payfetch mcp with PAYFETCH_EVM_CHANNELS=on', () => {
  test('behavior: pay_fetch pays a deposit then a voucher; its payment shows the charge as amount and the deposit beside it', async () => {
    const { address, env } = await payer('mcp')
    const mcp = await connectMcp(env)
    try {
      const start = await stack.blockNumber()
      const first = await mcp.call('pay_fetch', { url: stack.batch.weatherUrl })
      expect(first.value).toMatchObject({
        ok: true,
        paid: true,
        payment: { protocol: 'x402', network: 'eip155:84532', amount: '1000', deposit: '10000' },
      })
      const second = await mcp.call('pay_fetch', { url: stack.batch.weatherUrl })
      expect(second.value).toMatchObject({ ok: true, paid: true, payment: { amount: '1000' } })
      expect(second.value.payment.deposit).toBeUndefined()
      expect(await stack.transactionsSince(start)).toBe(1)
      expect(await stack.balanceOf(stack.usdc, address)).toBe(minted - 10_000n)
      expect(mcp.stderr()).toContain('channels on')
    } finally {
      await mcp.close()
    }
  })

  test('policy: PAYFETCH_CONFIRM=above:0.005 asks for the deposit ($0.01) and, with no person to ask, pays nothing', async () => {
    const { address, env } = await payer('mcp-confirm', { PAYFETCH_CONFIRM: 'above:0.005' })
    const mcp = await connectMcp(env)
    try {
      const start = await stack.blockNumber()
      const result = await mcp.call('pay_fetch', { url: stack.batch.weatherUrl })
      expect(result).toMatchObject({ isError: true, value: { code: 'CONFIRMATION_REQUIRED', paid: false } })
      expect(await stack.transactionsSince(start)).toBe(0)
      expect(await stack.balanceOf(stack.usdc, address)).toBe(minted)
    } finally {
      await mcp.close()
    }
  })
})
