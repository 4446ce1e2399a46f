// The Tempo signer against a real anvil in Tempo mode: the transaction it signs is read back with
// viem's own Tempo deserializer, and the memo is checked against mppx's own encoder. Nothing is
// broadcast: a signer only signs, the server sends.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient, decodeFunctionData, getAddress, type Hex, http, type LocalAccount, maxUint256 } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { mainnet } from 'viem/chains'
import { Abis, Transaction } from 'viem/tempo'
import { tempoModerato } from 'viem/tempo/chains'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { pathUsd, startTempoChain, type TempoChain, tempoChainId } from '../../examples/local-stack/tempoChain.js'
// mppx does not export its attribution encoder; the file itself is the reference.
import * as Attribution from '../../node_modules/mppx/dist/tempo/Attribution.js'
import type { TempoTransferRequest } from '../../src/index.js'
import type { Signer } from '../../src/signers/Signer.js'
import { attributionMemo } from '../../src/tempo/attributionMemo.js'
import { type TempoOptions, tempo } from '../../src/tempo/index.js'
import { transferCalls } from '../../src/tempo/transferCalls.js'
import { rejectedPayfetchError as failure, thrownPayfetchError } from '../support/thrown.js'

let chain: TempoChain

beforeAll(async () => {
  chain = await startTempoChain()
})

afterAll(async () => {
  await chain?.stop()
})

const local = `eip155:${tempoChainId}`
const payTo = '0x209693bc6afc0c5328ba36faf03c514ef312287c' // lower case, as a server may send it
// The charge draft's split recipients: upper-case hex, which carries no checksum.
const platform = '0xA1B2C3D4E5F6A1B2C3D4E5F6A1B2C3D4E5F6A1B2'
const affiliate = '0xC4D5E6F7A8B9C4D5E6F7A8B9C4D5E6F7A8B9C4D5'
const serverMemo = `0x${'ab'.repeat(32)}` as const
const token = getAddress(pathUsd)
const nowSeconds = () => Math.floor(Date.now() / 1000)
const context = { url: 'https://api.example.com/report' }

function request(overrides: Partial<TempoTransferRequest> = {}): TempoTransferRequest {
  return {
    kind: 'tempo-transfer',
    chainId: tempoChainId,
    token: pathUsd,
    to: payTo,
    amount: 10_000n,
    memo: { challengeId: 'tRLZjj7pG1l0SpKbRc8ege7FmmyQDoBu82d_8X6_wzU', realm: '127.0.0.1:43769' },
    feePayer: true,
    ...overrides,
  }
}

/** An account that records every transaction it is asked to sign: "nothing signed" is `signed.length === 0`. */
function spiedAccount(account: LocalAccount = privateKeyToAccount(generatePrivateKey())) {
  const signed: unknown[] = []
  const spied: LocalAccount = {
    ...account,
    signTransaction: (transaction, options) => {
      signed.push(transaction)
      return account.signTransaction(transaction, options)
    },
  }
  return { account: spied, signed }
}

/** A signer on the local Tempo chain, preparing through anvil. */
function localSigner(options: Partial<TempoOptions> = {}) {
  const { account, signed } = spiedAccount(options.account)
  const signer = tempo({ rpc: chain.getClient(), networks: [local], ...options, account })
  return { signer, account, signed }
}

const payerOf = (signer: Signer) => signer.methods['tempo-transfer']!

/** What a TIP-20 call does: function, recipient, amount and memo. */
function describeCall(call: { to?: string | null | undefined; data?: Hex | undefined }) {
  const { functionName, args } = decodeFunctionData({ abi: Abis.tip20, data: call.data as Hex })
  const [to, amount, memo] = args as readonly [string, bigint, Hex?]
  return { token: getAddress(call.to as string), functionName, to, amount, ...(memo === undefined ? {} : { memo }) }
}

describe('tempo(): options', () => {
  const account = privateKeyToAccount(generatePrivateKey())

  test('error: an account that is not a viem LocalAccount is INVALID_OPTIONS', () => {
    const accounts: unknown[] = [
      undefined,
      account.address,
      { address: account.address, type: 'json-rpc' },
      { ...account, signTransaction: undefined },
      { ...account, address: '0x1234' },
    ]
    for (const candidate of accounts) {
      const error = thrownPayfetchError(() => tempo({ account: candidate as LocalAccount }))
      expect(error.code).toBe('INVALID_OPTIONS')
    }
    expect(thrownPayfetchError(() => tempo(undefined as unknown as TempoOptions)).code).toBe('INVALID_OPTIONS')
  })

  test('error: networks, rpc and maxFee that do not fit are INVALID_OPTIONS, each with its reason', () => {
    const client = chain.getClient()
    const cases: Omit<TempoOptions, 'account'>[] = [
      { networks: [] },
      { networks: ['tempo'] },
      { networks: ['eip155:0'] },
      { networks: [local] }, // no rpc: a local chain has no public RPC
      { rpc: 'ws://127.0.0.1:8545', networks: [local] },
      { rpc: 'http://127.0.0.1:8545', networks: [local, 'eip155:4217'] },
      { rpc: 'http://127.0.0.1:8545', networks: ['eip155:99999'] },
      { rpc: client }, // the client is on 1337, the default network is mainnet
      { rpc: { request: () => undefined } as never, networks: [local] },
      { rpc: createClient({ chain: mainnet, transport: http('http://127.0.0.1:1') }), networks: ['eip155:1'] },
      { maxFee: -1n },
      { maxFee: 1000 as never },
    ]
    const messages = cases.map((options) => {
      const error = thrownPayfetchError(() => tempo({ account, ...options }))
      expect(error.code).toBe('INVALID_OPTIONS')
      return error.shortMessage
    })
    expect(messages).toMatchInlineSnapshot(`
      [
        "tempo() networks must be EVM CAIP-2 ids such as eip155:4217.",
        "tempo() networks must be EVM CAIP-2 ids such as eip155:4217.",
        "tempo() networks must be EVM CAIP-2 ids such as eip155:4217.",
        "tempo(): eip155:1337 has no public RPC payfetch knows: pass rpc.",
        "tempo(): rpc must be an http(s) URL or a viem Client.",
        "tempo(): an rpc URL serves one chain: networks must name exactly one.",
        "tempo(): viem knows no Tempo chain eip155:99999: pass rpc as a viem Client with your Chain.",
        "tempo(): the client is on eip155:1337: networks must be ['eip155:1337'].",
        "tempo(): rpc must be a viem Client with a chain (createClient({ chain, transport })).",
        "tempo(): the client's chain is not a Tempo chain: build it from viem/tempo/chains or Tempo's chainConfig.",
        "tempo() maxFee must be a bigint of base units of the charge token, 0n or more.",
        "tempo() maxFee must be a bigint of base units of the charge token, 0n or more.",
      ]
    `)
  })

  test('behavior: usable shapes: mainnet by default, Moderato listed, an RPC URL for a chain viem knows, a Client', () => {
    const shapes: TempoOptions[] = [
      { account },
      { account, networks: ['eip155:4217', 'eip155:42431'] },
      { account, rpc: 'http://127.0.0.1:8545', networks: [local] },
      {
        account,
        rpc: createClient({ chain: tempoModerato, transport: http('http://127.0.0.1:1') }),
        networks: ['eip155:42431'],
      },
      { account, rpc: chain.getClient(), networks: [local], maxFee: 0n },
    ]
    for (const options of shapes) expect(tempo(options).name).toBe('tempo')
    // Mainnet only unless listed: a Moderato charge is refused by the default signer.
    expect(payerOf(tempo({ account })).refusal?.(request({ chainId: 42431 }))).toBe(
      "eip155:42431 is not one of this signer's networks",
    )
  })

  test('error: no key and no account internals appear in an options error', () => {
    const key = generatePrivateKey()
    const keyed = privateKeyToAccount(key)
    const error = thrownPayfetchError(() => tempo({ account: keyed, networks: ['nope'] }))
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(key.slice(2))
  })
})

describe('tempo(): refusals, before any I/O', () => {
  test('policy: each request it cannot pay is refused by name', () => {
    const { signer, account } = localSigner()
    const cases: [string, Partial<TempoTransferRequest>][] = [
      ['recipient the zero address', { to: '0x0000000000000000000000000000000000000000' }],
      ['recipient the payer', { to: account.address }],
      ['split recipient the payer', { splits: [{ to: account.address, amount: 1n }] }],
      ['another chain', { chainId: 4217 }],
      ['token not an address', { token: 'pathUSD' }],
      ['recipient with a bad checksum', { to: getAddress(payTo).replace(/[a-f]/, (letter) => letter.toUpperCase()) }],
      ['recipient not an address', { to: '0x1234' }],
      ['amount zero', { amount: 0n }],
      ['amount above uint256', { amount: maxUint256 + 1n }],
      ['split recipient', { splits: [{ to: 'nobody', amount: 1n }] }],
      ['split amount zero', { splits: [{ to: platform, amount: 0n }] }],
      ['split memo', { splits: [{ to: platform, amount: 1n, memo: '0x1234' }] }],
      [
        'splits take everything',
        {
          splits: [
            { to: platform, amount: 6_000n },
            { to: affiliate, amount: 4_000n },
          ],
        },
      ],
      ['server memo not bytes32', { memo: '0xabcd' }],
      ['challenge memo without a realm', { memo: { challengeId: 'id', realm: '' } }],
      ['expired', { validBefore: nowSeconds() - 60 }],
      ['valid until not a whole second', { validBefore: nowSeconds() + 60.5 }],
    ]
    const reasons = cases.map(([name, overrides]) => [name, payerOf(signer).refusal?.(request(overrides))])
    expect(reasons).toMatchInlineSnapshot(`
      [
        [
          "recipient the zero address",
          "the recipient is the zero address",
        ],
        [
          "recipient the payer",
          "the recipient is the paying account itself",
        ],
        [
          "split recipient the payer",
          "a split recipient is the paying account itself",
        ],
        [
          "another chain",
          "eip155:4217 is not one of this signer's networks",
        ],
        [
          "token not an address",
          "the token is not an address",
        ],
        [
          "recipient with a bad checksum",
          "the recipient is not an address",
        ],
        [
          "recipient not an address",
          "the recipient is not an address",
        ],
        [
          "amount zero",
          "the amount is not a uint256 above 0",
        ],
        [
          "amount above uint256",
          "the amount is not a uint256 above 0",
        ],
        [
          "split recipient",
          "a split recipient is not an address",
        ],
        [
          "split amount zero",
          "a split amount is not above 0",
        ],
        [
          "split memo",
          "a split memo is not bytes32",
        ],
        [
          "splits take everything",
          "the splits leave the primary recipient nothing",
        ],
        [
          "server memo not bytes32",
          "the memo is neither bytes32 nor a challenge id and realm",
        ],
        [
          "challenge memo without a realm",
          "the memo is neither bytes32 nor a challenge id and realm",
        ],
        [
          "expired",
          "the challenge has expired",
        ],
        [
          "valid until not a whole second",
          "validBefore is not a Unix time in whole seconds",
        ],
      ]
    `)
    // What it can pay: a server memo, splits that leave a remainder, a challenge valid for a while.
    const payable = request({
      memo: serverMemo,
      splits: [{ to: platform, amount: 9_999n }],
      validBefore: nowSeconds() + 300,
    })
    expect(payerOf(signer).refusal?.(payable)).toBeUndefined()
  })

  test('error: pay() on a refused request is PAYMENT_FAILED and signs nothing', async () => {
    const { signer, signed } = localSigner()
    const error = await failure(payerOf(signer).pay(request({ validBefore: nowSeconds() - 1 }), context))
    expect(error).toMatchObject({ code: 'PAYMENT_FAILED', details: { network: local } })
    expect(error.shortMessage).toBe('The tempo signer cannot pay this offer: the challenge has expired.')
    expect(signed).toHaveLength(0)
  })

  test('policy: maxFee is the fee limit for unsponsored charges and 0 for sponsored ones', () => {
    expect(payerOf(localSigner().signer).maxFee?.(request({ feePayer: false }))).toBe(10_000n)
    expect(payerOf(localSigner().signer).maxFee?.(request({ feePayer: true }))).toBe(0n)
    expect(payerOf(localSigner({ maxFee: 2_500n }).signer).maxFee?.(request({ feePayer: false }))).toBe(2_500n)
  })
})

describe('tempo(): the calls and the memo', () => {
  test("behavior: the attribution memo is byte for byte mppx's own (Attribution.encode, anonymous client)", () => {
    const cases = [
      { challengeId: 'tRLZjj7pG1l0SpKbRc8ege7FmmyQDoBu82d_8X6_wzU', realm: '127.0.0.1:43769' },
      { challengeId: 'challenge-123', realm: 'api.example.com' },
      { challengeId: 'é', realm: 'ünïcode.example' },
    ]
    for (const binding of cases) {
      const memo = attributionMemo(binding)
      expect(memo).toBe(Attribution.encode({ challengeId: binding.challengeId, serverId: binding.realm }))
      expect(Attribution.verifyServer(memo, binding.realm)).toBe(true)
      expect(Attribution.verifyChallengeBinding(memo, binding.challengeId)).toBe(true)
      expect(Attribution.decode(memo)?.clientFingerprint).toBeNull()
    }
  })

  test('behavior: with splits, the primary recipient gets the remainder with the memo; each split its own call, transferWithMemo only with a memo', () => {
    const calls = transferCalls(
      request({
        amount: 1_000_000n,
        memo: serverMemo,
        splits: [
          { to: platform, amount: 50_000n },
          { to: affiliate, amount: 10_000n, memo: `0x${'00'.repeat(28)}deadbeef` },
        ],
      }),
    )
    expect(calls.map(describeCall)).toEqual([
      { token, functionName: 'transferWithMemo', to: getAddress(payTo), amount: 940_000n, memo: serverMemo },
      { token, functionName: 'transfer', to: getAddress(platform), amount: 50_000n },
      {
        token,
        functionName: 'transferWithMemo',
        to: getAddress(affiliate),
        amount: 10_000n,
        memo: `0x${'00'.repeat(28)}deadbeef`,
      },
    ])
  })

  test('behavior: without a server memo the primary transfer carries the attribution memo of the challenge', () => {
    const binding = { challengeId: 'abc', realm: 'api.example.com' }
    const [primary] = transferCalls(request({ memo: binding }))
    expect(describeCall(primary!)).toMatchObject({ functionName: 'transferWithMemo', memo: attributionMemo(binding) })
  })
})

describe('tempo(): the signed transaction, prepared by anvil in Tempo mode', () => {
  test('behavior: sponsored: a fee-payer transaction (0x78) from the payer, no fee token, an expiring nonce, validBefore within 25 s and the challenge', async () => {
    const { signer, account, signed } = localSigner()
    const before = nowSeconds()
    const proof = await payerOf(signer).pay(request({ feePayer: true, validBefore: before + 300 }), context)
    const after = nowSeconds()
    expect(proof.kind).toBe('tempo-transfer')
    expect(proof.payer).toBe(getAddress(account.address))
    expect(proof.transaction.startsWith('0x78')).toBe(true)
    expect(signed).toHaveLength(1)

    const transaction = Transaction.deserialize(proof.transaction as Transaction.TransactionSerializedTempo)
    expect(transaction.from?.toLowerCase()).toBe(account.address.toLowerCase())
    expect(transaction.chainId).toBe(tempoChainId)
    expect(transaction.nonceKey).toBe(maxUint256)
    expect(transaction.nonce).toBe(0)
    expect(transaction.feeToken).toBeUndefined()
    expect(transaction.validBefore).toBeGreaterThanOrEqual(before + 25)
    expect(transaction.validBefore).toBeLessThanOrEqual(after + 25)
    expect(transaction.calls?.map(describeCall)).toEqual([
      {
        token,
        functionName: 'transferWithMemo',
        to: getAddress(payTo),
        amount: 10_000n,
        memo: attributionMemo(request().memo as { challengeId: string; realm: string }),
      },
    ])
  })

  test('behavior: unsponsored: a Tempo transaction (0x76) paying its fee in the charge token, within maxFee; a challenge expiring sooner bounds validBefore', async () => {
    const { signer } = localSigner()
    const validBefore = nowSeconds() + 10
    const proof = await payerOf(signer).pay(request({ feePayer: false, validBefore }), context)
    expect(proof.transaction.startsWith('0x76')).toBe(true)
    const transaction = Transaction.deserialize(proof.transaction as Transaction.TransactionSerializedTempo)
    expect(String(transaction.feeToken).toLowerCase()).toBe(pathUsd)
    expect(transaction.validBefore).toBe(validBefore)
    // The most this transaction can cost, in pathUSD base units (gas is priced in 10^-18 USD).
    const fee = ((transaction.gas ?? 0n) * (transaction.maxFeePerGas ?? 0n) + 10n ** 12n - 1n) / 10n ** 12n
    expect(fee).toBeGreaterThan(0n)
    expect(fee).toBeLessThanOrEqual(10_000n)
  })

  test('policy: an unsponsored charge whose prepared fee could exceed maxFee is PAYMENT_FAILED and nothing is signed', async () => {
    const { signer, signed } = localSigner({ maxFee: 1n })
    const error = await failure(payerOf(signer).pay(request({ feePayer: false }), context))
    expect(error.code).toBe('PAYMENT_FAILED')
    expect(error.shortMessage).toMatch(
      /^The network fee could reach \d+ base units, above the tempo signer's maxFee of 1\.$/,
    )
    expect(BigInt(error.details.fee as string)).toBeGreaterThan(1n)
    expect(error.details).toMatchObject({ maxFee: '1', network: local })
    expect(signed).toHaveLength(0)
    // The same limit does not stop a sponsored charge: the server pays that fee.
    expect((await payerOf(signer).pay(request({ feePayer: true }), context)).kind).toBe('tempo-transfer')
  })
})

describe('tempo(): failures before signing', () => {
  let server: Server
  let rpcUrl: string
  let onRequest: () => void = () => {}

  beforeAll(async () => {
    // An RPC that answers nothing: the test decides what happens while a request is in flight.
    server = createServer((incoming) => {
      incoming.resume()
      onRequest()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    rpcUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  test('error: a signal aborted while the transaction is prepared rejects with its reason; nothing is signed', async () => {
    const { account, signed } = spiedAccount()
    const signer = tempo({ account, rpc: rpcUrl, networks: [local] })
    const controller = new AbortController()
    const reason = new Error('caller gave up')
    onRequest = () => controller.abort(reason)
    await expect(payerOf(signer).pay(request(), { ...context, signal: controller.signal })).rejects.toBe(reason)
    expect(signed).toHaveLength(0)
  })

  test('error: a signal aborted before pay() sends no RPC request and signs nothing', async () => {
    const { account, signed } = spiedAccount()
    const signer = tempo({ account, rpc: rpcUrl, networks: [local] })
    let requests = 0
    onRequest = () => requests++
    const signal = AbortSignal.abort(new Error('already gone'))
    await expect(payerOf(signer).pay(request(), { ...context, signal })).rejects.toThrow('already gone')
    expect(requests).toBe(0)
    expect(signed).toHaveLength(0)
  })

  test('error: an RPC that cannot prepare the transaction is PAYMENT_FAILED with the cause; nothing is signed', async () => {
    const { account, signed } = spiedAccount()
    // A closed port refuses the connection at once; no retries, so the test does not wait for them.
    const rpc = createClient({ chain: chain.chain, transport: http('http://127.0.0.1:1', { retryCount: 0 }) })
    const signer = tempo({ account, rpc, networks: [local] })
    const error = await failure(payerOf(signer).pay(request(), context))
    expect(error).toMatchObject({
      code: 'PAYMENT_FAILED',
      shortMessage: 'The Tempo transaction could not be prepared.',
    })
    expect(error.cause).toBeInstanceOf(Error)
    expect(signed).toHaveLength(0)
  })
})
