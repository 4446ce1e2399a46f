// Proves the local EVM payment stack with the x402 reference clients, so payfetch's own e2e tests
// can trust it: a failure here is the harness, not payfetch.
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import { ExactEvmScheme } from '@x402/evm/exact/client'
import { ExactEvmSchemeV1 } from '@x402/evm/v1'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import type { Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { EvmStack, TestToken } from '../../examples/local-stack/evmStack.js'
import { startEvmStack } from '../../examples/local-stack/evmStack.js'
import { tokenAbi } from '../../examples/local-stack/tokenAbi.js'

let stack: EvmStack

beforeAll(async () => {
  stack = await startEvmStack()
})

afterAll(async () => {
  await stack?.stop()
})

/** A payer holding `amount` of `token` and no ETH. */
async function fundedPayer(token: TestToken, amount = 1_000_000n): Promise<PrivateKeyAccount> {
  const payer = stack.newAccount()
  await stack.mint(token, payer.address, amount)
  return payer
}

/** The reference v2 client, allowed to spend `token` up to 0.05 of it per payment. */
function v2Fetch(payer: PrivateKeyAccount, token: TestToken, fetchImpl: typeof fetch = fetch) {
  const client = x402Client.fromConfig({
    schemes: [{ network: 'eip155:*', client: new ExactEvmScheme(payer) }],
    spendControls: {
      allowedAssets: [{ network: stack.v2Network, asset: token.address, maxAmountPerPayment: '50000' }],
    },
  })
  return wrapFetchWithPayment(fetchImpl, client)
}

/** A fetch that remembers the headers of every request it sends. */
function recordingFetch() {
  const sent: Headers[] = []
  const fetchImpl: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    sent.push(request.headers)
    return fetch(request)
  }
  return { sent, fetchImpl }
}

async function expectSettledOnChain(transaction: string) {
  const receipt = await stack.getTransactionReceipt(transaction as Hex)
  expect(receipt.status).toBe('success')
  expect(receipt.to?.toLowerCase()).toBe(stack.usdc.address.toLowerCase())
  expect(receipt.from.toLowerCase()).toBe(stack.facilitatorAddress.toLowerCase())
}

describe('local EVM stack: chain', () => {
  test('behavior: TestUSDC answers as USDC at the Base Sepolia address', async () => {
    const read = (functionName: 'name' | 'version' | 'decimals') =>
      stack.publicClient.readContract({ address: stack.usdc.address, abi: tokenAbi, functionName })
    expect(stack.usdc.address).toBe('0x036CbD53842c5426634e7929541eC2318f3dCF7e')
    expect(await read('name')).toBe('USDC')
    expect(await read('version')).toBe('2')
    expect(await read('decimals')).toBe(6)
    expect(await stack.publicClient.getChainId()).toBe(84532)
  })

  test('behavior: the unknown token has its own domain at another address', async () => {
    expect(stack.unknownToken).toMatchObject({ name: 'Test Token', version: '1', decimals: 6 })
    expect(stack.unknownToken.address).not.toBe(stack.usdc.address)
    const payer = await fundedPayer(stack.unknownToken, 123n)
    expect(await stack.balanceOf(stack.unknownToken, payer.address)).toBe(123n)
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(0n)
  })
})

describe('local EVM stack: x402 v2 reference server', () => {
  test('behavior: an unpaid request gets a v2 402 priced as an AssetAmount', async () => {
    const response = await fetch(`${stack.v2Url}/weather`)
    expect(response.status).toBe(402)
    const required = decodePaymentRequiredHeader(response.headers.get('payment-required') ?? '')
    expect(required.x402Version).toBe(2)
    expect(required.accepts).toEqual([
      {
        scheme: 'exact',
        network: 'eip155:84532',
        amount: '10000',
        asset: stack.usdc.address,
        payTo: stack.payTo,
        maxTimeoutSeconds: 60,
        extra: { name: 'USDC', version: '2' },
      },
    ])
  })

  test('behavior: /free needs no payment', async () => {
    const response = await fetch(`${stack.v2Url}/free`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ free: true })
  })

  test('behavior: the reference client pays /weather once and exactly the price moves', async () => {
    const payer = await fundedPayer(stack.usdc)
    const payToBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    const settlementsBefore = stack.settlements.length

    const response = await v2Fetch(payer, stack.usdc)(`${stack.v2Url}/weather`)

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', temperature: 21 })
    const receipt = decodePaymentResponseHeader(response.headers.get('payment-response') ?? '')
    expect(receipt).toMatchObject({ success: true, network: 'eip155:84532', payer: payer.address })
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(990_000n)
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(payToBefore + 10_000n)
    expect(await stack.publicClient.getBalance({ address: payer.address })).toBe(0n)
    expect(stack.settlements.slice(settlementsBefore)).toEqual([
      {
        x402Version: 2,
        network: 'eip155:84532',
        transaction: receipt.transaction,
        success: true,
        payer: payer.address,
        errorReason: undefined,
        amount: undefined,
        scheme: 'exact',
      },
    ])
    await expectSettledOnChain(receipt.transaction)
  })

  test('behavior: a paid POST /echo returns the exact bytes and content type', async () => {
    const payer = await fundedPayer(stack.usdc)
    const body = JSON.stringify({ question: 'same bytes?', n: 42 })

    const response = await v2Fetch(payer, stack.usdc)(`${stack.v2Url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
    })

    expect(response.status).toBe(200)
    expect(response.headers.get('x-echo-content-type')).toBe('application/json; charset=utf-8')
    expect(response.headers.get('x-echo-method')).toBe('POST')
    expect(await response.text()).toBe(body)
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(990_000n)
  })

  test('behavior: /unknown-asset is priced and paid in the Test Token', async () => {
    const payer = await fundedPayer(stack.unknownToken)

    const response = await v2Fetch(payer, stack.unknownToken)(`${stack.v2Url}/unknown-asset`)

    expect(response.status).toBe(200)
    expect(await stack.balanceOf(stack.unknownToken, payer.address)).toBe(990_000n)
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(0n)
  })

  test('error: a payer without funds gets the precise facilitator reason and nothing settles', async () => {
    const payer = stack.newAccount()
    const settlementsBefore = stack.settlements.length

    const response = await v2Fetch(payer, stack.usdc)(`${stack.v2Url}/weather`)

    expect(response.status).toBe(402)
    const required = decodePaymentRequiredHeader(response.headers.get('payment-required') ?? '')
    // Only this precise reason when MiniMulticall3 sits at the Multicall3 address.
    expect(required.error).toBe('invalid_exact_evm_insufficient_balance')
    expect(stack.settlements.length).toBe(settlementsBefore)
  })
})

describe('local EVM stack: x402 v1 server', () => {
  test('behavior: an unpaid request gets the v1 402 JSON body', async () => {
    const response = await fetch(`${stack.v1Url}/v1/weather`)
    expect(response.status).toBe(402)
    expect(await response.json()).toEqual({
      x402Version: 1,
      error: 'X-PAYMENT header is required',
      accepts: [
        {
          scheme: 'exact',
          network: 'base-sepolia',
          maxAmountRequired: '10000',
          asset: stack.usdc.address,
          payTo: stack.payTo,
          resource: `${stack.v1Url}/v1/weather`,
          description: 'Weather report (x402 v1)',
          mimeType: 'application/json',
          maxTimeoutSeconds: 60,
          extra: { name: 'USDC', version: '2' },
        },
      ],
    })
  })

  test('behavior: the reference v1 client pays once and the authorization is spent on chain', async () => {
    const payer = await fundedPayer(stack.usdc)
    const payToBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    const settlementsBefore = stack.settlements.length
    const { sent, fetchImpl } = recordingFetch()
    const client = new x402Client().registerV1('base-sepolia', new ExactEvmSchemeV1(payer))
    const payFetch = wrapFetchWithPayment(fetchImpl, client)

    const response = await payFetch(`${stack.v1Url}/v1/weather`)

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', temperature: 21, x402Version: 1 })
    const receipt = JSON.parse(Buffer.from(response.headers.get('x-payment-response') ?? '', 'base64').toString('utf8'))
    expect(receipt).toMatchObject({ success: true, network: 'base-sepolia', payer: payer.address })
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(990_000n)
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(payToBefore + 10_000n)
    expect(stack.settlements.slice(settlementsBefore)).toMatchObject([
      { x402Version: 1, network: 'base-sepolia', transaction: receipt.transaction, success: true },
    ])
    await expectSettledOnChain(receipt.transaction)

    const paymentHeader = sent.map((headers) => headers.get('x-payment')).find((value) => value !== null)
    const payment = JSON.parse(Buffer.from(paymentHeader ?? '', 'base64').toString('utf8'))
    expect(payment).toMatchObject({ x402Version: 1, scheme: 'exact', network: 'base-sepolia' })
    expect(await stack.authorizationUsed(stack.usdc, payer.address, payment.payload.authorization.nonce)).toBe(true)
  })

  test('error: replaying a spent X-PAYMENT is refused and settles nothing', async () => {
    const payer = await fundedPayer(stack.usdc)
    const { sent, fetchImpl } = recordingFetch()
    const client = new x402Client().registerV1('base-sepolia', new ExactEvmSchemeV1(payer))
    expect((await wrapFetchWithPayment(fetchImpl, client)(`${stack.v1Url}/v1/weather`)).status).toBe(200)
    const paymentHeader = sent.map((headers) => headers.get('x-payment')).find((value) => value !== null) ?? ''
    const settlementsBefore = stack.settlements.length

    const replay = await fetch(`${stack.v1Url}/v1/weather`, { headers: { 'x-payment': paymentHeader } })

    expect(replay.status).toBe(402)
    expect((await replay.json()).error).toMatch(/^invalid_exact_evm_/)
    expect(stack.settlements.length).toBe(settlementsBefore)
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(990_000n)
  })
})
