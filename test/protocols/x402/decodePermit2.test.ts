import { describe, expect, test } from 'vitest'
import { x402Permit2 } from '../../../src/evm/x402Permit2.js'
import type { Permit2Proof } from '../../../src/methods/Permit2.js'
import type { Response402 } from '../../../src/protocols/Protocol.js'
import { decodeX402 } from '../../../src/protocols/x402/decode.js'
import { x402 } from '../../../src/protocols/x402/index.js'
import { readSettlement } from '../../../src/protocols/x402/settlement.js'
import { decodeBase64Json, encodeBase64Json } from '../../../src/utils/base64.js'

// Permit2 (`exact` with assetTransferMethod permit2, `upto`), read by the x402 variant `evm()`
// brings, and payment flows, read by every x402 decoder, in x402 v2 messages shaped as the x402 2.27
// reference server emits them (checked in test/e2e/x402-permit2.test.ts).
const decodePermit2 = (response: Response402) => x402Permit2.decode(response)
const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const payTo = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
const facilitator = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

function requirement(overrides: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    scheme: 'exact',
    network: 'eip155:84532',
    amount: '10000',
    asset: usdc,
    payTo,
    maxTimeoutSeconds: 90,
    extra: { name: 'USDC', version: '2', ...extra },
    ...overrides,
  }
}

function challenge(accepts: unknown[], extensions: Record<string, unknown> = {}): Response402 {
  const message = { x402Version: 2, resource: { url: 'https://api.example.com/r' }, accepts, extensions }
  return {
    url: 'https://api.example.com/r',
    headers: new Headers({ 'payment-required': encodeBase64Json(message) }),
    body: '{}',
  }
}

const sponsoredExtensions = {
  eip2612GasSponsoring: { info: { description: 'EIP-2612 approval sponsored', version: '1' }, schema: {} },
  erc20ApprovalGasSponsoring: { info: { description: 'approve() sponsored', version: '1' }, schema: {} },
}

describe('x402 as evm() reads it: Permit2 and upto', () => {
  test('behavior: the root decoder shows a Permit2 offer without a method (evm() reads it)', () => {
    const [offer] = decodeX402(challenge([requirement({}, { assetTransferMethod: 'permit2' })]))
    expect(offer?.method).toBeUndefined()
  })

  test('behavior: an exact entry with assetTransferMethod permit2 is a Permit2 request to the exact proxy, deadline from maxTimeoutSeconds', () => {
    const [offer] = decodePermit2(challenge([requirement({}, { assetTransferMethod: 'permit2' })]))
    expect(offer?.method).toEqual({
      kind: 'permit2',
      chainId: 84532,
      token: usdc,
      proxy: 'exact',
      amount: 10_000n,
      to: payTo,
      facilitator: undefined,
      deadlineAfterSeconds: 90,
      tokenDomain: { name: 'USDC', version: '2' },
      sponsoring: undefined,
    })
  })

  test('behavior: the gas-sponsoring extensions the server declares reach the request', () => {
    const [offer] = decodePermit2(challenge([requirement({}, { assetTransferMethod: 'permit2' })], sponsoredExtensions))
    expect(offer?.method).toMatchObject({ kind: 'permit2', sponsoring: ['eip2612', 'erc20Approval'] })
  })

  test('behavior: an upto entry is a Permit2 request for the ceiling, bound to the facilitator the server names', () => {
    const [offer] = decodePermit2(
      challenge([requirement({ scheme: 'upto', amount: '50000' }, { facilitatorAddress: facilitator })]),
    )
    expect(offer).toMatchObject({ scheme: 'upto', amount: 50_000n })
    expect(offer?.method).toMatchObject({ kind: 'permit2', proxy: 'upto', amount: 50_000n, facilitator })
  })

  test.each([
    ['no facilitatorAddress', {}],
    ['a facilitatorAddress that is not an address', { facilitatorAddress: 'facilitator' }],
    ['assetTransferMethod eip3009', { facilitatorAddress: facilitator, assetTransferMethod: 'eip3009' }],
  ])('behavior: an upto entry with %s is shown, never paid', (_, extra) => {
    const [offer] = decodePermit2(challenge([requirement({ scheme: 'upto' }, extra)]))
    expect(offer?.method).toBeUndefined()
  })
})

describe('decodeX402: payment flows', () => {
  test.each([
    ['upfront', 'upfront'],
    ['escrow', 'escrow'],
    ['authorization', 'authorization'],
  ] as const)('behavior: paymentFlow %s is carried on the offer', (_, flow) => {
    const [offer] = decodeX402(challenge([requirement({}, { paymentFlow: flow })]))
    expect(offer?.flow).toBe(flow)
    expect(offer?.method?.kind).toBe('eip3009')
  })

  test('behavior: without paymentFlow the offer names none (authorization)', () => {
    const [offer] = decodeX402(challenge([requirement()]))
    expect(offer?.flow).toBeUndefined()
  })
})

describe('x402 proof headers for Permit2', () => {
  const proof: Permit2Proof = {
    kind: 'permit2',
    signature: `0x${'ab'.repeat(65)}`,
    permit2Authorization: {
      from: payTo,
      permitted: { token: usdc, amount: '10000' },
      spender: '0x402085c248EeA27D92E8b30b2C58ed07f9E20001',
      nonce: '123',
      deadline: '1750000060',
      witness: { to: payTo, validAfter: '0' },
    },
    payer: payTo,
  }

  test('behavior: the payload is { signature, permit2Authorization } and the server extensions are echoed', () => {
    const [offer] = decodePermit2(challenge([requirement({}, { assetTransferMethod: 'permit2' })], sponsoredExtensions))
    const headers = x402Permit2.proofHeaders(offer as never, proof, { idempotencyKey: 'pf_0123456789abcdef' })
    const sent = decodeBase64Json(headers['payment-signature'] as string) as Record<string, unknown>
    expect(sent.payload).toEqual({ signature: proof.signature, permit2Authorization: proof.permit2Authorization })
    expect(sent.extensions).toEqual(sponsoredExtensions)
  })

  test('behavior: a sponsored approval is added to the declared extension, keeping the server info', () => {
    const [offer] = decodePermit2(challenge([requirement({}, { assetTransferMethod: 'permit2' })], sponsoredExtensions))
    const sponsored = {
      extension: 'eip2612GasSponsoring' as const,
      info: { from: payTo, asset: usdc, signature: '0x01', version: '1' },
    }
    const headers = x402Permit2.proofHeaders(
      offer as never,
      { ...proof, sponsored },
      { idempotencyKey: 'pf_0123456789abcdef' },
    )
    const sent = decodeBase64Json(headers['payment-signature'] as string) as { extensions: Record<string, unknown> }
    expect(sent.extensions.eip2612GasSponsoring).toEqual({
      info: { description: 'EIP-2612 approval sponsored', ...sponsored.info },
      schema: {},
    })
    expect(sent.extensions.erc20ApprovalGasSponsoring).toEqual(sponsoredExtensions.erc20ApprovalGasSponsoring)
  })

  test('behavior: 412 (permit2_allowance_required) refuses a proof, like 402', () => {
    expect(x402.refuses?.(412)).toBe(true)
    expect(x402.refuses?.(402)).toBe(true)
    expect(x402.refuses?.(500)).toBe(false)
  })

  test('behavior: the root x402 writes no Permit2 proof; the variants signers bring merge, so both read and write it', () => {
    expect(() => x402.proofHeaders({} as never, proof, { idempotencyKey: 'pf_0123456789abcdef' })).toThrow(TypeError)
    const merged = x402.merge?.(x402Permit2)
    const [offer] = merged?.decode(challenge([requirement({}, { assetTransferMethod: 'permit2' })])) ?? []
    expect(offer?.method?.kind).toBe('permit2')
    expect(merged?.proofHeaders(offer as never, proof, { idempotencyKey: 'pf_0123456789abcdef' })).toHaveProperty(
      'payment-signature',
    )
  })

  test('behavior: a settlement of "0" (upto, nothing charged) is read as 0n', () => {
    const headers = new Headers({
      'payment-response': encodeBase64Json({ success: true, transaction: '', network: 'eip155:84532', amount: '0' }),
    })
    expect(readSettlement(headers)?.amount).toBe(0n)
  })
})
