import fc from 'fast-check'
import {
  bytesToHex,
  getAddress,
  type Hex,
  hashTypedData,
  recoverTypedDataAddress,
  type TypedDataDefinition,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { authorizationFields } from '../../src/evm/eip3009.js'
import { evm, privateKeyAccount } from '../../src/evm/index.js'
import { typedDataDigest } from '../../src/evm/typedDataDigest.js'
import { thrownPayfetchError } from '../support/thrown.js'

// payfetch's own EIP-712 digest (cached domain separators, flat structs encoded by hand) must be
// viem's hashTypedData, bit for bit, and fall back to it for anything else.
const transferTypes = { TransferWithAuthorization: authorizationFields } as const

const word = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((value) => bytesToHex(value))
const address = word(20).map((value) => getAddress(value))
const uint256 = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n })
const domain = fc.record({
  name: fc.string({ maxLength: 12 }),
  version: fc.constantFrom('1', '2'),
  chainId: fc.constantFrom(1, 8453, 84532),
  verifyingContract: address,
})
const authorization = fc.record({
  from: address,
  to: address,
  value: uint256,
  validAfter: uint256,
  validBefore: uint256,
  nonce: word(32),
})
const transfer = (parameters: { domain: object; message: object }) =>
  ({ ...parameters, types: transferTypes, primaryType: 'TransferWithAuthorization' }) as unknown as TypedDataDefinition

describe('typedDataDigest', () => {
  test('behavior: an EIP-3009 authorization hashes as viem hashes it, for fresh and remembered domains alike', () => {
    fc.assert(
      fc.property(domain, authorization, authorization, (domain, first, second) => {
        for (const message of [first, second]) {
          const request = transfer({ domain, message })
          expect(typedDataDigest(request)).toBe(hashTypedData(request))
        }
      }),
      { numRuns: 200 },
    )
  })

  test('behavior: flat structs of every static word type (uintN, bool, bytes32, address) hash as viem hashes them', () => {
    const types = {
      Mixed: [
        { name: 'small', type: 'uint8' },
        { name: 'flag', type: 'bool' },
        { name: 'owner', type: 'address' },
        { name: 'id', type: 'bytes32' },
        { name: 'count', type: 'uint64' },
      ],
    } as const
    fc.assert(
      fc.property(
        domain,
        fc.record({
          small: fc.integer({ min: 0, max: 255 }),
          flag: fc.boolean(),
          owner: address,
          id: word(32),
          count: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        }),
        (domain, message) => {
          const request = { domain, types, primaryType: 'Mixed', message } as unknown as TypedDataDefinition
          expect(typedDataDigest(request)).toBe(hashTypedData(request))
          expect(typedDataDigest(request)).toBe(hashTypedData(request))
        },
      ),
      { numRuns: 100 },
    )
  })

  test('behavior: nested structs, strings and a caller-given EIP712Domain type go through viem: same digest', () => {
    const nested = {
      domain: { name: 'Permit2', chainId: 1, verifyingContract: '0x000000000022D473030F116dDEE9F6B43aC78BA3' },
      types: {
        TokenPermissions: [
          { name: 'token', type: 'address' },
          { name: 'amount', type: 'uint256' },
        ],
        Transfer: [
          { name: 'permitted', type: 'TokenPermissions' },
          { name: 'note', type: 'string' },
        ],
      },
      primaryType: 'Transfer',
      message: { permitted: { token: '0x036CbD53842c5426634e7929541eC2318f3dCF7e', amount: 5n }, note: 'hi' },
    } as unknown as TypedDataDefinition
    expect(typedDataDigest(nested)).toBe(hashTypedData(nested))
    const salted = {
      domain: { name: 'T', salt: `0x${'11'.repeat(32)}` },
      types: {
        EIP712Domain: [
          { name: 'name', type: 'string' },
          { name: 'salt', type: 'bytes32' },
        ],
        Ping: [{ name: 'at', type: 'uint256' }],
      },
      primaryType: 'Ping',
      message: { at: 1n },
    } as unknown as TypedDataDefinition
    expect(typedDataDigest(salted)).toBe(hashTypedData(salted))
  })

  test('error: values viem refuses (a uint256 past 2^256, a bad checksum, a short bytes32) throw viem’s own errors', () => {
    const base = {
      domain: { name: 'USD Coin', version: '2', chainId: 8453, verifyingContract: getAddress(`0x${'22'.repeat(20)}`) },
      message: {
        from: getAddress(`0x${'33'.repeat(20)}`),
        to: getAddress(`0x${'44'.repeat(20)}`),
        value: 1n,
        validAfter: 0n,
        validBefore: 10n,
        nonce: `0x${'55'.repeat(32)}`,
      },
    }
    typedDataDigest(transfer(base)) // the domain is remembered from here on
    for (const wrong of [
      { value: 2n ** 256n },
      { value: -1n },
      { to: '0x4444444444444444444444444444444444444444'.replace('4444', '4A44') },
      { nonce: `0x${'55'.repeat(31)}` },
    ]) {
      const request = transfer({ domain: base.domain, message: { ...base.message, ...wrong } })
      const viems = (() => {
        try {
          return hashTypedData(request)
        } catch (error) {
          return (error as Error).name
        }
      })()
      const ours = (() => {
        try {
          return typedDataDigest(request)
        } catch (error) {
          return (error as Error).name
        }
      })()
      expect(ours).toBe(viems)
    }
  })
})

describe('privateKeyAccount', () => {
  test('behavior: signs the very signature a viem account signs, and it recovers to the key’s address', async () => {
    const key = generatePrivateKey()
    const viems = privateKeyToAccount(key)
    const account = privateKeyAccount(key)
    expect(account.address).toBe(viems.address)
    await fc.assert(
      fc.asyncProperty(domain, authorization, async (domain, message) => {
        const request = transfer({ domain, message })
        const signature = await account.signTypedData(request)
        expect(signature).toBe(await viems.signTypedData(request))
        expect(await recoverTypedDataAddress({ ...request, signature } as never)).toBe(viems.address)
      }),
      { numRuns: 25 },
    )
    expect(await account.signMessage?.({ message: 'hello' })).toBe(await viems.signMessage({ message: 'hello' }))
    expect(evm({ account }).name).toBe('evm')
  })

  test('error: a malformed key is INVALID_OPTIONS, and the message never quotes the key', () => {
    for (const key of [
      `0x${'00'.repeat(32)}`,
      `0x${'ff'.repeat(32)}`,
      '0x1234',
      `${'ab'.repeat(32)}`,
      'not hex',
      undefined,
    ]) {
      const error = thrownPayfetchError(() => privateKeyAccount(key as Hex))
      expect(error.code).toBe('INVALID_OPTIONS')
      const shown = JSON.stringify([error.message, error.details, String(error.cause)])
      if (key && key.length > 20) expect(shown).not.toContain(key.slice(2, 22))
    }
  })
})
