// Proves the local stack's x402 `batch-settlement` side with the x402 2.27 reference client: payfetch's own
// channel client is tested against this stack, so a failure here is the harness, not payfetch.

import { randomBytes } from 'node:crypto'
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http'
import type { PaymentRequirements } from '@x402/core/types'
import { BatchSettlementEvmScheme, computeChannelId, signVoucher } from '@x402/evm/batch-settlement/client'
import { wrapFetchWithPayment, x402Client } from '@x402/fetch'
import type { AbiItem, AbiParameter, Address, Hex } from 'viem'
import { createTestClient, encodeAbiParameters, http, keccak256, parseAbi, toHex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { loadArtifacts } from '../../examples/local-stack/artifacts.js'
import type { EvmStack } from '../../examples/local-stack/evmStack.js'
import { batchSettlementAbi, startEvmStack } from '../../examples/local-stack/evmStack.js'
import { encodeBase64Json } from '../../examples/local-stack/http.js'
import { authorizationFields } from '../../src/evm/eip3009.js'

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

  test('behavior: a handler that charges less than the price: each voucher covers the price, the channel is charged what the handler said', async () => {
    const { account, fetchPaid } = await channelPayer()
    const channelId = channelIdOf(account, await requirementsOf(stack.batch.meteredUrl))
    const start = await stack.blockNumber()
    const receiverBefore = await stack.balanceOf(stack.usdc, stack.payTo)

    const charged: PaymentResponse[] = []
    for (const query of ['?charge=1234', '?charge=0', '']) {
      const response = await fetchPaid(`${stack.batch.meteredUrl}${query}`)
      expect(response.status).toBe(200)
      charged.push(paymentResponse(response))
    }
    expect(charged.map((r) => r.extra?.chargedAmount)).toEqual(['1234', '0', '5000'])
    expect(charged.map((r) => r.extra?.channelState?.chargedCumulativeAmount)).toEqual(['1234', '1234', '6234'])
    // The vouchers the server holds are for the charges so far plus the price of the call they paid for.
    const channel = (await stack.batch.channels()).find((c) => c.channelId === channelId)
    expect(channel).toMatchObject({ chargedCumulativeAmount: '6234', signedMaxClaimable: '6234' })

    await stack.batch.claimAndSettle()
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(receiverBefore + 6_234n)
    // One deposit (minDeposit: 10 × 5000), one claim, one settle.
    expect(await stack.transactionsSince(start)).toBe(3)
  })

  test('behavior: a deposit through Permit2 and the Permit2 collector, then vouchers', async () => {
    const { account, fetchPaid } = await channelPayer()
    await stack.approvePermit2(account)
    const requirements = await requirementsOf(stack.batch.permit2WeatherUrl)
    expect(requirements.extra).toMatchObject({ assetTransferMethod: 'permit2' })
    const channelId = channelIdOf(account, requirements)
    const start = await stack.blockNumber()

    for (let call = 0; call < 3; call++) {
      const response = await fetchPaid(stack.batch.permit2WeatherUrl)
      expect(response.status).toBe(200)
      expect(paymentResponse(response).extra?.chargedAmount).toBe('1000')
    }
    expect(await stack.transactionsSince(start)).toBe(1)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 10_000n)
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 10_000n, totalClaimed: 0n })

    const receiverBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    await stack.batch.claimAndSettle()
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(receiverBefore + 3_000n)
  })

  test('error: a replayed payment (the same header bytes) is refused with a corrective 402 and charges nothing more', async () => {
    const { account, sent, fetchPaid } = await channelPayer()
    for (let call = 0; call < 2; call++) expect((await fetchPaid(stack.batch.weatherUrl)).status).toBe(200)
    const proofs = sent.map((headers) => headers.get('payment-signature')).filter((proof) => proof !== null)
    expect(proofs).toHaveLength(2)
    const start = await stack.blockNumber()
    const channelId = channelIdOf(account, await requirementsOf(stack.batch.weatherUrl))

    // The deposit's header and the last voucher's header, sent again byte for byte.
    for (const proof of proofs) {
      const replay = await fetch(stack.batch.weatherUrl, { headers: { 'payment-signature': proof as string } })
      expect(replay.status).toBe(402)
      const corrective = decodePaymentRequiredHeader(replay.headers.get('payment-required') as string)
      expect(corrective.error).toBe('invalid_batch_settlement_evm_cumulative_amount_mismatch')
      expect(corrective.accepts[0]?.extra).toMatchObject({
        channelState: { channelId, balance: '10000', totalClaimed: '0', chargedCumulativeAmount: '2000' },
        voucherState: { signedMaxClaimable: '2000' },
      })
    }
    expect(await stack.transactionsSince(start)).toBe(0)
    expect((await stack.batch.channels()).find((c) => c.channelId === channelId)?.chargedCumulativeAmount).toBe('2000')

    const receiverBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    await stack.batch.claimAndSettle()
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(receiverBefore + 2_000n)
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 10_000n, totalClaimed: 2_000n })
  })

  test('error: a voucher above the deposit is refused (cumulative_exceeds_balance) and nothing moves', async () => {
    // A deposit of exactly 5000, then a voucher-only payment whose cumulative (1000 + 5000) is above it.
    const { account, fetchPaid } = await channelPayer({ depositStrategy: () => '5000' })
    expect((await fetchPaid(stack.batch.weatherUrl)).status).toBe(200)
    const requirements = await requirementsOf(stack.batch.meteredUrl)
    const channelConfig = new BatchSettlementEvmScheme(account).buildChannelConfig(requirements)
    const channelId = computeChannelId(channelConfig, requirements.network)
    const voucher = await signVoucher(account, channelId, '6000', requirements.network)
    const start = await stack.blockNumber()
    const payerBefore = await stack.balanceOf(stack.usdc, account.address)

    const proof = encodeBase64Json({
      x402Version: 2,
      accepted: requirements,
      payload: { type: 'voucher', channelConfig, voucher },
    })
    const refused = await fetch(stack.batch.meteredUrl, { headers: { 'payment-signature': proof } })
    expect(refused.status).toBe(402)
    const required = decodePaymentRequiredHeader(refused.headers.get('payment-required') as string)
    expect(required.error).toBe('invalid_batch_settlement_evm_cumulative_exceeds_balance')
    expect(await stack.transactionsSince(start)).toBe(0)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(payerBefore)
    expect((await stack.batch.channels()).find((c) => c.channelId === channelId)?.chargedCumulativeAmount).toBe('1000')
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 5_000n, totalClaimed: 0n })
    await stack.batch.claimAndSettle()
  })

  test('behavior: a server that lost its channel record rebuilds its base from the next voucher (signed − price) and loses no charge', async () => {
    const { account, fetchPaid } = await channelPayer()
    for (let call = 0; call < 3; call++) expect((await fetchPaid(stack.batch.weatherUrl)).status).toBe(200)
    const channelId = channelIdOf(account, await requirementsOf(stack.batch.weatherUrl))
    await stack.batch.forget(channelId)

    const response = await fetchPaid(stack.batch.weatherUrl)
    expect(response.status).toBe(200)
    // The server infers its base from the voucher (4000 signed − 1000 price) and charges on from there.
    expect(paymentResponse(response).extra).toMatchObject({
      chargedAmount: '1000',
      channelState: { chargedCumulativeAmount: '4000' },
    })
    const receiverBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    await stack.batch.claimAndSettle()
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(receiverBefore + 4_000n)
  })

  test('behavior: a cooperative refund through the reference client returns the unclaimed rest to the payer, to the unit', async () => {
    const { account, scheme, fetchPaid } = await channelPayer()
    for (let call = 0; call < 3; call++) expect((await fetchPaid(stack.batch.weatherUrl)).status).toBe(200)
    const channelId = channelIdOf(account, await requirementsOf(stack.batch.weatherUrl))
    const start = await stack.blockNumber()

    const refunded = (await scheme.refund(stack.batch.weatherUrl)) as PaymentResponse
    expect(refunded).toMatchObject({ success: true, amount: '7000' })
    expect(refunded.extra?.chargedAmount).toBeUndefined()
    // One transaction: the outstanding voucher claimed and the rest refunded together.
    expect(await stack.transactionsSince(start)).toBe(1)
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 3_000n)
    expect(await stack.batch.onchainChannel(channelId)).toEqual({
      balance: 3_000n,
      totalClaimed: 3_000n,
      refundNonce: 1n,
    })
    // The server forgets a fully refunded channel; the claimed 3000 still reach the receiver on settle.
    expect((await stack.batch.channels()).some((c) => c.channelId === channelId)).toBe(false)
    const receiverBefore = await stack.balanceOf(stack.usdc, stack.payTo)
    await stack.batch.settle()
    expect(await stack.balanceOf(stack.usdc, stack.payTo)).toBe(receiverBefore + 3_000n)
  })

  test('behavior: a server-initiated refund claims the outstanding voucher and returns the rest', async () => {
    const { account, fetchPaid } = await channelPayer()
    for (let call = 0; call < 2; call++) expect((await fetchPaid(stack.batch.weatherUrl)).status).toBe(200)
    const channelId = channelIdOf(account, await requirementsOf(stack.batch.weatherUrl))

    const [result] = await stack.batch.refund([channelId])
    expect(result?.channel.toLowerCase()).toBe(channelId.toLowerCase())
    expect(await stack.balanceOf(stack.usdc, account.address)).toBe(1_000_000n - 2_000n)
    expect(await stack.batch.onchainChannel(channelId)).toEqual({
      balance: 2_000n,
      totalClaimed: 2_000n,
      refundNonce: 1n,
    })
    await stack.batch.settle()
  })
})

// The stand-in contract itself, called directly with a receiver key the test holds. The withdrawal test moves
// the chain's clock forward by the withdraw delay, so it stays last: later ERC-3009 deposits would be expired.
describe('batch-settlement contract on anvil (direct calls)', () => {
  const contractErrors = parseAbi([
    'error BadSignature()',
    'error ClaimAboveBalance()',
    'error ClaimAboveVoucher()',
    'error NotReceiverSide()',
    'error WithdrawalTooEarly()',
  ])
  const abi = [...batchSettlementAbi, ...contractErrors] as const

  type Config = {
    payer: Address
    payerAuthorizer: Address
    receiver: Address
    receiverAuthorizer: Address
    token: Address
    withdrawDelay: number
    salt: Hex
  }

  /** A channel of a fresh payer to a receiver the test holds, funded with `deposit` through the ERC-3009 collector. */
  async function openChannel(deposit: bigint) {
    const payer = stack.newAccount()
    const receiver = stack.newAccount()
    await stack.mint(stack.usdc, payer.address, 100_000n)
    await Promise.all([stack.setBalance(receiver.address, 10n ** 18n), stack.setBalance(payer.address, 10n ** 18n)])
    const config: Config = {
      payer: payer.address,
      payerAuthorizer: payer.address,
      receiver: receiver.address,
      receiverAuthorizer: stack.newAccount().address,
      token: stack.usdc.address,
      withdrawDelay: stack.batch.withdrawDelay,
      salt: toHex(randomBytes(32)),
    }
    const channelId = computeChannelId(config, stack.chainId)
    const salt = BigInt(toHex(randomBytes(32)))
    const validBefore = (await stack.publicClient.getBlock()).timestamp + 3600n
    const signature = await payer.signTypedData({
      domain: { name: 'USDC', version: '2', chainId: stack.chainId, verifyingContract: stack.usdc.address },
      types: { ReceiveWithAuthorization: authorizationFields },
      primaryType: 'ReceiveWithAuthorization',
      message: {
        from: payer.address,
        to: stack.batch.erc3009Collector,
        value: deposit,
        validAfter: 0n,
        validBefore,
        nonce: keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [channelId, salt])),
      },
    })
    const collectorData = encodeAbiParameters(
      [{ type: 'uint256' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'bytes' }],
      [0n, validBefore, salt, signature],
    )
    const asReceiver = stack.walletFor(receiver)
    await mined(
      asReceiver.writeContract({
        address: stack.batch.contract,
        abi,
        functionName: 'deposit',
        args: [config, deposit, stack.batch.erc3009Collector, collectorData],
      }),
    )
    const voucher = async (max: bigint) => ({
      voucher: { channel: config, maxClaimableAmount: max },
      signature: (await signVoucher(payer, channelId, max.toString(), stack.v2Network)).signature,
    })
    return { payer, receiver, config, channelId, asReceiver, asPayer: stack.walletFor(payer), voucher }
  }

  // `tuple[]` of (a,b) is `(a,b)[]`: what a selector hashes, so two ABIs agree exactly when these do.
  function canonicalType(parameter: AbiParameter): string {
    if (!parameter.type.startsWith('tuple')) return parameter.type
    const components = 'components' in parameter ? parameter.components : []
    return `(${components.map(canonicalType).join(',')})${parameter.type.slice('tuple'.length)}`
  }

  async function mined(sending: Promise<Hex>) {
    const receipt = await stack.publicClient.waitForTransactionReceipt({ hash: await sending })
    expect(receipt.status).toBe('success')
    return receipt
  }

  test('behavior: the compiled contract has every function and event of the x402 ABI, with the same types', () => {
    const compiled = loadArtifacts().X402BatchSettlement.abi
    const shape = (item: AbiItem) =>
      JSON.stringify([
        item.type,
        'name' in item ? item.name : '',
        'inputs' in item ? item.inputs.map(canonicalType) : [],
        'outputs' in item ? item.outputs.map(canonicalType) : [],
      ])
    const available = new Set(compiled.map(shape))
    for (const item of batchSettlementAbi) expect(available, shape(item)).toContain(shape(item))
  })

  test('behavior: the channel id is the EIP-712 hash of the config under the x402 Batch Settlement domain', async () => {
    const { config, channelId } = await openChannel(1_000n)
    const read = { address: stack.batch.contract, abi, functionName: 'getChannelId' } as const
    expect(await stack.publicClient.readContract({ ...read, args: [config] })).toBe(channelId)
    const otherSalt = { ...config, salt: toHex(randomBytes(32)) }
    expect(await stack.publicClient.readContract({ ...read, args: [otherSalt] })).not.toBe(channelId)
    expect(await stack.batch.onchainChannel(channelId)).toEqual({ balance: 1_000n, totalClaimed: 0n, refundNonce: 0n })
  })

  test('error: a claim never pays above the voucher or the deposit, nor a replayed or older voucher; settle pays what was claimed', async () => {
    const { config, channelId, asReceiver, asPayer, receiver, payer, voucher } = await openChannel(10_000n)
    const claim = (rows: readonly Awaited<ReturnType<typeof voucher>>[], totals: readonly bigint[]) =>
      rows.map((row, index) => ({ ...row, totalClaimed: totals[index] as bigint }))
    const simulate = (account: typeof receiver, rows: ReturnType<typeof claim>) =>
      stack.publicClient.simulateContract({
        account,
        address: stack.batch.contract,
        abi,
        functionName: 'claim',
        args: [rows],
      })
    const [v3000, v6000, v20000] = await Promise.all([voucher(3_000n), voucher(6_000n), voucher(20_000n)])

    await expect(simulate(receiver, claim([v6000], [7_000n]))).rejects.toThrow(/ClaimAboveVoucher/)
    await expect(simulate(receiver, claim([v20000], [15_000n]))).rejects.toThrow(/ClaimAboveBalance/)
    await expect(simulate(payer, claim([v6000], [6_000n]))).rejects.toThrow(/NotReceiverSide/)
    // The payer's signature for 6000, presented for 6001.
    const forged = { ...v6000, voucher: { ...v6000.voucher, maxClaimableAmount: 6_001n } }
    await expect(simulate(receiver, claim([forged], [6_001n]))).rejects.toThrow(/BadSignature/)

    const send = (rows: ReturnType<typeof claim>) =>
      mined(asReceiver.writeContract({ address: stack.batch.contract, abi, functionName: 'claim', args: [rows] }))
    await send(claim([v6000], [6_000n]))
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 10_000n, totalClaimed: 6_000n })
    // The same claim again, and an older voucher: accepted, and nothing more is claimed.
    const replayed = await send(claim([v6000, v3000], [6_000n, 3_000n]))
    expect(replayed.logs).toHaveLength(0)
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ totalClaimed: 6_000n })

    const settle = () =>
      mined(
        asPayer.writeContract({
          address: stack.batch.contract,
          abi,
          functionName: 'settle',
          args: [receiver.address, config.token],
        }),
      )
    await settle()
    expect(await stack.balanceOf(stack.usdc, receiver.address)).toBe(6_000n)
    await settle()
    expect(await stack.balanceOf(stack.usdc, receiver.address)).toBe(6_000n)

    // The receiver's own refund returns at most the unclaimed rest, and advances the refund nonce.
    await mined(
      asReceiver.writeContract({
        address: stack.batch.contract,
        abi,
        functionName: 'refund',
        args: [config, 1_000_000n],
      }),
    )
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(100_000n - 6_000n)
    expect(await stack.batch.onchainChannel(channelId)).toEqual({
      balance: 6_000n,
      totalClaimed: 6_000n,
      refundNonce: 1n,
    })
  })

  test('behavior: the payer withdraws its unclaimed escrow only after withdrawDelay, and claims made meanwhile win', async () => {
    const { config, channelId, asReceiver, asPayer, payer, voucher } = await openChannel(5_000n)
    const call = { address: stack.batch.contract, abi } as const
    await mined(asPayer.writeContract({ ...call, functionName: 'initiateWithdraw', args: [config, 5_000n] }))
    await expect(
      stack.publicClient.simulateContract({
        ...call,
        account: payer,
        functionName: 'finalizeWithdraw',
        args: [config],
      }),
    ).rejects.toThrow(/WithdrawalTooEarly/)
    await mined(
      asReceiver.writeContract({
        ...call,
        functionName: 'claim',
        args: [[{ ...(await voucher(2_000n)), totalClaimed: 2_000n }]],
      }),
    )

    const anvil = createTestClient({ mode: 'anvil', transport: http(stack.rpcUrl) })
    await anvil.increaseTime({ seconds: stack.batch.withdrawDelay })
    await anvil.mine({ blocks: 1 })
    const before = await stack.balanceOf(stack.usdc, payer.address)
    await mined(asPayer.writeContract({ ...call, functionName: 'finalizeWithdraw', args: [config] }))
    expect(await stack.balanceOf(stack.usdc, payer.address)).toBe(before + 3_000n)
    expect(await stack.batch.onchainChannel(channelId)).toMatchObject({ balance: 2_000n, totalClaimed: 2_000n })
  })
})
