import { getAddress, type PublicClient, verifyTypedData } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test, vi } from 'vitest'
import { batchSettlement } from '../../src/evm/batchSettlement.js'
import { type EvmOptions, evm } from '../../src/evm/evm.js'
import type { BatchSettlementRequest } from '../../src/methods/BatchSettlement.js'
import type { Permit2Request } from '../../src/methods/Permit2.js'

// Anvil's first development key: public, never funded anywhere that matters.
const account = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const payTo = '0x209693bc6afc0c5328ba36faf03c514ef312287c'
const facilitator = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
const context = { url: 'https://api.example.com/report' }

// A chain reader whose payer has already approved Permit2 without limit (the e2e tests read anvil).
const approved = { readContract: async () => 2n ** 256n - 1n } as unknown as PublicClient
const signer = (options: Omit<EvmOptions, 'account'> = {}) => evm({ account, publicClient: approved, ...options })

function request(overrides: Partial<Permit2Request> = {}): Permit2Request {
  return {
    kind: 'permit2',
    chainId: 84532,
    token: usdc,
    proxy: 'exact',
    amount: 10_000n,
    to: payTo,
    deadlineAfterSeconds: 60,
    ...overrides,
  }
}

const permitTypes = (witness: readonly { name: string; type: string }[]) => ({
  PermitWitnessTransferFrom: [
    { name: 'permitted', type: 'TokenPermissions' },
    { name: 'spender', type: 'address' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
    { name: 'witness', type: 'Witness' },
  ],
  TokenPermissions: [
    { name: 'token', type: 'address' },
    { name: 'amount', type: 'uint256' },
  ],
  Witness: witness,
})

describe('evm(): Permit2 witness transfers', () => {
  test('behavior: signs PermitWitnessTransferFrom under the Permit2 domain, spender the exact proxy, a random nonce, the deadline from the offer', async () => {
    const payer = signer().methods.permit2
    const before = Math.floor(Date.now() / 1000)
    const proof = await payer?.pay(request(), context)
    if (!proof) throw new Error('no proof')
    const { permit2Authorization: auth } = proof
    expect(auth.spender).toBe('0x402085c248EeA27D92E8b30b2C58ed07f9E20001')
    expect(auth.witness).toEqual({ to: getAddress(payTo), validAfter: '0' })
    expect(Number(auth.deadline) - before).toBeGreaterThanOrEqual(60)
    expect(Number(auth.deadline) - before).toBeLessThanOrEqual(61)
    expect(BigInt(auth.nonce)).toBeGreaterThan(0n)
    const valid = await verifyTypedData({
      address: account.address,
      domain: { name: 'Permit2', chainId: 84532, verifyingContract: '0x000000000022D473030F116dDEE9F6B43aC78BA3' },
      types: permitTypes([
        { name: 'to', type: 'address' },
        { name: 'validAfter', type: 'uint256' },
      ]),
      primaryType: 'PermitWitnessTransferFrom',
      message: {
        permitted: { token: usdc, amount: 10_000n },
        spender: auth.spender,
        nonce: BigInt(auth.nonce),
        deadline: BigInt(auth.deadline),
        witness: { to: getAddress(payTo), validAfter: 0n },
      },
      signature: proof.signature,
    })
    expect(valid).toBe(true)
    const second = await payer?.pay(request(), context)
    expect(second?.permit2Authorization.nonce).not.toBe(auth.nonce)
  })

  test('behavior: upto signs the ceiling to the upto proxy, binding the facilitator in the witness', async () => {
    const proof = await signer().methods.permit2?.pay(request({ proxy: 'upto', amount: 50_000n, facilitator }), context)
    if (!proof) throw new Error('no proof')
    expect(proof.permit2Authorization.spender).toBe('0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002')
    expect(proof.permit2Authorization.witness).toEqual({
      to: getAddress(payTo),
      facilitator: getAddress(facilitator),
      validAfter: '0',
    })
    const { permit2Authorization: auth } = proof
    const valid = await verifyTypedData({
      address: account.address,
      domain: { name: 'Permit2', chainId: 84532, verifyingContract: '0x000000000022D473030F116dDEE9F6B43aC78BA3' },
      types: permitTypes([
        { name: 'to', type: 'address' },
        { name: 'facilitator', type: 'address' },
        { name: 'validAfter', type: 'uint256' },
      ]),
      primaryType: 'PermitWitnessTransferFrom',
      message: {
        permitted: { token: usdc, amount: 50_000n },
        spender: auth.spender,
        nonce: BigInt(auth.nonce),
        deadline: BigInt(auth.deadline),
        witness: { to: getAddress(payTo), facilitator: getAddress(facilitator), validAfter: 0n },
      },
      signature: proof.signature,
    })
    expect(valid).toBe(true)
  })

  test('policy: a deadline the server asks beyond an hour is capped at an hour', async () => {
    const before = Math.floor(Date.now() / 1000)
    const proof = await signer().methods.permit2?.pay(request({ deadlineAfterSeconds: 86_400 }), context)
    expect(Number(proof?.permit2Authorization.deadline) - before).toBeLessThanOrEqual(3601)
  })

  test.each<[string, Partial<Permit2Request>]>([
    ['a token that is not an address', { token: 'USDC' }],
    ['a recipient that is not an address', { to: 'merchant' }],
    ['the zero address as recipient', { to: '0x0000000000000000000000000000000000000000' }],
    ['the paying account as recipient', { to: account.address }],
    ['an amount of 0', { amount: 0n }],
    ['an upto request without a facilitator', { proxy: 'upto' }],
    ['a chain outside its networks', { chainId: 1 }],
  ])('error: refuses %s, and paying it anyway is PAYMENT_FAILED', async (_, overrides) => {
    const payer = signer({ networks: ['eip155:84532'] }).methods.permit2
    expect(payer?.refusal?.(request(overrides))).toBeTypeOf('string')
    await expect(payer?.pay(request(overrides), context)).rejects.toMatchObject({ code: 'PAYMENT_FAILED' })
  })

  test('behavior: an unlimited allowance is read once a minute, a finite one before every payment', async () => {
    const reader = (allowance: bigint) => {
      const reads: unknown[] = []
      const client = { readContract: async (call: unknown) => (reads.push(call), allowance) } as unknown as PublicClient
      return { reads, payer: signer({ publicClient: client }).methods.permit2 }
    }
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-12-01T12:00:00Z') })
    try {
      const unlimited = reader(2n ** 256n - 1n)
      await unlimited.payer?.pay(request(), context)
      await unlimited.payer?.pay(request(), context)
      expect(unlimited.reads).toHaveLength(1)
      vi.setSystemTime(Date.parse('2026-12-01T12:01:01Z'))
      await unlimited.payer?.pay(request(), context)
      expect(unlimited.reads).toHaveLength(2)

      const finite = reader(1_000_000n)
      await finite.payer?.pay(request(), context)
      await finite.payer?.pay(request(), context)
      expect(finite.reads).toHaveLength(2)
    } finally {
      vi.useRealTimers()
    }
  })

  test('policy: without a publicClient Permit2 offers are refused, saying what to do', () => {
    expect(evm({ account }).methods.permit2?.refusal?.(request())).toMatch(/evm\(\{ publicClient \}\)/)
  })

  test('policy: a publicClient bound to another chain refuses the offer; an unbound one is taken at its word', () => {
    const onBase = { ...approved, chain: { id: 8453 } } as unknown as PublicClient
    expect(signer({ publicClient: onBase }).methods.permit2?.refusal?.(request())).toBe(
      'the publicClient reads eip155:8453',
    )
    expect(signer({ publicClient: onBase }).methods.permit2?.refusal?.(request({ chainId: 8453 }))).toBeUndefined()
    expect(signer().methods.permit2?.refusal?.(request())).toBeUndefined()
  })

  test('policy: a Permit2 channel deposit is refused the same way: no publicClient, or one bound to another chain', () => {
    const deposit: BatchSettlementRequest = {
      kind: 'batch-settlement',
      chainId: 84532,
      token: usdc,
      depositMethod: { kind: 'permit2' },
      receiver: payTo,
      receiverAuthorizer: facilitator,
      withdrawDelay: 900,
      amount: 1_000n,
      validForSeconds: 60,
    }
    const refusal = (publicClient?: PublicClient) =>
      evm({ account, publicClient, batchSettlement: batchSettlement() }).methods['batch-settlement']?.refusal?.(deposit)
    expect(refusal()).toMatch(/evm\(\{ publicClient \}\)/)
    expect(refusal({ ...approved, chain: { id: 8453 } } as unknown as PublicClient)).toBe(
      'the publicClient reads eip155:8453',
    )
    expect(refusal(approved)).toBeUndefined()
    // A deposit through EIP-3009 reads nothing.
    expect(
      evm({ account, batchSettlement: batchSettlement() }).methods['batch-settlement']?.refusal?.({
        ...deposit,
        depositMethod: { kind: 'eip3009', tokenDomain: { name: 'USDC', version: '2' } },
      }),
    ).toBeUndefined()
  })

  test('error: approvePermit2 without a publicClient, or from another account, is INVALID_OPTIONS', () => {
    const other = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
    const wallet = { account: other } as never
    expect(() => evm({ account, approvePermit2: { wallet } })).toThrow(/approvePermit2/)
  })
})
