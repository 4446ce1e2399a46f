import { type Address, encodeFunctionData, getAddress, type Hex } from 'viem'
import type { TempoTransferRequest } from '../methods/TempoTransfer.js'
import { attributionMemo } from './attributionMemo.js'

/** One call of a Tempo transaction: calldata for a contract, no value. */
export type TempoCall = { readonly to: Address; readonly data: Hex }

// The two TIP-20 functions a charge uses; a full TIP-20 ABI would only add bytes to the bundle.
const tip20Transfers = [
  {
    type: 'function',
    name: 'transfer',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'to', type: 'address' },
      { name: 'amount', type: 'uint256' },
    ],
    outputs: [{ name: '', type: 'bool' }],
  },
  {
    type: 'function',
    name: 'transferWithMemo',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'to', type: 'address' },
      { name: 'amount', type: 'uint256' },
      { name: 'memo', type: 'bytes32' },
    ],
    outputs: [],
  },
] as const

/**
 * The TIP-20 calls that pay a Tempo charge, in the draft's order: first the primary recipient's
 * `transferWithMemo` of the amount less the splits (the server's memo, or the attribution memo
 * bound to the challenge), then one call per split, with its memo when it has one.
 *
 * The request must have passed the signer's refusal checks (addresses, amounts, memos).
 */
export function transferCalls(request: TempoTransferRequest): TempoCall[] {
  const token = getAddress(request.token)
  const splits = request.splits ?? []
  const remainder = splits.reduce((left, split) => left - split.amount, request.amount)
  const memo = typeof request.memo === 'string' ? (request.memo as Hex) : attributionMemo(request.memo)
  return [
    { to: token, data: transferData(request.to, remainder, memo) },
    ...splits.map((split) => ({
      to: token,
      data: transferData(split.to, split.amount, split.memo as Hex | undefined),
    })),
  ]
}

function transferData(to: string, amount: bigint, memo: Hex | undefined): Hex {
  const recipient = getAddress(to)
  return memo === undefined
    ? encodeFunctionData({ abi: tip20Transfers, functionName: 'transfer', args: [recipient, amount] })
    : encodeFunctionData({ abi: tip20Transfers, functionName: 'transferWithMemo', args: [recipient, amount, memo] })
}
