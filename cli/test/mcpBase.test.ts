import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { defaultV2Routes, type EvmStack, json, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { close, listen } from '../../examples/local-stack/http.js'
import { startSiwxServer } from '../../examples/local-stack/siwxServer.js'
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

describe('MCP: ClawPay x402_pay session reuse (x402 sign-in-with-x)', () => {
  test('behavior: a resource paid once is read again by signing in, nothing paid; reuse_session: false pays afresh', async () => {
    const server = await startSiwxServer({
      facilitatorUrl: stack.facilitatorUrl,
      token: stack.usdc,
      payTo: stack.payTo,
    })
    try {
      const url = `${server.url}/report`
      const before = await stack.balanceOf(stack.usdc, payer.address)
      const settlements = stack.settlements.length
      expect((await mcp.call('pay_fetch', { url })).value).toMatchObject({ ok: true, paid: true })
      const again = await mcp.call('pay_fetch', { url })
      expect(again.value).toMatchObject({ ok: true, status: 200, paid: false, body: '{"report":"quarterly"}' })
      expect(stack.settlements.length).toBe(settlements + 1)
      expect(server.events.at(-1)).toMatchObject({ type: 'access_granted', resource: '/report' })
      expect((await mcp.call('pay_fetch', { url, reuse_session: false })).value).toMatchObject({ ok: true, paid: true })
      expect(stack.settlements.length).toBe(settlements + 2)
      expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(before - 20_000n)
    } finally {
      await server.close()
    }
  })
})

describe('MCP: tools/list', () => {
  test('behavior: each tool is listed with its input and output schemas and hints: pay_fetch destructive and open-world, quote_fetch and spend_report read-only', async () => {
    const { tools } = await mcp.client.listTools()
    const byName = new Map(tools.map((tool) => [tool.name, tool]))
    expect([...byName.keys()].sort()).toEqual([
      'pay_fetch',
      'pending_payments',
      'quote_fetch',
      'resume_payment',
      'spend_report',
    ])
    for (const tool of tools) {
      expect(tool.inputSchema.type, tool.name).toBe('object')
      expect(tool.outputSchema?.type, tool.name).toBe('object')
    }
    const payFetch = byName.get('pay_fetch')
    expect(payFetch?.inputSchema.required).toEqual(['url'])
    expect(Object.keys(payFetch?.outputSchema?.properties ?? {})).toEqual(
      expect.arrayContaining(['ok', 'status', 'paid', 'payment', 'content_type', 'body', 'body_truncated']),
    )
    expect(payFetch?.annotations).toMatchObject({ destructiveHint: true, openWorldHint: true, readOnlyHint: false })
    expect(byName.get('quote_fetch')?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false })
    expect(byName.get('spend_report')?.annotations).toMatchObject({ readOnlyHint: true })
  })
})

describe('MCP: arguments a model gets wrong', () => {
  test('error: wrong types (max_usd "1", timeout_ms -1 or 1e12, headers as an array), an unknown tool and a 100 000-character resume id are INVALID_INPUT, paid false; nothing paid', async () => {
    const before = await stack.balanceOf(stack.usdc, payer.address)
    const url = `${stack.v2Url}/whoami`
    const calls: [string, Record<string, unknown>, RegExp][] = [
      ['pay_fetch', { url, max_usd: '1' }, /max_usd/],
      ['pay_fetch', { url, timeout_ms: -1 }, /timeout_ms/],
      ['pay_fetch', { url, timeout_ms: 1e12 }, /timeout_ms/],
      ['pay_fetch', { url, headers: ['x-agent', 'a'] }, /headers/],
      ['pay_everything', { url }, /pay_everything not found/],
      ['resume_payment', { id: 'x'.repeat(100_000) }, /id/],
    ]
    for (const [name, args, names] of calls) {
      const result = await mcp.call(name, args)
      expect(result, name).toMatchObject({ isError: true, value: { code: 'INVALID_INPUT', paid: false } })
      expect(result.value.message, name).toMatch(names)
      expect(result.text.length, name).toBeLessThan(2000)
    }
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(before)
  })
})

describe('MCP: Paygrid list_services from a discovery listing (PAYFETCH_DISCOVERY_URL)', () => {
  test('behavior: the facilitator’s bazaar resources join the catalog with live prices; call_service pays one', async () => {
    // The reference facilitator lists a resource once a payment for it settled.
    expect(await mcp.call('pay_fetch', { url: `${stack.v2Url}/discoverable/forecast` })).toMatchObject({
      value: { ok: true, paid: true },
    })
    const dir = await mkdtemp(join(tmpdir(), 'payfetch-mcp-discovery-'))
    const catalog = join(dir, 'services.json')
    await writeFile(catalog, JSON.stringify([{ name: 'whoami', url: `${stack.v2Url}/whoami` }]))
    const env = {
      PAYFETCH_EVM_PRIVATE_KEY: key,
      PAYFETCH_EVM_NETWORKS: stack.v2Network,
      PAYFETCH_STATE_DIR: join(dir, 'state'),
      PAYFETCH_SERVICES: catalog,
    }
    const discovering = await connectMcp({ ...env, PAYFETCH_DISCOVERY_URL: stack.facilitatorUrl })
    try {
      const listed = await discovering.call('list_services')
      const forecast = `${new URL(stack.v2Url).host.replace(':', '-')}-discoverable-forecast`
      expect(listed.value.services).toEqual([
        expect.objectContaining({ name: 'whoami', price: expect.objectContaining({ amount: '10000' }) }),
        expect.objectContaining({
          name: forecast,
          method: 'GET',
          url: `${stack.v2Url}/discoverable/forecast`,
          price: expect.objectContaining({ amount: '30000', payable: true }),
        }),
      ])
      const before = await stack.balanceOf(stack.usdc, payer.address)
      const called = await discovering.call('call_service', { service: forecast, input: 'city=Lyon' })
      expect(called.value).toMatchObject({ ok: true, paid: true, payment: { amount: '30000' } })
      expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(before - 30_000n)
    } finally {
      await discovering.close()
    }

    // A listing that cannot be read leaves the catalog served, and the log says why.
    const unreachable = await connectMcp({ ...env, PAYFETCH_DISCOVERY_URL: hanging.url.replace(/:\d+$/, ':9') })
    try {
      const listed = await unreachable.call('list_services')
      expect(listed.value.services.map((service: { name: string }) => service.name)).toEqual(['whoami'])
      expect(unreachable.stderr()).toContain('PAYFETCH_DISCOVERY_URL: The discovery listing could not be read')
    } finally {
      await unreachable.close()
    }
  })

  test('error: PAYFETCH_DISCOVERY_URL that is not http(s) is named, nothing served', async () => {
    const bad = await connectMcp({
      PAYFETCH_DISCOVERY_URL: 'file:///etc/passwd',
      PAYFETCH_STATE_DIR: await mkdtemp(join(tmpdir(), 'payfetch-mcp-bad-')),
    })
    try {
      const result = await bad.call('pay_fetch', { url: `${stack.v2Url}/whoami` })
      expect(result).toMatchObject({ isError: true })
      expect(result.text).toContain('PAYFETCH_DISCOVERY_URL must be an http(s) URL')
    } finally {
      await bad.close()
    }
  })
})
