import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { L402Server } from '../../examples/local-stack/l402Server.js'
import { type LightningStack, startLightningStack } from '../../examples/local-stack/lightningStack.js'
import type { NostrWalletService } from '../../examples/local-stack/nostrWalletService.js'
import { type Merchant, requirement, startMerchant } from '../../test/support/merchant.js'
import { startTwoProtocolServer, type TwoProtocolServer } from '../../test/support/twoProtocolServer.js'
import { connectMcp, type McpSession } from './support/mcpClient.js'
import { runCli } from './support/runCli.js'

// The jobs of lightning-wallet-mcp's pay_l402_api (L402 preferred, a sats cap, hash/amount/fee in
// the answer) and the credential reuse of ClawPay's x402_pay, through a real MCP client spawning
// the built CLI. Lightning is an Aperture-like L402 server paid over Nostr Wallet Connect (a real
// relay and NIP-47 wallet service on loopback); the x402 side is the signature-checking merchant.
let stack: LightningStack
let l402: L402Server
let service: NostrWalletService
let merchant: Merchant
let both: TwoProtocolServer
let stateRoot: string
const sessions: McpSession[] = []

beforeAll(async () => {
  stack = await startLightningStack()
  l402 = await stack.l402Server()
  service = await stack.walletService()
  merchant = await startMerchant({
    '/report': (request, response, self) =>
      self.charge(request, response, [requirement()], () =>
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"paidWith":"x402"}'),
      ),
  })
  both = await startTwoProtocolServer(merchant.url, l402.url)
  stateRoot = await mkdtemp(join(tmpdir(), 'payfetch-mcp-lightning-'))
})

afterAll(async () => {
  await Promise.all(sessions.map((session) => session.close().catch(() => {})))
  await Promise.all([both?.close(), merchant?.close()])
  await stack?.stop()
})

async function start(env: Record<string, string> = {}) {
  const session = await connectMcp({
    PAYFETCH_NWC_URL: service.uri,
    PAYFETCH_LIGHTNING_NETWORKS: 'regtest',
    PAYFETCH_EVM_PRIVATE_KEY: generatePrivateKey(),
    PAYFETCH_STATE_DIR: join(stateRoot, `${Math.random()}`),
    ...env,
  })
  sessions.push(session)
  return session
}

describe('MCP: lightning-wallet-mcp pay_l402_api', () => {
  test('behavior: a server offering L402 and x402 is paid over L402 when preferred; the answer carries hash, amount, fee, protocol', async () => {
    const mcp = await start()
    const settled = stack.node.settled.length
    const x402Settled = merchant.settled.length
    const result = await mcp.call('pay_fetch', { url: `${both.url}/report`, prefer: ['l402'], max_sats: 100 })
    expect(result.value).toMatchObject({
      ok: true,
      paid: true,
      payment: { protocol: 'l402', asset: 'BTC', amount: '21000', fee: '0' },
    })
    expect(result.value.payment.reference).toBe(stack.node.settled.at(-1)?.paymentHash)
    expect(stack.node.settled.length).toBe(settled + 1)
    expect(merchant.settled.length).toBe(x402Settled)
  })

  test('policy: over the sats cap (max_sats, or PAYFETCH_MAX_SATS that max_sats cannot raise) nothing moves', async () => {
    const requests = service.requests.length
    const mcp = await start()
    expect(await mcp.call('pay_fetch', { url: `${l402.url}/report`, max_sats: 20 })).toMatchObject({
      isError: true,
      value: { code: 'CAP_EXCEEDED', paid: false },
    })
    const capped = await start({ PAYFETCH_MAX_SATS: '20' })
    expect(await capped.call('pay_fetch', { url: `${l402.url}/report`, max_sats: 1000 })).toMatchObject({
      isError: true,
      value: { code: 'CAP_EXCEEDED', paid: false },
    })
    expect(service.requests.length).toBe(requests)
  })
})

describe('MCP: ClawPay x402_pay sessions', () => {
  test('behavior: a reusable credential (L402 token) is reused; reuse_session: false pays afresh', async () => {
    const mcp = await start()
    const requests = service.requests.length
    expect((await mcp.call('pay_fetch', { url: `${l402.url}/a` })).value).toMatchObject({ paid: true })
    const reused = await mcp.call('pay_fetch', { url: `${l402.url}/b` })
    expect(reused.value).toMatchObject({ ok: true, paid: false, body: '{"ok":true,"path":"/b"}' })
    expect(service.requests.length).toBe(requests + 1)
    expect((await mcp.call('pay_fetch', { url: `${l402.url}/c`, reuse_session: false })).value).toMatchObject({
      paid: true,
    })
    expect(service.requests.length).toBe(requests + 2)
  })
})

describe('payfetch <url> over Lightning', () => {
  test('policy: --protocol l402 pays a server offering both over L402; --max-sats below an L402-only price refuses (exit 3) and nothing moves', async () => {
    const env = {
      PAYFETCH_NWC_URL: service.uri,
      PAYFETCH_LIGHTNING_NETWORKS: 'regtest',
      PAYFETCH_EVM_PRIVATE_KEY: generatePrivateKey(),
      PAYFETCH_STATE_DIR: join(stateRoot, `cli-${Math.random()}`),
    }
    const requests = service.requests.length
    const refused = await runCli(['--max-sats', '20', `${l402.url}/report`], env)
    expect(refused).toMatchObject({ code: 3, stdout: '' })
    expect(refused.stderr).toContain('CAP_EXCEEDED')
    expect(service.requests.length).toBe(requests)
    const settled = stack.node.settled.length
    const x402Settled = merchant.settled.length
    const paid = await runCli(['--protocol', 'l402', '--max-sats', '100', `${both.url}/report`], env)
    expect(paid.code, paid.stderr).toBe(0)
    expect(paid.stderr).toMatch(/paid 21000 atomic units of BTC on \S+ via l402/)
    expect(stack.node.settled.length).toBe(settled + 1)
    expect(merchant.settled.length).toBe(x402Settled)
  })
})
