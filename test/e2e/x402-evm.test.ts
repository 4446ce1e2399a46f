import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type EvmStack, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { decodeBase64Json } from '../../examples/local-stack/http.js'
import { evm, privateKeyAccount } from '../../src/evm/index.js'
import { createPayingFetch, getReceipt, type PayfetchEvent } from '../../src/index.js'

// payfetch against the x402 reference server (@x402/express) and a real facilitator settling on
// anvil, plus a v1 server verified and settled by the same facilitator's v1 scheme.
let stack: EvmStack

beforeAll(async () => {
  stack = await startEvmStack()
})

afterAll(async () => {
  await stack?.stop()
})

/** A fresh funded payer, and the proofs its paying fetch sent (read off the real requests). */
async function payer(options: { funds?: bigint } = {}) {
  const account = stack.newAccount()
  if (options.funds !== 0n) await stack.mint(stack.usdc, account.address, options.funds ?? 1_000_000n)
  const proofs: string[] = []
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const proof = request.headers.get('payment-signature') ?? request.headers.get('x-payment')
    if (proof) proofs.push(proof)
    return fetch(request)
  }
  return { account, proofs, recording }
}

const nonceOf = (proof: string) =>
  (decodeBase64Json(proof) as { payload: { authorization: { nonce: Hex } } }).payload.authorization.nonce

describe('x402 on EVM, settled on a local chain', () => {
  test('behavior: pays the v2 reference server; balances move by exactly the price; the receipt is the mined transaction', async () => {
    const { account, proofs, recording } = await payer()
    const events: PayfetchEvent[] = []
    const fetchPaid = createPayingFetch({
      signers: [evm({ account })],
      fetch: recording,
      onEvent: (event) => events.push(event),
    })
    const before = {
      payer: await stack.balanceOf(stack.usdc, account.address),
      payTo: await stack.balanceOf(stack.usdc, stack.payTo),
    }
    const settlementsBefore = stack.settlements.length

    const started = performance.now()
    const response = await fetchPaid(`${stack.v2Url}/weather`)
    const elapsed = performance.now() - started

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', temperature: 21 })
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(before.payer - 10_000n)
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(before.payTo + 10_000n)
    expect(stack.settlements.length).toBe(settlementsBefore + 1)

    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({
      protocol: 'x402',
      network: 'eip155:84532',
      amount: 10_000n,
      payer: account.address,
      url: `${stack.v2Url}/weather`,
    })
    expect(receipt?.asset.toLowerCase()).toBe(stack.usdc.address.toLowerCase())
    expect(receipt?.payTo.toLowerCase()).toBe(stack.payTo.toLowerCase())
    const mined = await stack.getTransactionReceipt(receipt?.reference as Hex)
    expect(mined.status).toBe('success')
    expect(mined.transactionHash).toBe(stack.settlements.at(-1)?.transaction)
    expect(await stack.authorizationUsed(stack.usdc, account.address, nonceOf(proofs[0] as string))).toBe(true)
    expect(proofs).toHaveLength(1)
    expect(events.map((event) => event.type)).toEqual(['challenge', 'offer.chosen', 'payment.sent', 'receipt'])
    console.info(`e2e: one paid x402 v2 call (402, sign, verify, settle on anvil) took ${elapsed.toFixed(0)} ms`)
  })

  test('behavior: a privateKeyAccount pays the v2 and the v1 reference servers (payfetch hashes the typed data itself); each moves exactly the price', async () => {
    const key = generatePrivateKey()
    const { address } = privateKeyToAccount(key)
    await stack.mint(stack.usdc, address, 1_000_000n)
    const fetchPaid = createPayingFetch({ signers: [evm({ account: privateKeyAccount(key) })] })
    for (const url of [`${stack.v2Url}/weather`, `${stack.v2Url}/weather?again`, `${stack.v1Url}/v1/weather`]) {
      const before = await stack.balanceOf(stack.usdc, address)
      const response = await fetchPaid(url)
      expect(response.status).toBe(200)
      expect(getReceipt(response)).toMatchObject({ payer: address, amount: 10_000n })
      expect(await stack.balanceOf(stack.usdc, address)).toBe(before - 10_000n)
    }
  })

  test('policy: the same authorization sent again is refused and moves nothing', async () => {
    const { account, proofs, recording } = await payer()
    await createPayingFetch({ signers: [evm({ account })], fetch: recording })(`${stack.v2Url}/weather`)
    const balance = await stack.balanceOf(stack.usdc, account.address)
    const replay = await fetch(`${stack.v2Url}/weather`, { headers: { 'payment-signature': proofs[0] as string } })
    expect(replay.status).toBe(402)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(balance)
  })

  test('behavior: a POST body reaches the paid handler byte for byte', async () => {
    const { account } = await payer()
    const body = new TextEncoder().encode(JSON.stringify({ query: 'weather', city: 'Zürich', pad: 'x'.repeat(5000) }))
    const response = await createPayingFetch({ signers: [evm({ account })] })(`${stack.v2Url}/echo`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    })
    expect(response.status).toBe(200)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(body)
    expect(response.headers.get('x-echo-content-type')).toBe('application/json')
  })

  test('behavior: pays an x402 v1 server (X-PAYMENT, base-sepolia) settled by the reference v1 facilitator', async () => {
    const { account, proofs, recording } = await payer()
    const before = await stack.balanceOf(stack.usdc, account.address)
    const response = await createPayingFetch({ signers: [evm({ account })], fetch: recording })(
      `${stack.v1Url}/v1/weather`,
    )
    expect(response.status).toBe(200)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(before - 10_000n)
    const proof = decodeBase64Json(proofs[0] as string) as Record<string, unknown>
    expect(proof).toMatchObject({ x402Version: 1, scheme: 'exact', network: 'base-sepolia' })
    const receipt = getReceipt(response)
    expect(receipt).toMatchObject({ network: 'eip155:84532', amount: 10_000n })
    expect((await stack.getTransactionReceipt(receipt?.reference as Hex)).status).toBe('success')
  })

  test('policy: over the per-request cap nothing is signed, settled or moved', async () => {
    const { account, proofs, recording } = await payer({ funds: 10_000_000n })
    const settlementsBefore = stack.settlements.length
    await expect(
      createPayingFetch({ signers: [evm({ account })], fetch: recording })(`${stack.v2Url}/pricey`),
    ).rejects.toMatchObject({ code: 'CAP_EXCEEDED' })
    expect(proofs).toEqual([])
    expect(stack.settlements.length).toBe(settlementsBefore)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(10_000_000n)
  })

  test('policy: an unknown asset is refused by default and paid when listed with a limit', async () => {
    const account = stack.newAccount()
    await stack.mint(stack.unknownToken, account.address, 100_000n)
    const url = `${stack.v2Url}/unknown-asset`
    await expect(createPayingFetch({ signers: [evm({ account })] })(url)).rejects.toMatchObject({
      code: 'ASSET_NOT_ALLOWED',
    })
    const caps = { assets: [{ network: 'eip155:84532', asset: stack.unknownToken.address, maxAmount: 10_000n }] }
    const response = await createPayingFetch({ signers: [evm({ account })], caps })(url)
    expect(response.status).toBe(200)
    expect(await stack.balanceOf(stack.unknownToken, account.address)).toBe(90_000n)
  })

  test('error: a payer without funds gets PAYMENT_REJECTED with the facilitator reason, and pays once', async () => {
    const { account, proofs, recording } = await payer({ funds: 0n })
    const error = await createPayingFetch({ signers: [evm({ account })], fetch: recording })(
      `${stack.v2Url}/weather`,
    ).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'PAYMENT_REJECTED' })
    expect(String((error as { details: { reason?: string } }).details.reason)).toMatch(
      /insufficient|balance|simulation/i,
    )
    expect(proofs).toHaveLength(1)
  })
})
