import {
  type Address,
  createWalletClient,
  custom,
  getAddress,
  type Hex,
  http,
  type LocalAccount,
  verifyTypedData,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { base, baseSepolia } from 'viem/chains'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { PayfetchError } from '../../src/errors/PayfetchError.js'
import { type EvmOptions, evm } from '../../src/evm/evm.js'
import type { Eip3009Proof, Eip3009Request } from '../../src/methods/Eip3009.js'
import { decodeX402 } from '../../src/protocols/x402/decode.js'
import type { Signer } from '../../src/signers/Signer.js'
import { encodeBase64Json } from '../../src/utils/base64.js'
import { transferWithAuthorizationTypes } from '../support/eip3009.js'

// Anvil's first development key: public, never funded anywhere that matters.
const account = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const payTo = '0x209693bc6afc0c5328ba36faf03c514ef312287c' // lower case on the wire: the signed `to` is checksummed
const now = 1_750_000_000

// Compile-time checks (`tsc` type-checks tests): what viem hands out fits the option without a cast.
const localAccount: LocalAccount = account
const walletClient: WalletClient = createWalletClient({
  account,
  chain: baseSepolia,
  transport: http('http://127.0.0.1:1'),
})
const jsonRpcClient = createWalletClient({ account: account.address, transport: http('http://127.0.0.1:1') })
const accountOptions: EvmOptions['account'][] = [
  localAccount,
  walletClient,
  account,
  jsonRpcClient,
  createWalletClient({ account, transport: http('http://127.0.0.1:1') }),
]
void accountOptions

const transferWithAuthorization = transferWithAuthorizationTypes

function request(overrides: Partial<Eip3009Request> = {}): Eip3009Request {
  return {
    kind: 'eip3009',
    chainId: 84532,
    token: usdc,
    domain: { name: 'USDC', version: '2' },
    to: payTo,
    value: 10_000n,
    validBefore: { afterSeconds: 60 },
    nonce: 'random',
    ...overrides,
  }
}

const context = { url: 'https://api.example.com/report' }

const payerOf = (signer: Signer) => signer.methods.eip3009!

async function pay(signer: Signer, paid: Eip3009Request = request()): Promise<Eip3009Proof> {
  const proof = await payerOf(signer).pay(paid, context)
  expect(proof.payer).toBe(account.address)
  return proof
}

const canPay = (signer: Signer, paid: Eip3009Request) => payerOf(signer).refusal?.(paid) === undefined

/** Whether the payload's signature verifies for `chainId` under the token's EIP-712 domain. */
function verifies(
  payload: Eip3009Proof,
  domain: { name: string; version: string; chainId: number; verifyingContract: Address },
): Promise<boolean> {
  const { authorization } = payload
  return verifyTypedData({
    address: account.address,
    domain,
    types: transferWithAuthorization,
    primaryType: 'TransferWithAuthorization',
    message: {
      from: authorization.from,
      to: authorization.to,
      value: BigInt(authorization.value),
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
      nonce: authorization.nonce,
    },
    signature: payload.signature,
  })
}

const domain = { name: 'USDC', version: '2', chainId: 84532, verifyingContract: usdc } as const

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(now * 1000)
})

afterEach(() => {
  vi.useRealTimers()
})

describe('evm', () => {
  test('behavior: every random nonce is 32 bytes and new, across refills of the nonce pool', async () => {
    const signer = evm({ account: { address: account.address, signTypedData: async () => '0x00' as const } })
    const nonces = new Set<string>()
    for (let index = 0; index < 150; index++) nonces.add((await pay(signer)).authorization.nonce)
    expect(nonces.size).toBe(150)
    for (const nonce of nonces) expect(nonce).toMatch(/^0x[0-9a-f]{64}$/)
  })

  test('behavior: signs an EIP-3009 TransferWithAuthorization that verifies under the token’s EIP-712 domain', async () => {
    const payload = await pay(evm({ account }))
    expect(payload.signature).toMatch(/^0x[0-9a-f]{130}$/)
    expect(await verifies(payload, domain)).toBe(true)
    // The same signature must not verify for another domain: the domain is really bound.
    expect(await verifies(payload, { ...domain, chainId: 8453 })).toBe(false)
    expect(await verifies(payload, { ...domain, name: 'USD Coin' })).toBe(false)
    expect(
      await verifies(payload, { ...domain, verifyingContract: '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' }),
    ).toBe(false)
  })

  test('behavior: the authorization pays payTo the exact amount, as strings, with a fresh 32-byte nonce', async () => {
    const signer = evm({ account })
    const first = await pay(signer)
    const second = await pay(signer)
    expect({ ...first.authorization, nonce: '<nonce>' }).toStrictEqual({
      from: account.address,
      to: getAddress(payTo),
      value: '10000',
      validAfter: '0',
      validBefore: String(now + 60),
      nonce: '<nonce>',
    })
    expect(first.authorization.nonce).toMatch(/^0x[0-9a-f]{64}$/)
    expect(second.authorization.nonce).toMatch(/^0x[0-9a-f]{64}$/)
    expect(second.authorization.nonce).not.toBe(first.authorization.nonce)
    expect(second.signature).not.toBe(first.signature)
  })

  test('behavior: amounts beyond Number.MAX_SAFE_INTEGER are signed exactly', async () => {
    const amount = 2n ** 256n - 1n
    const payload = await pay(evm({ account }), request({ value: amount }))
    expect(payload.authorization.value).toBe(amount.toString())
    expect(await verifies(payload, domain)).toBe(true)
  })

  test('behavior: validAfter is 0 unless the request starts the window back (x402 v1: ten minutes)', async () => {
    const signer = evm({ account })
    expect((await pay(signer, request())).authorization.validAfter).toBe('0')
    const v1 = await pay(signer, request({ validAfterSeconds: 600 }))
    expect(v1.authorization.validAfter).toBe(String(now - 600))
    expect(await verifies(v1, domain)).toBe(true)
  })

  test('behavior: validBefore is now + the request’s seconds, or its Unix time, at most an hour from now', async () => {
    const signer = evm({ account })
    const validBefore = async (until: Eip3009Request['validBefore']) =>
      (await pay(signer, request({ validBefore: until }))).authorization.validBefore
    expect(await validBefore({ afterSeconds: 300 })).toBe(String(now + 300))
    expect(await validBefore({ afterSeconds: 3600 })).toBe(String(now + 3600))
    expect(await validBefore({ afterSeconds: 3601 })).toBe(String(now + 3600))
    expect(await validBefore({ afterSeconds: 10 ** 9 })).toBe(String(now + 3600))
    expect(await validBefore({ at: now + 120 })).toBe(String(now + 120))
    expect(await validBefore({ at: now + 7200 })).toBe(String(now + 3600))
  })

  test('behavior: a keccak256 nonce rule signs keccak256 of the UTF-8 text (the Payment evm charge)', async () => {
    const signer = evm({ account })
    const text = 'SkJ8n9NApBRHO1uFDjAS46HosT-YDacAUCu38vfce9g127.0.0.1:43769'
    const proof = await pay(signer, request({ nonce: { keccak256Of: text } }))
    // The nonce mpp-wire.md recomputed for this challenge id and realm.
    expect(proof.authorization.nonce).toBe('0x375ff76659cba2add90ff285521362e1e450f6f6cf9ff05960c123468ffcf5fb')
    expect(await verifies(proof, domain)).toBe(true)
  })

  test('behavior: pays an offer decoded from a real x402 v2 challenge', async () => {
    const accepted = {
      scheme: 'exact',
      network: 'eip155:84532',
      amount: '10000',
      asset: usdc,
      payTo,
      maxTimeoutSeconds: 120,
      extra: { name: 'USDC', version: '2' },
    }
    const [decoded] = decodeX402({
      url: context.url,
      headers: new Headers({ 'PAYMENT-REQUIRED': encodeBase64Json({ x402Version: 2, accepts: [accepted] }) }),
      body: '{}',
    })
    const signer = evm({ account, networks: ['eip155:84532'] })
    expect(decoded?.method?.kind).toBe('eip3009')
    const method = decoded!.method as Eip3009Request
    expect(canPay(signer, method)).toBe(true)
    const payload = await pay(signer, method)
    expect(payload.authorization.validBefore).toBe(String(now + 120))
    expect(await verifies(payload, domain)).toBe(true)
  })

  test('behavior: declares the eip3009 and permit2 methods, and accepts a well-formed request (the baseline of the refusals below)', () => {
    const signer = evm({ account })
    expect(signer.name).toBe('evm')
    expect(Object.keys(signer.methods)).toEqual(['eip3009', 'permit2'])
    expect(canPay(signer, request())).toBe(true)
    expect(canPay(signer, request({ chainId: 31337 }))).toBe(true)
  })

  test.each<[string, Partial<Eip3009Request>]>([
    ['a chain id of 0', { chainId: 0 }],
    ['an unsafe chain id', { chainId: 2 ** 53 }],
    ['a token that is not an address', { token: 'USDC' }],
    ['a short token address', { token: usdc.slice(0, 41) }],
    ['a recipient that is not an address', { to: 'merchant' }],
    ['a recipient with trailing junk', { to: `${payTo}00` }],
    ['the zero address as recipient', { to: '0x0000000000000000000000000000000000000000' }],
    ['the paying account as recipient', { to: account.address }],
    ['the paying account, lower-cased, as recipient', { to: account.address.toLowerCase() }],
    ['an amount of 2^256', { value: 2n ** 256n }],
    ['an amount of 0', { value: 0n }],
  ])('behavior: refuses %s, and paying it anyway is PAYMENT_FAILED', async (_, overrides) => {
    const signer = evm({ account })
    expect(canPay(signer, request(overrides))).toBe(false)
    await expect(payerOf(signer).pay(request(overrides), context)).rejects.toMatchObject({ code: 'PAYMENT_FAILED' })
  })

  test('policy: with networks, only those networks can be paid', () => {
    const signer = evm({ account, networks: ['eip155:8453'] })
    expect(canPay(signer, request({ chainId: 8453 }))).toBe(true)
    expect(canPay(signer, request({ chainId: 84532 }))).toBe(false)
    expect(canPay(evm({ account, networks: [] }), request())).toBe(false)
  })

  test('error: paying a request it cannot pay is PAYMENT_FAILED and signs nothing', async () => {
    const signTypedData = vi.fn(account.signTypedData)
    const signer = evm({ account: { address: account.address, signTypedData } })
    const error = await payerOf(signer)
      .pay(request({ to: 'merchant' }), context)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(PayfetchError)
    expect((error as PayfetchError).message).toMatchInlineSnapshot(
      `"[PAYMENT_FAILED] The evm signer cannot pay this offer: the recipient is not an address."`,
    )
    expect(signTypedData).not.toHaveBeenCalled()
  })
})

describe('evm: accounts', () => {
  test('behavior: works with a viem WalletClient whose local account signs without RPC', async () => {
    const client = createWalletClient({ account, chain: baseSepolia, transport: http('http://127.0.0.1:1') })
    const signer = evm({ account: client })
    expect(canPay(signer, request())).toBe(true)
    const payload = await pay(signer)
    expect(await verifies(payload, domain)).toBe(true)
  })

  test('policy: a WalletClient bound to a chain refuses offers on other chains', async () => {
    const signer = evm({ account: createWalletClient({ account, chain: base, transport: http('http://127.0.0.1:1') }) })
    expect(canPay(signer, request({ chainId: 8453 }))).toBe(true)
    expect(canPay(signer, request({ chainId: 84532 }))).toBe(false)
    await expect(payerOf(signer).pay(request({ chainId: 84532 }), context)).rejects.toMatchObject({
      code: 'PAYMENT_FAILED',
    })
  })

  test('policy: networks cannot widen a WalletClient beyond its own chain', () => {
    const client = createWalletClient({ account, chain: base, transport: http('http://127.0.0.1:1') })
    const signer = evm({ account: client, networks: ['eip155:8453', 'eip155:84532'] })
    expect([canPay(signer, request({ chainId: 8453 })), canPay(signer, request({ chainId: 84532 }))]).toEqual([
      true,
      false,
    ])
    expect(canPay(evm({ account: client, networks: ['eip155:84532'] }), request({ chainId: 8453 }))).toBe(false)
  })

  test('behavior: a WalletClient without a chain can pay on any EVM chain', () => {
    const signer = evm({ account: createWalletClient({ account, transport: http('http://127.0.0.1:1') }) })
    expect([canPay(signer, request({ chainId: 8453 })), canPay(signer, request({ chainId: 84532 }))]).toEqual([
      true,
      true,
    ])
  })

  test('behavior: a WalletClient with a JSON-RPC account asks its wallet with eth_signTypedData_v4', async () => {
    const requests: { method: string; params: unknown }[] = []
    const walletSignature = `0x${'1b'.repeat(65)}` as const
    const transport = custom({
      request: async ({ method, params }: { method: string; params: unknown }) => {
        requests.push({ method, params })
        if (method === 'eth_signTypedData_v4') return walletSignature
        throw new Error(`unexpected ${method}`)
      },
    })
    const signer = evm({ account: createWalletClient({ account: account.address, chain: baseSepolia, transport }) })
    const payload = await pay(signer)
    expect(payload.signature).toBe(walletSignature)
    expect(requests.map((request) => request.method)).toEqual(['eth_signTypedData_v4'])
    const [address, typedData] = requests[0]!.params as [string, string]
    expect(address).toBe(account.address)
    // viem serialises addresses in lower case for the wallet.
    expect(JSON.parse(typedData)).toMatchObject({
      domain: { name: 'USDC', version: '2', chainId: 84532, verifyingContract: usdc.toLowerCase() },
      primaryType: 'TransferWithAuthorization',
      message: {
        from: account.address.toLowerCase(),
        to: payTo,
        value: '10000',
        validAfter: '0',
        validBefore: String(now + 60),
        nonce: payload.authorization.nonce,
      },
    })
  })

  test('behavior: works with a structural { address, signTypedData } account', async () => {
    const requests: unknown[] = []
    const structural = {
      address: account.address,
      signTypedData: async (parameters: Parameters<typeof account.signTypedData>[0]): Promise<Hex> => {
        requests.push(parameters)
        return account.signTypedData(parameters)
      },
    }
    const payload = await pay(evm({ account: structural }))
    expect(await verifies(payload, domain)).toBe(true)
    expect(requests).toHaveLength(1)
    expect(requests[0]).toMatchObject({
      domain: { name: 'USDC', version: '2', chainId: 84532, verifyingContract: usdc },
      primaryType: 'TransferWithAuthorization',
    })
  })

  test('error: an account without address or signTypedData is INVALID_OPTIONS', () => {
    const error = (() => {
      try {
        evm({ account: {} as never })
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(PayfetchError)
    expect({ code: (error as PayfetchError).code, message: (error as PayfetchError).message }).toMatchInlineSnapshot(`
      {
        "code": "INVALID_OPTIONS",
        "message": "[INVALID_OPTIONS] evm() needs an account with an address and signTypedData (a viem LocalAccount or a WalletClient with an account).",
      }
    `)
  })

  test.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a private key string', '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'],
    ['an address without signTypedData', { address: account.address }],
    ['a malformed address', { address: '0x1234', signTypedData: account.signTypedData }],
    ['a WalletClient without an account', createWalletClient({ chain: base, transport: http('http://127.0.0.1:1') })],
  ])('error: %s as the account is INVALID_OPTIONS', (_, value) => {
    expect(() => evm({ account: value as never })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
  })
})
