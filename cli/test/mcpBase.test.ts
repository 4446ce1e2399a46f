import { mkdtemp } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { defaultV2Routes, type EvmStack, json, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { close, listen } from '../../examples/local-stack/http.js'
import { connectMcp, type McpSession } from './support/mcpClient.js'

// ClawPay's x402_pay on Base (extra headers, a timeout), through a real MCP client spawning the
// built CLI, paying the x402 reference server (@x402/express) settling on anvil as Base Sepolia.
let stack: EvmStack
let hanging: { url: string; close(): Promise<void> }
const key = generatePrivateKey()
const payer = privateKeyToAccount(key)
let mcp: McpSession

beforeAll(async () => {
  stack = await startEvmStack({
    v2Routes: [
      ...defaultV2Routes,
      {
        method: 'GET',
        path: '/whoami',
        amount: 10_000n,
        token: 'usdc',
        description: 'Echoes the agent header',
        handler: ({ headers }) => json({ agent: headers['x-agent'] ?? null, trace: headers['x-trace'] ?? null }),
      },
      {
        method: 'GET',
        path: '/never',
        amount: 10_000n,
        token: 'usdc',
        description: 'Takes the money and never answers',
        handler: () => new Promise(() => {}),
      },
    ],
  })
  await stack.mint(stack.usdc, payer.address, 1_000_000n)
  const server = createServer(() => {})
  hanging = { url: await listen(server), close: () => close(server) }
  mcp = await connectMcp({
    PAYFETCH_EVM_PRIVATE_KEY: key,
    PAYFETCH_EVM_NETWORKS: stack.v2Network,
    PAYFETCH_STATE_DIR: join(await mkdtemp(join(tmpdir(), 'payfetch-mcp-base-')), 'state'),
  })
})

afterAll(async () => {
  await mcp?.close().catch(() => {})
  await hanging?.close()
  await stack?.stop()
})

describe('MCP: ClawPay x402_pay (x402 in USDC on Base)', () => {
  test('behavior: extra headers reach the server on the paid request; the payment settles on chain', async () => {
    const before = await stack.balanceOf(stack.usdc, payer.address)
    const result = await mcp.call('pay_fetch', {
      url: `${stack.v2Url}/whoami`,
      headers: { 'x-agent': 'agent-7', 'x-trace': 't-1' },
    })
    expect(result.value).toMatchObject({ ok: true, paid: true, payment: { network: stack.v2Network, amount: '10000' } })
    expect(JSON.parse(result.value.body)).toEqual({ agent: 'agent-7', trace: 't-1' })
    const receipt = await stack.getTransactionReceipt(result.value.payment.reference)
    expect(receipt.status).toBe('success')
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(before - 10_000n)
  })

  test('error: a timeout before payment is TIMEOUT, nothing paid; after the proof left it is an unknown outcome to resume', async () => {
    expect(await mcp.call('pay_fetch', { url: `${hanging.url}/slow`, timeout_ms: 1000 })).toMatchObject({
      isError: true,
      value: { code: 'TIMEOUT', paid: false },
    })
    const unknown = await mcp.call('pay_fetch', { url: `${stack.v2Url}/never`, timeout_ms: 2000 })
    expect(unknown).toMatchObject({ isError: true, value: { paid: 'unknown', pending_id: expect.any(String) } })
    const pending = await mcp.call('pending_payments')
    expect(pending.value.pending).toEqual([
      expect.objectContaining({ id: unknown.value.pending_id, url: `${stack.v2Url}/never`, amount: '10000' }),
    ])
  })
})
