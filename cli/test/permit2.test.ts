import { mkdtemp } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { declareErc20ApprovalGasSponsoringExtension } from '@x402/extensions'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { defaultV2Routes, type EvmStack, json, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { close, listen } from '../../examples/local-stack/http.js'
import { runCli } from './support/runCli.js'

// x402 `exact` through Permit2 from the built CLI, against the reference server and facilitator with
// Permit2 on anvil: paid only with PAYFETCH_EVM_RPC_URL, which gives evm() a reader of that chain.
let stack: EvmStack
let dir: string
const minted = 1_000_000n

beforeAll(async () => {
  stack = await startEvmStack({
    v2Routes: [
      ...defaultV2Routes,
      {
        method: 'GET',
        path: '/permit2/usdc-approval',
        amount: 10_000n,
        token: 'usdc',
        assetTransferMethod: 'permit2',
        extensions: declareErc20ApprovalGasSponsoringExtension(),
        description: "Paid through Permit2; the facilitator funds and broadcasts the payer's approve",
        handler: () => json({ weather: 'sunny', via: 'permit2+erc20-approval' }),
      },
    ],
  })
  dir = await mkdtemp(join(tmpdir(), 'payfetch-cli-permit2-'))
})

afterAll(async () => {
  await stack?.stop()
})

/** A funded payer (that approved Permit2 unless told not to), with its own state dir. */
async function payer(name: string, { approved = true } = {}) {
  const key = generatePrivateKey()
  const account = privateKeyToAccount(key)
  await stack.mint(stack.usdc, account.address, minted)
  if (approved) await stack.approvePermit2(account, { token: stack.usdc })
  return { address: account.address, env: { PAYFETCH_EVM_PRIVATE_KEY: key, PAYFETCH_STATE_DIR: join(dir, name) } }
}

describe('payfetch and Permit2 offers', () => {
  test('behavior: with PAYFETCH_EVM_RPC_URL the key pays Permit2 and upto offers, and the balance moves by what was charged', async () => {
    const { address, env } = await payer('paid')
    const url = `${stack.v2Url}/permit2/weather`

    const without = await runCli([url], env)
    expect(without.code).toBe(3)
    expect(without.stderr).toMatch(/NO_SIGNER.*evm\(\{ publicClient \}\)/s)
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted)

    const run = await runCli(['-v', url], { ...env, PAYFETCH_EVM_RPC_URL: stack.rpcUrl })
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({ weather: 'sunny', via: 'permit2' })
    expect(run.stderr).toMatch(/paid 10000 atomic units of 0x\w+ on eip155:84532 via x402/)
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted - 10_000n)

    // upto: the permit is for the ceiling; the server settles what the call used.
    const metered = await runCli([`${stack.v2Url}/upto/tokens?charge=12345`], {
      ...env,
      PAYFETCH_EVM_RPC_URL: stack.rpcUrl,
    })
    expect(metered.code, metered.stderr).toBe(0)
    expect(JSON.parse(metered.stdout)).toEqual({ metered: true })
    expect(await stack.balanceOf(stack.usdc, address)).toBe(minted - 10_000n - 12_345n)
  })

  test('behavior: a payer that never approved Permit2 and holds no ETH pays where the server sponsors the approval (an EIP-2612 permit, or its signed approve)', async () => {
    for (const [path, via] of [
      ['/permit2/eip2612', 'permit2+eip2612'],
      ['/permit2/usdc-approval', 'permit2+erc20-approval'],
    ] as const) {
      const { address, env } = await payer(`sponsored-${via}`, { approved: false })
      const run = await runCli([`${stack.v2Url}${path}`], { ...env, PAYFETCH_EVM_RPC_URL: stack.rpcUrl })
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(run.stdout)).toEqual({ weather: 'sunny', via })
      expect(await stack.balanceOf(stack.usdc, address), path).toBe(minted - 10_000n)
      // The signed approve was the payer's first transaction, funded and sent by the facilitator.
      const sent = await stack.publicClient.getTransactionCount({ address })
      expect(sent, path).toBe(path === '/permit2/eip2612' ? 0 : 1)
    }
  })

  test('policy: an RPC of another chain pays nothing: the Permit2 offer is NO_SIGNER, naming the chain it reads', async () => {
    const { address, env } = await payer('other-chain')
    // A JSON-RPC that says it is chain 1 and answers nothing else: no allowance read may reach it.
    const asked: string[] = []
    const mainnet = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk))
      request.on('end', () => {
        const call = JSON.parse(body) as { id: number; method: string }
        asked.push(call.method)
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ jsonrpc: '2.0', id: call.id, result: '0x1' }))
      })
    })
    const rpc = await listen(mainnet)
    try {
      const run = await runCli([`${stack.v2Url}/permit2/weather`], { ...env, PAYFETCH_EVM_RPC_URL: rpc })
      expect(run.code).toBe(3)
      expect(run.stderr).toMatch(/NO_SIGNER.*the publicClient reads eip155:1/s)
      expect(asked).toEqual(['eth_chainId'])
      expect(await stack.balanceOf(stack.usdc, address)).toBe(minted)
    } finally {
      await close(mainnet)
    }
  })

  test('error: an RPC that does not answer stops the CLI with exit 2, naming the variable, never its value', async () => {
    const { env } = await payer('no-rpc')
    const run = await runCli([`${stack.v2Url}/permit2/weather`], {
      ...env,
      PAYFETCH_EVM_RPC_URL: 'http://127.0.0.1:1/secret-api-key',
    })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/PAYFETCH_EVM_RPC_URL did not answer eth_chainId/)
    expect(run.stderr).not.toContain('secret-api-key')
  })
})
