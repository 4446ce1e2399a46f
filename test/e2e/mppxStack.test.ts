// Proves the mppx 0.11 server stack with mppx's own client (mppx/client), so payfetch's `Payment`
// scheme tests can trust it: a failure here is the harness, not payfetch.

import { evm, Mppx, tempo } from 'mppx/client'
import type { Address, Hash } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { appBearerToken, type MppxStack, startMppxStack } from '../../examples/local-stack/mppxStack.js'

let stack: MppxStack

beforeAll(async () => {
  const started = performance.now()
  stack = await startMppxStack()
  console.info(
    `e2e: the mppx stack (two anvils, two servers) started in ${(performance.now() - started).toFixed(0)} ms`,
  )
})

afterAll(async () => {
  await stack?.stop()
})

const decode = (value: string | null) => JSON.parse(Buffer.from(value ?? '', 'base64url').toString('utf8'))

function evmClient(account: PrivateKeyAccount) {
  return Mppx.create({
    polyfill: false,
    methods: [
      evm.charge({
        account,
        currencies: [
          evm.assets.baseSepolia.USDC,
          evm.assets.define({
            address: stack.evm.eurc.address,
            decimals: 6,
            network: 'eip155:84532',
            transfer: { type: 'eip3009', name: 'EURC', version: '2' },
          }),
        ],
        networks: [84532],
        maxAmount: '0.10',
      }),
    ],
  })
}

function tempoClient(account: PrivateKeyAccount) {
  return Mppx.create({
    polyfill: false,
    methods: [tempo.charge({ account, expectedChainId: 1337, getClient: stack.tempo.getClient })],
  })
}

async function evmBalances(payer: Address) {
  const { usdc, eurc } = stack.evm
  return {
    usdc: await stack.evm.balanceOf(usdc, payer),
    eurc: await stack.evm.balanceOf(eurc, payer),
    payToUsdc: await stack.evm.balanceOf(usdc, stack.payTo),
    payToEurc: await stack.evm.balanceOf(eurc, stack.payTo),
  }
}

const credentialsSentTo = (path: string) =>
  stack.requests.to(path).filter((request) => request.headers.authorization?.startsWith('Payment '))

describe('mppx server stack, paid with mppx client: EVM charge', () => {
  test('behavior: GET /weather: one Payment challenge and no x402 offer; balances move by exactly 10000; the receipt is the mined settlement', async () => {
    const unpaid = await fetch(`${stack.url}/weather`)
    expect(unpaid.status).toBe(402)
    expect(unpaid.headers.get('payment-required')).toBeNull()
    expect(unpaid.headers.get('cache-control')).toBe('no-store')
    const challenge = unpaid.headers.get('www-authenticate') ?? ''
    expect(challenge.match(/Payment /g)).toHaveLength(1)
    const request = decode(/request="([^"]+)"/.exec(challenge)?.[1] ?? null)
    expect(request).toEqual({
      amount: '10000',
      currency: stack.evm.usdc.address,
      methodDetails: { chainId: 84532, credentialTypes: ['authorization'], decimals: 6 },
      recipient: stack.payTo,
    })
    expect(challenge).toContain(`realm="${stack.realm}"`)

    const payer = await stack.evm.newPayer()
    const before = await evmBalances(payer.address)
    const response = await evmClient(payer).fetch(`${stack.url}/weather`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ weather: 'sunny', temperature: 21 })
    const after = await evmBalances(payer.address)
    expect(after.usdc).toBe(before.usdc - 10_000n)
    expect(after.payToUsdc).toBe(before.payToUsdc + 10_000n)

    const receipt = decode(response.headers.get('payment-receipt'))
    expect(receipt).toMatchObject({ method: 'evm', status: 'success' })
    const mined = await stack.evm.getTransactionReceipt(receipt.reference as Hash)
    expect(mined.status).toBe('success')
    expect(stack.evm.settlements.at(-1)).toMatchObject({
      txHash: receipt.reference,
      from: payer.address,
      value: 10_000n,
    })
    expect(response.headers.get('cache-control')).toBe('private')
  })

  test('behavior: POST /echo: the paid retry carries the same body bytes, and the answer is those bytes and their sha256', async () => {
    const payer = await stack.evm.newPayer()
    const body = JSON.stringify({ question: 'é?', n: 42 })
    const seenBefore = stack.requests.to('/echo').length
    const response = await evmClient(payer).fetch(`${stack.url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(body)
    const [unpaid, paid] = stack.requests.to('/echo').slice(seenBefore)
    expect(unpaid?.headers.authorization).toBeUndefined()
    expect(paid?.headers.authorization).toMatch(/^Payment [A-Za-z0-9_-]+$/)
    expect(paid?.bodySha256).toBe(unpaid?.bodySha256)
    expect(response.headers.get('x-echo-sha256')).toBe(paid?.bodySha256)
    expect(paid?.headers['content-type']).toBe('application/json')
  })

  test('behavior: GET /choice: two Payment challenges on one line (EURC first) plus the x402 offer; the client pays the first', async () => {
    const unpaid = await fetch(`${stack.url}/choice`)
    const header = unpaid.headers.get('www-authenticate') ?? ''
    expect(header.match(/Payment id=/g)).toHaveLength(2)
    const offered = [...header.matchAll(/request="([^"]+)"/g)].map(([, request]) => decode(request ?? null))
    expect(offered.map(({ amount, currency }) => [amount, currency])).toEqual([
      ['20000', stack.evm.eurc.address],
      ['10000', stack.evm.usdc.address],
    ])
    expect(JSON.parse(Buffer.from(unpaid.headers.get('payment-required') ?? '', 'base64').toString())).toMatchObject({
      x402Version: 2,
      accepts: [
        { amount: '20000', asset: stack.evm.eurc.address },
        { amount: '10000', asset: stack.evm.usdc.address },
      ],
    })

    const payer = await stack.evm.newPayer()
    const before = await evmBalances(payer.address)
    const response = await evmClient(payer).fetch(`${stack.url}/choice`)
    expect(response.status).toBe(200)
    const after = await evmBalances(payer.address)
    expect(after.eurc).toBe(before.eurc - 20_000n)
    expect(after.usdc).toBe(before.usdc)
    expect(after.payToEurc).toBe(before.payToEurc + 20_000n)
  })

  test('error: the same credential sent again is refused with a fresh challenge (verification-failed) and moves no money', async () => {
    const payer = await stack.evm.newPayer()
    await evmClient(payer).fetch(`${stack.url}/weather`)
    const credential = credentialsSentTo('/weather').at(-1)?.headers.authorization as string
    const before = await evmBalances(payer.address)
    const replay = await fetch(`${stack.url}/weather`, { headers: { authorization: credential } })
    expect(replay.status).toBe(402)
    expect(replay.headers.get('www-authenticate')).toMatch(/^Payment id="/)
    expect(await replay.json()).toMatchObject({
      type: 'https://paymentauth.org/problems/verification-failed',
      status: 402,
    })
    expect(replay.headers.get('payment-receipt')).toBeNull()
    expect(await evmBalances(payer.address)).toEqual(before)
  })

  test('error: a challenge already expired when issued (/expired) is refused by the client; nothing is sent', async () => {
    const payer = await stack.evm.newPayer()
    await expect(evmClient(payer).fetch(`${stack.url}/expired`)).rejects.toThrow(/expired/i)
    expect(credentialsSentTo('/expired')).toHaveLength(0)
    const header = (await fetch(`${stack.url}/expired`)).headers.get('www-authenticate') ?? ''
    expect(Date.parse(/expires="([^"]+)"/.exec(header)?.[1] ?? '')).toBeLessThan(Date.now())
  })

  test('error: /pricey (0.50) is above the client cap (0.10): refused before signing', async () => {
    const payer = await stack.evm.newPayer()
    await expect(evmClient(payer).fetch(`${stack.url}/pricey`)).rejects.toThrow(/maxAmount/)
    expect(credentialsSentTo('/pricey')).toHaveLength(0)
  })

  test('error: /redirect-away (307 to another origin that asks for payment): mppx refuses to pay across the redirect', async () => {
    const payer = await stack.evm.newPayer()
    const seenBefore = stack.otherOriginRequests.all.length
    await expect(evmClient(payer).fetch(`${stack.url}/redirect-away`)).rejects.toThrow(/across redirect/)
    const reached = stack.otherOriginRequests.all.slice(seenBefore)
    expect(reached.map((request) => request.path)).toEqual(['/weather'])
    expect(reached[0]?.headers.authorization).toBeUndefined()
  })

  test('behavior: /paid-redirect: paid, then 307 to another origin, which never sees the credential', async () => {
    const payer = await stack.evm.newPayer()
    const before = await evmBalances(payer.address)
    const seenBefore = stack.otherOriginRequests.all.length
    const response = await evmClient(payer).fetch(`${stack.url}/paid-redirect`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ free: true })
    expect((await evmBalances(payer.address)).usdc).toBe(before.usdc - 10_000n)
    const reached = stack.otherOriginRequests.all.slice(seenBefore)
    expect(reached.map((request) => request.path)).toEqual(['/free'])
    expect(reached[0]?.headers.authorization).toBeUndefined()
  })

  test('behavior: /denied: a valid payment is settled, then refused by policy with 403 and no receipt', async () => {
    const payer = await stack.evm.newPayer()
    const before = await evmBalances(payer.address)
    const response = await evmClient(payer).fetch(`${stack.url}/denied`)
    expect(response.status).toBe(403)
    expect(response.headers.get('payment-receipt')).toBeNull()
    expect(response.headers.get('www-authenticate')).toBeNull()
    expect((await evmBalances(payer.address)).usdc).toBe(before.usdc - 10_000n)
  })
})

describe('mppx server stack, paid with mppx client: Tempo charge', () => {
  test('behavior: fee-sponsored /tempo/weather: the payer spends exactly 10000 pathUSD; the receipt is its mined transaction', async () => {
    const payer = await stack.tempo.newPayer()
    const payToBefore = await stack.tempo.balanceOf(stack.payTo)
    const response = await tempoClient(payer).fetch(`${stack.url}/tempo/weather`)
    expect(response.status).toBe(200)
    expect(await stack.tempo.balanceOf(payer.address)).toBe(1_000_000n - 10_000n)
    expect(await stack.tempo.balanceOf(stack.payTo)).toBe(payToBefore + 10_000n)
    const receipt = decode(response.headers.get('payment-receipt'))
    expect(receipt).toMatchObject({ method: 'tempo', status: 'success' })
    const mined = await stack.tempo.getTransactionReceipt(receipt.reference as Hash)
    expect(mined.status).toBe('success')
    expect(mined.from.toLowerCase()).toBe(payer.address.toLowerCase())
  })

  test('behavior: /tempo/unsponsored: the payee gets 10000 and the payer also pays its own fee in pathUSD', async () => {
    const challenge = (await fetch(`${stack.url}/tempo/unsponsored`)).headers.get('www-authenticate') ?? ''
    expect(decode(/request="([^"]+)"/.exec(challenge)?.[1] ?? null).methodDetails).toEqual({ chainId: 1337 })
    const payer = await stack.tempo.newPayer()
    const payToBefore = await stack.tempo.balanceOf(stack.payTo)
    const response = await tempoClient(payer).fetch(`${stack.url}/tempo/unsponsored`)
    expect(response.status).toBe(200)
    expect(await stack.tempo.balanceOf(stack.payTo)).toBe(payToBefore + 10_000n)
    expect(await stack.tempo.balanceOf(payer.address)).toBeLessThan(1_000_000n - 10_000n)
  })

  test('behavior: /tempo/auth: 401 without the app token; with it, the credential travels in Payment-Authorization and Authorization reaches the app', async () => {
    expect((await fetch(`${stack.url}/tempo/auth`)).status).toBe(401)
    const authorization = `Bearer ${appBearerToken}`
    const unpaid = await fetch(`${stack.url}/tempo/auth`, { headers: { authorization } })
    expect(unpaid.status).toBe(402)
    expect(unpaid.headers.get('www-authenticate')).toMatch(/, header="Payment-Authorization"$/)

    const payer = await stack.tempo.newPayer()
    const response = await tempoClient(payer).fetch(`${stack.url}/tempo/auth`, { headers: { authorization } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ authorization })
    const paid = stack.requests.to('/tempo/auth').at(-1)
    expect(paid?.headers['payment-authorization']).toMatch(/^Payment /)
    expect(await stack.tempo.balanceOf(payer.address)).toBe(1_000_000n - 10_000n)
  })

  test('error: a Tempo credential sent twice is refused the second time (mppx keeps a replay store)', async () => {
    const payer = await stack.tempo.newPayer()
    await tempoClient(payer).fetch(`${stack.url}/tempo/weather`)
    const credential = credentialsSentTo('/tempo/weather').at(-1)?.headers.authorization as string
    const replay = await fetch(`${stack.url}/tempo/weather`, { headers: { authorization: credential } })
    expect(replay.status).toBe(402)
    expect(replay.headers.get('payment-receipt')).toBeNull()
    expect(await stack.tempo.balanceOf(payer.address)).toBe(1_000_000n - 10_000n)
  })
})
