import {
  bytesToHex,
  encodeAbiParameters,
  getAddress,
  type Hex,
  hashTypedData,
  keccak256,
  recoverTypedDataAddress,
} from 'viem'
import type { BatchChannelConfig, BatchSettlementProof, BatchSettlementRequest } from '../methods/BatchSettlement.js'
import type { TypedDataSigner } from './account.js'
import { authorizationFields } from './eip3009.js'

/** The x402 batch-settlement contract, at the same CREATE2 address on every chain. */
export const batchSettlementAddress: Hex = '0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003'
/** Where an EIP-3009 deposit is sent: it forwards the tokens into the channel. */
export const erc3009DepositCollector: Hex = '0x4020806089470a89826cB9fB1f4059150b550004'

const domainOf = (chainId: number) => ({
  name: 'x402 Batch Settlement',
  version: '1',
  chainId,
  verifyingContract: batchSettlementAddress,
})

/** The EIP-712 types whose hash under the batch-settlement domain is the channel id. */
export const channelConfigTypes = {
  ChannelConfig: [
    { name: 'payer', type: 'address' },
    { name: 'payerAuthorizer', type: 'address' },
    { name: 'receiver', type: 'address' },
    { name: 'receiverAuthorizer', type: 'address' },
    { name: 'token', type: 'address' },
    { name: 'withdrawDelay', type: 'uint40' },
    { name: 'salt', type: 'bytes32' },
  ],
} as const

/** A cumulative voucher's EIP-712 types. */
export const voucherTypes = {
  Voucher: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'maxClaimableAmount', type: 'uint128' },
  ],
} as const

const receiveWithAuthorizationTypes = { ReceiveWithAuthorization: authorizationFields } as const

/** The channel's fixed terms for this payer (who also authorizes its vouchers) and salt. */
export function channelConfigOf(payer: string, request: BatchSettlementRequest, salt: Hex): BatchChannelConfig {
  return {
    payer: getAddress(payer),
    payerAuthorizer: getAddress(payer),
    receiver: getAddress(request.receiver),
    receiverAuthorizer: getAddress(request.receiverAuthorizer),
    token: getAddress(request.token),
    withdrawDelay: request.withdrawDelay,
    salt,
  }
}

/** The channel id: the EIP-712 hash of its config under the batch-settlement domain. */
export function channelIdOf(config: BatchChannelConfig, chainId: number): Hex {
  return hashTypedData({
    domain: domainOf(chainId),
    types: channelConfigTypes,
    primaryType: 'ChannelConfig',
    message: config,
  })
}

/** Whether `signature` is this payer's voucher for `channelId` up to `maxClaimableAmount`. */
export async function isPayerVoucher(
  payer: string,
  chainId: number,
  channelId: Hex,
  maxClaimableAmount: bigint,
  signature: Hex,
): Promise<boolean> {
  try {
    const signer = await recoverTypedDataAddress({
      domain: domainOf(chainId),
      types: voucherTypes,
      primaryType: 'Voucher',
      message: { channelId, maxClaimableAmount },
      signature,
    })
    return signer.toLowerCase() === payer.toLowerCase()
  } catch {
    return false
  }
}

/**
 * Signs the turn the channel resolved: the voucher up to `turn.cumulative`, after the deposit's
 * `receiveWithAuthorization` into the deposit collector when the turn deposits (its nonce binds the
 * authorization to this channel, so it can fund no other).
 */
export async function signBatchTurn(
  signer: TypedDataSigner,
  request: BatchSettlementRequest,
  nowSeconds: number,
): Promise<BatchSettlementProof> {
  const turn = request.turn
  if (!turn) throw new TypeError('A batch-settlement request is signed only once its channel state is resolved.')
  const payer = getAddress(signer.address)
  const channelConfig = channelConfigOf(payer, request, turn.salt)
  const channelId = channelIdOf(channelConfig, request.chainId)
  let deposit: BatchSettlementProof['deposit']
  if (turn.deposit !== undefined) {
    const salt = bytesToHex(crypto.getRandomValues(new Uint8Array(32)))
    const validBefore = BigInt(nowSeconds + request.validForSeconds)
    const signature = await signer.sign({
      domain: { ...request.tokenDomain, chainId: request.chainId, verifyingContract: getAddress(request.token) },
      types: receiveWithAuthorizationTypes,
      primaryType: 'ReceiveWithAuthorization',
      message: {
        from: payer,
        to: erc3009DepositCollector,
        value: turn.deposit,
        validAfter: 0n,
        validBefore,
        nonce: keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [channelId, BigInt(salt)])),
      },
    })
    deposit = { amount: turn.deposit.toString(), validAfter: '0', validBefore: validBefore.toString(), salt, signature }
  }
  const signature = await signer.sign({
    domain: domainOf(request.chainId),
    types: voucherTypes,
    primaryType: 'Voucher',
    message: { channelId, maxClaimableAmount: turn.cumulative },
  })
  return {
    kind: 'batch-settlement',
    type: turn.refund ? 'refund' : deposit ? 'deposit' : 'voucher',
    channelConfig,
    voucher: { channelId, maxClaimableAmount: turn.cumulative.toString(), signature },
    deposit,
    refundAmount: turn.refund?.amount?.toString(),
    payer,
  }
}
