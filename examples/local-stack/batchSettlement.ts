// The x402 `batch-settlement` scheme (payment channels) on the local stack.
//
// Contracts (contracts/X402BatchSettlement.sol and the two deposit collectors) are payfetch's own stand-ins,
// written from the ABI the x402 2.27 facilitator and client call and the batch-settlement EVM spec; no
// package ships their bytecode. The local stack places their runtime code at the canonical addresses. What
// they do: channel id = EIP-712 hash of the ChannelConfig; deposits through a collector (ERC-3009
// `receiveWithAuthorization`, or Permit2 with a channel-id witness) credit `balance`; the receiver side
// claims payer-signed cumulative vouchers (never above the voucher's ceiling or the balance; a replayed or
// older voucher is a no-op), directly or relayed with the receiver authorizer's `ClaimBatch` signature;
// `settle` pays the receiver what was claimed; the payer withdraws unclaimed escrow after `withdrawDelay`;
// the receiver side refunds unclaimed escrow at once (`refund`, or `refundWithSignature` with a nonce).
// What they leave out of the spec: the `ChannelCreated`/`ChannelClosed` events, EIP-1153 transient storage
// (the reentrancy lock is an ordinary slot, cleared at the end of each call), ERC-6492 counterfactual
// signatures, and the per-failure events of the optional EIP-2612 permit in the Permit2 collector.
//
// Server side: the reference `BatchSettlementEvmScheme` server (`@x402/evm/batch-settlement/server`) with
// in-memory channel storage and its own receiver-authorizer key (so the facilitator advertises none and signs
// nothing for it); the reference facilitator scheme settles deposits, claims, settles and refunds on anvil.
// Nothing claims or settles on a timer: tests call `claimAndSettle()` (or `claim()` then `settle()`) when they
// want money to move, and `refund()` for a server-initiated cooperative refund.
import type { FacilitatorClient } from '@x402/core/server'
import type {
  AuthorizerSigner,
  Channel,
  ClaimResult,
  RefundResult,
  SettleResult,
} from '@x402/evm/batch-settlement/server'
import { BatchSettlementEvmScheme, InMemoryChannelStorage } from '@x402/evm/batch-settlement/server'
import type { Address, Hex } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { LocalClients } from './clients.js'
import { batchSettlement, erc3009DepositCollector, permit2DepositCollector, v2Network } from './constants.js'

/** The least delay the spec allows (15 minutes): a payer's own withdrawal waits this long. */
export const batchWithdrawDelay = 900

/** The parts of the channel contract's ABI the stack reads. */
export const batchSettlementReadAbi = [
  {
    type: 'function',
    name: 'channels',
    stateMutability: 'view',
    inputs: [{ name: 'channelId', type: 'bytes32' }],
    outputs: [
      { name: 'balance', type: 'uint128' },
      { name: 'totalClaimed', type: 'uint128' },
    ],
  },
  {
    type: 'function',
    name: 'receivers',
    stateMutability: 'view',
    inputs: [
      { name: 'receiver', type: 'address' },
      { name: 'token', type: 'address' },
    ],
    outputs: [
      { name: 'totalClaimed', type: 'uint128' },
      { name: 'totalSettled', type: 'uint128' },
    ],
  },
  {
    type: 'function',
    name: 'refundNonce',
    stateMutability: 'view',
    inputs: [{ name: 'channelId', type: 'bytes32' }],
    outputs: [{ name: '', type: 'uint256' }],
  },
] as const

/** A channel as the contract holds it. `balance - totalClaimed` is what the payer can still get back. */
export type OnchainChannel = {
  /** Everything deposited, minus what was withdrawn or refunded; claimed funds stay counted here. */
  readonly balance: bigint
  /** The cumulative amount the receiver side has claimed. */
  readonly totalClaimed: bigint
  /** The nonce the next `refundWithSignature` must carry. */
  readonly refundNonce: bigint
}

/** The batch-settlement half of the local stack: addresses, and the receiver's claim, settle and refund. */
export type BatchSettlementStack = {
  /** `x402BatchSettlement`, the channel contract (also the EIP-712 `verifyingContract` of vouchers). */
  readonly contract: Address
  /** Where an ERC-3009 deposit authorization must send the tokens (`ReceiveWithAuthorization.to`). */
  readonly erc3009Collector: Address
  /** The Permit2 spender of a Permit2 deposit. */
  readonly permit2Collector: Address
  /** The receiver authorizer every 402 names (`extra.receiverAuthorizer`); the server holds its key. */
  readonly receiverAuthorizer: Address
  /** `extra.withdrawDelay`, in seconds. */
  readonly withdrawDelay: number
  /** The reference server scheme, registered on the v2 server. */
  readonly scheme: BatchSettlementEvmScheme
  /** The server's channel records (the reference server's storage), one per channel that paid. */
  channels(): Promise<readonly Channel[]>
  /** Reads one channel from the contract. */
  onchainChannel(channelId: Hex): Promise<OnchainChannel>
  /** Claims every voucher the server holds above what is already claimed, in one transaction per 100. */
  claim(): Promise<readonly ClaimResult[]>
  /** Pays the receiver everything claimed and not yet paid; throws when there is nothing to settle. */
  settle(): Promise<SettleResult>
  /** `claim()`, then `settle()` when anything was claimed. */
  claimAndSettle(): Promise<{ readonly claims: readonly ClaimResult[]; readonly settle?: SettleResult | undefined }>
  /** Server-initiated cooperative refund of the given channels (default: all), claiming their vouchers first. */
  refund(channelIds?: readonly Hex[]): Promise<readonly RefundResult[]>
}

export type BatchSettlementOptions = {
  readonly clients: LocalClients
  readonly facilitator: FacilitatorClient
  readonly payTo: Address
  readonly token: Address
}

/** Builds the reference batch-settlement server scheme for `payTo` and the controls tests drive it with. */
export function createBatchSettlement(options: BatchSettlementOptions): BatchSettlementStack {
  const { clients, facilitator, payTo, token } = options
  const authorizer = privateKeyToAccount(generatePrivateKey())
  const scheme = new BatchSettlementEvmScheme(payTo, {
    storage: new InMemoryChannelStorage(),
    receiverAuthorizerSigner: authorizerSigner(authorizer),
    withdrawDelay: batchWithdrawDelay,
  })
  const manager = scheme.createChannelManager(facilitator, v2Network, token)

  return {
    contract: batchSettlement,
    erc3009Collector: erc3009DepositCollector,
    permit2Collector: permit2DepositCollector,
    receiverAuthorizer: authorizer.address,
    withdrawDelay: batchWithdrawDelay,
    scheme,
    channels: () => scheme.getStorage().list(),
    async onchainChannel(channelId) {
      const read = { address: batchSettlement, abi: batchSettlementReadAbi } as const
      const [[balance, totalClaimed], refundNonce] = await Promise.all([
        clients.publicClient.readContract({ ...read, functionName: 'channels', args: [channelId] }),
        clients.publicClient.readContract({ ...read, functionName: 'refundNonce', args: [channelId] }),
      ])
      return { balance, totalClaimed, refundNonce }
    },
    claim: () => manager.claim(),
    settle: () => manager.settle(),
    claimAndSettle: () => manager.claimAndSettle(),
    refund: (channelIds) => manager.refund(channelIds === undefined ? undefined : [...channelIds]),
  }
}

// x402's authorizer interface takes plain records for domain and message; viem's account is stricter.
function authorizerSigner(account: PrivateKeyAccount): AuthorizerSigner {
  return {
    address: account.address,
    signTypedData: (params) => account.signTypedData(params as Parameters<PrivateKeyAccount['signTypedData']>[0]),
  }
}
