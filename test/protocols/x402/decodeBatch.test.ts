import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { PayfetchError } from '../../../src/errors/PayfetchError.js'
import { x402Batch } from '../../../src/evm/x402Batch.js'
import type { BatchSettlementProof } from '../../../src/methods/BatchSettlement.js'
import type { Response402 } from '../../../src/protocols/Protocol.js'
import { readSettlement } from '../../../src/protocols/x402/settlement.js'
import { decodeBase64Json, encodeBase64Json } from '../../../src/utils/base64.js'

// x402 `batch-settlement` offers and payloads, read and written by the x402 variant `evm()` brings,
// shaped as the x402 2.27 reference server emits them (checked on the wire in test/e2e/x402-batch.test.ts).
const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
const payTo = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
const authorizer = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

function requirement(extra: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) {
  return {
    scheme: 'batch-settlement',
    network: 'eip155:84532',
    amount: '1000',
    asset: usdc,
    payTo,
    maxTimeoutSeconds: 60,
    extra: {
      name: 'USDC',
      version: '2',
      receiverAuthorizer: authorizer,
      withdrawDelay: 900,
      minDeposit: '10000',
      ...extra,
    },
    ...overrides,
  }
}

function challenge(accepts: unknown[], error?: string, extensions?: unknown): Response402 {
  const message = { x402Version: 2, error, resource: { url: 'https://api.example.com/r' }, accepts, extensions }
  return {
    url: 'https://api.example.com/r',
    headers: new Headers({ 'payment-required': encodeBase64Json(message) }),
    body: '{}',
  }
}

describe('x402 batch-settlement offers', () => {
  test('behavior: a channel offer decodes into a batch-settlement request with its channel terms', () => {
    const [offer] = x402Batch.decode(challenge([requirement()]))
    expect(offer?.scheme).toBe('batch-settlement')
    expect(offer?.amount).toBe(1000n)
    expect(offer?.method).toEqual({
      kind: 'batch-settlement',
      chainId: 84532,
      token: usdc,
      depositMethod: { kind: 'eip3009', tokenDomain: { name: 'USDC', version: '2' } },
      receiver: payTo,
      receiverAuthorizer: authorizer,
      withdrawDelay: 900,
      amount: 1000n,
      minDeposit: 10000n,
      validForSeconds: 60,
      serverState: undefined,
    })
  })

  test('behavior: a channel whose deposit goes through Permit2 decodes with the Permit2 deposit method and the grants the server sponsors', () => {
    const [offer] = x402Batch.decode(challenge([requirement({ assetTransferMethod: 'permit2' })]))
    expect(offer?.method).toMatchObject({
      kind: 'batch-settlement',
      token: usdc,
      receiver: payTo,
      amount: 1000n,
      depositMethod: { kind: 'permit2', tokenDomain: { name: 'USDC', version: '2' }, sponsoring: undefined },
    })
    // Permit2 signs under its own domain: a channel whose server names no token domain is still paid.
    const [bare] = x402Batch.decode(
      challenge([requirement({ assetTransferMethod: 'permit2', name: undefined, version: undefined })], undefined, {
        eip2612GasSponsoring: { info: {} },
        erc20ApprovalGasSponsoring: { info: {} },
      }),
    )
    expect(bare?.method).toMatchObject({
      depositMethod: { kind: 'permit2', tokenDomain: undefined, sponsoring: ['eip2612', 'erc20Approval'] },
    })
  })

  test('behavior: a corrective 402 carries the server state, unchecked until the channel verifies it', () => {
    const signature = `0x${'11'.repeat(65)}`
    const [offer] = x402Batch.decode(
      challenge(
        [
          requirement({
            channelState: { channelId: `0x${'ab'.repeat(32)}`, chargedCumulativeAmount: '2000', balance: '10000' },
            voucherState: { signedMaxClaimable: '2000', signature },
          }),
        ],
        'invalid_batch_settlement_evm_cumulative_amount_mismatch',
      ),
    )
    expect(offer?.method?.kind === 'batch-settlement' && offer.method.serverState).toEqual({
      channelId: `0x${'ab'.repeat(32)}`,
      chargedCumulative: 2000n,
      signedMaxClaimable: 2000n,
      signature,
    })
  })

  test.each([
    ['no receiver authorizer', { receiverAuthorizer: undefined }],
    ['a zero receiver authorizer', { receiverAuthorizer: `0x${'0'.repeat(40)}` }],
    ['a withdraw delay under 15 minutes', { withdrawDelay: 60 }],
    ['a withdraw delay over 30 days', { withdrawDelay: 2_592_001 }],
    ['an unknown deposit method', { assetTransferMethod: 'erc7710' }],
    ['a deposit method that is not a string', { assetTransferMethod: ['permit2'] }],
    ['a Permit2 deposit method in another case', { assetTransferMethod: 'Permit2' }],
    [
      'a Permit2 deposit and a zero receiver authorizer',
      { assetTransferMethod: 'permit2', receiverAuthorizer: `0x${'0'.repeat(40)}` },
    ],
    ['a Permit2 deposit and a withdraw delay under 15 minutes', { assetTransferMethod: 'permit2', withdrawDelay: 899 }],
    ['an EIP-3009 deposit and no token domain', { name: undefined }],
  ])('policy: an offer with %s is shown, never paid (no method)', (_, extra) => {
    const [offer] = x402Batch.decode(challenge([requirement(extra)]))
    expect(offer?.scheme).toBe('batch-settlement')
    expect(offer?.method).toBeUndefined()
  })

  test('error: a malformed channel challenge is CHALLENGE_INVALID', () => {
    expect(() => x402Batch.decode(challenge([requirement({}, { amount: '-1' })]))).toThrow(
      expect.objectContaining({ code: 'CHALLENGE_INVALID' }),
    )
  })

  test('behavior: deposit, voucher and refund proofs are written as the scheme payloads', () => {
    const [offer] = x402Batch.decode(challenge([requirement()]))
    if (!offer) throw new Error('no offer')
    const base = {
      kind: 'batch-settlement',
      channelConfig: {
        payer: payTo,
        payerAuthorizer: payTo,
        receiver: payTo,
        receiverAuthorizer: authorizer,
        token: usdc,
        withdrawDelay: 900,
        salt: `0x${'0'.repeat(64)}`,
      },
      voucher: { channelId: `0x${'ab'.repeat(32)}`, maxClaimableAmount: '1000', signature: '0x01' },
      payer: payTo,
    } as const
    const payloadOf = (proof: BatchSettlementProof) => {
      const headers = x402Batch.proofHeaders(offer, proof, { idempotencyKey: 'pf_1' })
      return (decodeBase64Json(headers['payment-signature'] as string) as { payload: unknown }).payload
    }
    const deposit = {
      kind: 'eip3009',
      amount: '10000',
      validAfter: '0',
      validBefore: '99',
      salt: '0x02',
      signature: '0x03',
    } as const
    expect(payloadOf({ ...base, type: 'deposit', deposit })).toEqual({
      type: 'deposit',
      channelConfig: base.channelConfig,
      voucher: base.voucher,
      deposit: {
        amount: '10000',
        authorization: {
          erc3009Authorization: { validAfter: '0', validBefore: '99', salt: '0x02', signature: '0x03' },
        },
      },
    })
    const permit2Authorization = {
      from: payTo,
      permitted: { token: usdc, amount: '10000' },
      spender: '0x4020425FAf3B746C082C2f942b4E5159887B0005',
      nonce: '12345',
      deadline: '99',
      witness: { channelId: base.voucher.channelId },
    } as const
    expect(
      payloadOf({
        ...base,
        type: 'deposit',
        deposit: { kind: 'permit2', amount: '10000', signature: '0x04', permit2Authorization },
      }),
    ).toEqual({
      type: 'deposit',
      channelConfig: base.channelConfig,
      voucher: base.voucher,
      deposit: {
        amount: '10000',
        authorization: { permit2Authorization: { ...permit2Authorization, signature: '0x04' } },
      },
    })
    expect(payloadOf({ ...base, type: 'voucher' })).toEqual({
      type: 'voucher',
      channelConfig: base.channelConfig,
      voucher: base.voucher,
    })
    expect(payloadOf({ ...base, type: 'refund', refundAmount: '500' })).toMatchObject({ type: 'refund', amount: '500' })
  })

  test('behavior: PAYMENT-RESPONSE reports the channel charge and total', () => {
    const headers = new Headers({
      'payment-response': encodeBase64Json({
        success: true,
        transaction: '',
        network: 'eip155:84532',
        amount: '',
        extra: { chargedAmount: '1000', channelState: { channelId: '0xab', chargedCumulativeAmount: '2000' } },
      }),
    })
    expect(readSettlement(headers)?.channel).toEqual({ charged: 1000n, cumulative: 2000n, id: '0xab' })
  })

  test('fuzz: any channel extra decodes or is refused with payfetch’s own error, never a crash', () => {
    const junk = fc.jsonValue({ maxDepth: 3 })
    fc.assert(
      fc.property(
        fc.record({
          receiverAuthorizer: fc.oneof(fc.constant(authorizer), junk),
          withdrawDelay: fc.oneof(fc.integer(), junk),
          minDeposit: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 130n }).map(String), junk),
          assetTransferMethod: fc.oneof(fc.constantFrom('eip3009', 'permit2'), junk),
          channelState: junk,
          voucherState: fc.oneof(
            fc.record({
              signedMaxClaimable: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 130n }).map(String), junk),
              signature: junk,
            }),
            junk,
          ),
        }),
        fc.oneof(fc.bigInt({ min: 1n, max: 2n ** 130n }).map(String), junk),
        (extra, amount) => {
          try {
            for (const offer of x402Batch.decode(challenge([requirement(extra, { amount })]))) {
              const method = offer.method
              if (method?.kind !== 'batch-settlement') continue
              expect(method.withdrawDelay).toBeGreaterThanOrEqual(900)
              expect(method.amount).toBeGreaterThan(0n)
            }
          } catch (error) {
            expect(error).toBeInstanceOf(PayfetchError)
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})
