// Proves the local stack's x402 `batch-settlement` side with the x402 2.27 reference client: payfetch's own
// channel client is tested against this stack, so a failure here is the harness, not payfetch.
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { BatchSettlementEvmScheme, computeChannelId, signVoucher } from '@x402/evm/batch-settlement/client'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import type { Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { EvmStack } from '../../examples/local-stack/evmStack.js'
import { startEvmStack } from '../../examples/local-stack/evmStack.js'
import { decodeBase64Json, encodeBase64Json } from '../../examples/local-stack/http.js'

let stack: EvmStack

beforeAll(async () => {
  stack = await startEvmStack()
})

afterAll(async () => {
  await stack?.stop()
})

type PaymentResponse = {
  success: boolean
  transaction: string
  amount?: string
  extra?: { chargedAmount?: string; channelState?: { channelId: string; chargedCumulativeAmount?: string } }
}

/** A payer holding 1 USDC and no ETH, paying through the reference batch-settlement client. */
async function channelPayer(options: ConstructorParameters<typeof BatchSettlementEvmScheme>[1] = {}) {
  const account = stack.newAccount()
  await stack.mint(stack.usdc, account.address, 1_000_000n)
  const scheme = new BatchSettlementEvmScheme(account, options)
  const client = x402Client.fromConfig({ schemes: [{ network: 'eip155:*', client: scheme }] })
  const sent: Headers[] = []
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    sent.push(request.headers)
    return fetch(request)
  }
  return { account, scheme, sent, fetchPaid: wrapFetchWithPayment(recording, client) }
}

function paymentResponse(response: Response): PaymentResponse {
  const header = response.headers.get('payment-response')
  expect(header).toBeTruthy()
  return decodePaymentResponseHeader(header as string) as PaymentResponse
}

async function requirementsOf(url: string): Promise<PaymentRequirements> {
  const response = await fetch(url)
  expect(response.status).toBe(402)
  const required = decodePaymentRequiredHeader(response.headers.get('payment-required') as string)
  const accept = required.accepts.find((a) => a.scheme === 'batch-settlement')
  expect(accept).toBeDefined()
  return accept as PaymentRequirements
}

function channelIdOf(payer: PrivateKeyAccount, requirements: PaymentRequirements): Hex {
  const scheme = new BatchSettlementEvmScheme(payer)
  return computeChannelId(scheme.buildChannelConfig(requirements), requirements.network)
}

describe('batch-settlement on the local stack: reference client', () => {
  test('behavior: five calls cost one deposit transaction, then vouchers only; claim + settle pays the receiver exactly the charges', async () => {
    const { account, fetchPaid } = await channelPayer()
    const requirements = await requirementsOf(stack.batch.weatherUrl)
    expect(requirements).toMatchObject({
      amount: '1000',
      asset: stack.usdc.address,
      payTo: stack.payTo,
      extra: {
        receiverAuthorizer: stack.batch.receiverAuthorizer,
        withdrawDelay: 900,
        name: 'USDC',
        version: '2',
        minDeposit: '10000',
      },
    })
    const channelId = channelIdOf(account, requirements)
    const start = await stack.blockNumber()
    const escrowBefore = await stack.balanceOf(stack.usdc, stack.batch.contract)

    const responses: PaymentResponse[] = []
    for (let call = 0; call < 5; call++) {
      const response = await fetchPaid(stack.batch.weatherUrl)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ weather: 'sunny', via: 'batch-settlement' })
      responses.push(paymentResponse(response))
    }

    // One deposit (the server's default minDeposit: 10 × the price), then four voucher-only calls.
    expect(await stack.transactionsSince(start)).toBe(1)
    expect(responses[0]?.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(responses[0]?.amount).toBe('10000')
    for (const later of responses.slice(1)) expect(later).toMatchObject({ transaction: '', amount: '' })
    expect(responses.map((r) => r.extra?.chargedAmount)).toEqual(['1000', '1000', '1000', '1000', '1000'])
    expect(responses.map((r) => r.extra?.channelState?.chargedCumulativeAmount)).toEqual([
      '1000',
      '2000',
      '3000',
      '4000',
      '5000',
    ])
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    expect(await stack.batch.onchainChannel(channelId)).toEqual({ balance: 10_000n, totalClaimed: 0n, refundNonce: 0n })

    const receiverBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    const { claims, settle } = await stack.batch.claimAndSettle()
    expect(claims).toHaveLength(1)
    expect(settle?.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await stack.transactionsSince(start)).toBe(3)

    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(receiverBefore + 5_000n)
    const channel = await stack.batch.onchainChannel(channelId)
    expect(channel).toEqual({ balance: 10_000n, totalClaimed: 5_000n, refundNonce: 0n })
    // The payer's escrow that is still its own shrank by exactly the charges; the contract paid them out.
    expect(channel.balance - channel.totalClaimed).toBe(10_000n - 5_000n)
    expect(await stack.balanceOf(stack.usdc, stack.batch.contract)).toBe(escrowBefore + 10_000n - 5_000n)
  })
})

// Kept for the next tests.
void signVoucher
void encodeBase64Json
void decodeBase64Json
