import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Address } from '@solana/kit'
import { getBase58Decoder } from '@solana/kit'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { close, listen } from '../../examples/local-stack/http.js'
import { json } from '../../examples/local-stack/routes.js'
import { defaultSolanaRoutes, type SolanaStack, startSolanaStack } from '../../examples/local-stack/solanaStack.js'
import { solanaKey } from './support/keys.js'
import { connectMcp, type McpSession } from './support/mcpClient.js'

// The jobs of x402-mcp's pay_and_call, the402's purchase_service and Paygrid's list + execute,
// through a real MCP client spawning the built CLI, paying the x402 reference server on LiteSVM.
let stack: SolanaStack
let jobs: { url: string; polls: number; close(): Promise<void> }
let payer: Awaited<ReturnType<typeof solanaKey>>
let stateRoot: string
const sessions: McpSession[] = []

beforeAll(async () => {
  const jobServer = createServer((_request, response) => {
    jobs.polls++
    if (jobs.polls < 3) return void response.writeHead(202, { location: '/jobs/1', 'retry-after': '0' }).end()
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"result":"a logo, delivered"}')
  })
  const jobUrl = await listen(jobServer)
  jobs = { url: jobUrl, polls: 0, close: () => close(jobServer) }
  stack = await startSolanaStack({
    routes: [
      ...defaultSolanaRoutes,
      {
        method: 'POST',
        path: '/translate',
        amount: 30_000n,
        token: 'usdc',
        description: 'Translates a brief',
        handler: ({ body }) => json({ translated: JSON.parse(Buffer.from(body).toString()).text.toUpperCase() }),
      },
      {
        method: 'POST',
        path: '/design',
        amount: 20_000n,
        token: 'usdc',
        description: 'Designs a logo (asynchronously)',
        handler: () => ({ status: 202, headers: { location: `${jobUrl}/jobs/1`, 'retry-after': '0' }, body: '' }),
      },
    ],
  })
  payer = await solanaKey()
  await stack.fund(stack.tokens.usdc, payer.address as Address, 1_000_000n)
  stateRoot = await mkdtemp(join(tmpdir(), 'payfetch-mcp-solana-'))
})

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.close().catch(() => {})))
  await Promise.all([stack?.stop(), jobs?.close()])
})

async function start(env: Record<string, string> = {}, state = `${Math.random()}`) {
  const session = await connectMcp({
    PAYFETCH_SOLANA_SECRET_KEY: payer.secret,
    PAYFETCH_SOLANA_RPC_URL: stack.rpcUrl,
    PAYFETCH_SOLANA_NETWORKS: stack.network,
    PAYFETCH_STATE_DIR: join(stateRoot, state),
    ...env,
  })
  sessions.push(session)
  return session
}

const balance = () => stack.balanceOf(stack.tokens.usdc, payer.address as Address)

/** The secret in every form it could leak in: the JSON bytes, base58, the seed as hex. */
function secretForms(): string[] {
  return [payer.secret, getBase58Decoder().decode(payer.bytes), Buffer.from(payer.bytes.slice(0, 32)).toString('hex')]
}

describe('MCP: x402-mcp pay_and_call (x402 in USDC on Solana)', () => {
  test('behavior: pay_fetch pays on LiteSVM under PAYFETCH_MAX_USD and max_usd; over either, nothing moves', async () => {
    const mcp = await start({ PAYFETCH_MAX_USD: '0.05' })
    const before = await balance()
    const paid = await mcp.call('pay_fetch', { url: `${stack.v2Url}/weather`, max_usd: 0.02 })
    expect(paid.value).toMatchObject({
      ok: true,
      paid: true,
      payment: { protocol: 'x402', network: stack.network, asset: stack.tokens.usdc.mint, amount: '10000' },
    })
    expect(JSON.parse(paid.value.body)).toEqual({ weather: 'sunny', temperature: 21, chain: 'solana' })
    expect(paid.value.payment.reference).toBe(stack.settlements.at(-1)?.transaction)
    expect(await balance()).toBe(before - 10_000n)

    const underCall = await mcp.call('pay_fetch', { url: `${stack.v2Url}/weather`, max_usd: 0.005 })
    expect(underCall).toMatchObject({ isError: true, value: { code: 'CAP_EXCEEDED', paid: false } })
    // max_usd above PAYFETCH_MAX_USD does not raise it.
    const capped = await start({ PAYFETCH_MAX_USD: '0.005' })
    const refused = await capped.call('pay_fetch', { url: `${stack.v2Url}/weather`, max_usd: 5 })
    expect(refused).toMatchObject({ isError: true, value: { code: 'CAP_EXCEEDED', paid: false } })
    expect(await balance()).toBe(before - 10_000n)
  })

  test('policy: with PAYFETCH_CONFIRM=always and no elicitation, nothing moves until the quote id is confirmed', async () => {
    const mcp = await start({ PAYFETCH_CONFIRM: 'always' })
    const before = await balance()
    const asked = await mcp.call('pay_fetch', { url: `${stack.v2Url}/weather` })
    expect(asked).toMatchObject({
      isError: true,
      value: { code: 'CONFIRMATION_REQUIRED', paid: false, quote: { amount: '10000', amount_usd: '0.01' } },
    })
    expect(await balance()).toBe(before)
    const confirmed = await mcp.call('pay_fetch', {
      url: `${stack.v2Url}/weather`,
      confirm_quote_id: asked.value.quote.quote_id,
    })
    expect(confirmed.value).toMatchObject({ paid: true })
    expect(await balance()).toBe(before - 10_000n)
  })

  test('behavior: with elicitation, the person approves in the client; declining moves nothing', async () => {
    const answers = [true, false]
    const prompts: string[] = []
    const session = await connectMcp(
      {
        PAYFETCH_SOLANA_SECRET_KEY: payer.secret,
        PAYFETCH_SOLANA_RPC_URL: stack.rpcUrl,
        PAYFETCH_SOLANA_NETWORKS: stack.network,
        PAYFETCH_STATE_DIR: join(stateRoot, 'elicit'),
        PAYFETCH_CONFIRM: 'always',
      },
      {
        elicit: async (request) => {
          prompts.push(request.params.message)
          return { action: 'accept', content: { approve: answers.shift() ?? false } }
        },
      },
    )
    sessions.push(session)
    const before = await balance()
    expect((await session.call('pay_fetch', { url: `${stack.v2Url}/weather` })).value).toMatchObject({ paid: true })
    expect(await session.call('pay_fetch', { url: `${stack.v2Url}/weather` })).toMatchObject({
      isError: true,
      value: { code: 'APPROVAL_DENIED', paid: false },
    })
    expect(prompts[0]).toContain('Pay $0.01 (x402 on solana:')
    expect(await balance()).toBe(before - 10_000n)
  })

  test('behavior: a retry with the same idempotency key pays once, also after a restart of the server', async () => {
    const before = await balance()
    const first = await start({}, 'idempotent')
    const one = await first.call('pay_fetch', { url: `${stack.v2Url}/weather`, idempotency_key: 'order-42' })
    const two = await first.call('pay_fetch', { url: `${stack.v2Url}/weather`, idempotency_key: 'order-42' })
    await first.close()
    const restarted = await start({}, 'idempotent')
    const three = await restarted.call('pay_fetch', { url: `${stack.v2Url}/weather`, idempotency_key: 'order-42' })
    expect(one.value.payment.reference).toBeDefined()
    expect(two.value).toMatchObject({ idempotent_replay: true, payment: one.value.payment })
    expect(three.value).toMatchObject({ idempotent_replay: true, payment: one.value.payment })
    expect(await balance()).toBe(before - 10_000n)
    // The budget's use survives the restart too: the file ledger is in PAYFETCH_STATE_DIR.
    const report = await restarted.call('spend_report')
    expect(report.value.totals).toEqual([expect.objectContaining({ asset: stack.tokens.usdc.mint, spent: '10000' })])
  })
})

describe('MCP: the402 purchase_service and Paygrid list + execute (a service catalog)', () => {
  test('behavior: list_services shows live prices from the 402s; call_service pays once each, at once or through 202 polling', async () => {
    const catalog = join(stateRoot, 'services.json')
    await writeFile(
      catalog,
      JSON.stringify({
        services: [
          {
            name: 'translate',
            url: `${stack.v2Url}/translate`,
            body: { text: '{{input}}' },
            description: 'Upper-cases a text',
          },
          { name: 'design', url: `${stack.v2Url}/design`, body: { brief: '{{input}}' } },
        ],
      }),
    )
    const mcp = await start({ PAYFETCH_SERVICES: catalog })
    const before = await balance()
    const settlements = stack.settlements.length
    const listed = await mcp.call('list_services')
    expect(listed.value.services).toEqual([
      expect.objectContaining({
        name: 'translate',
        method: 'POST',
        status: 402,
        price: expect.objectContaining({ amount: '30000', amount_usd: '0.03', payable: true }),
      }),
      expect.objectContaining({
        name: 'design',
        price: expect.objectContaining({ amount: '20000', amount_usd: '0.02' }),
      }),
    ])
    expect(await balance()).toBe(before)

    const translated = await mcp.call('call_service', { service: 'translate', input: 'hello' })
    expect(translated.value).toMatchObject({ ok: true, paid: true, payment: { amount: '30000' } })
    expect(JSON.parse(translated.value.body)).toEqual({ translated: 'HELLO' })

    const designed = await mcp.call('call_service', { service: 'design', input: 'a fox' })
    expect(designed.value).toMatchObject({ ok: true, status: 200, paid: true, payment: { amount: '20000' } })
    expect(JSON.parse(designed.value.body)).toEqual({ result: 'a logo, delivered' })
    expect(jobs.polls).toBe(3)
    expect(stack.settlements.length).toBe(settlements + 2)
    expect(await balance()).toBe(before - 50_000n)
  })
})

describe('MCP: secrets', () => {
  test('error: the key never appears in a tool output, an error or stderr', async () => {
    const mcp = await start({ PAYFETCH_MAX_USD: '0.05' })
    const texts = [
      (await mcp.call('pay_fetch', { url: `${stack.v2Url}/weather` })).text,
      (await mcp.call('pay_fetch', { url: `${stack.v2Url}/token-2022` })).text,
      (await mcp.call('quote_fetch', { url: `${stack.v2Url}/weather` })).text,
      (await mcp.call('pending_payments')).text,
      (await mcp.call('spend_report')).text,
      mcp.stderr(),
    ]
    for (const form of secretForms()) for (const text of texts) expect(text).not.toContain(form)
  })
})
