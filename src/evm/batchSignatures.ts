import {
  bytesToHex,
  encodeAbiParameters,
  getAddress,
  type Hex,
  hashTypedData,
  keccak256,
  recoverTypedDataAddress,
} from 'viem'
import type {
  BatchChannelConfig,
  BatchDepositProof,
  BatchSettlementProof,
  BatchSettlementRequest,
} from '../methods/BatchSettlement.js'
import type { TypedDataSigner } from './account.js'
import { authorizationFields } from './eip3009.js'
import { permit2Address, randomUint256 } from './permit2.js'

/** The x402 batch-settlement contract, at the same CREATE2 address on every chain. */
export const batchSettlementAddress: Hex = '0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003'
/** Where an EIP-3009 deposit is sent: it forwards the tokens into the channel. */
export const erc3009DepositCollector: Hex = '0x4020806089470a89826cB9fB1f4059150b550004'
/** Where a Permit2 deposit is sent: the only spender a channel deposit's permit names. */
export const permit2DepositCollector: Hex = '0x4020425FAf3B746C082C2f942b4E5159887B0005'

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

// A Permit2 deposit's witness binds the transfer to one channel: the collector credits no other.
const permit2DepositTypes = {
  PermitWitnessTransferFrom: [
    { name: 'permitted', type: 'TokenPermissions' },
    { name: 'spender', type: 'address' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
    { name: 'witness', type: 'DepositWitness' },
  ],
  TokenPermissions: [
    { name: 'token', type: 'address' },
    { name: 'amount', type: 'uint256' },
  ],
  DepositWitness: [{ name: 'channelId', type: 'bytes32' }],
} as const

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
 * Signs the turn the channel resolved: the voucher up to `turn.cumulative`, after the deposit when
 * the turn deposits, valid until `nowSeconds + validForSeconds`. An EIP-3009 deposit is a
 * `receiveWithAuthorization` to the ERC-3009 collector whose nonce hashes the channel id; a Permit2
 * deposit is a witness transfer to the Permit2 collector whose witness is the channel id. Either way
 * the deposit can fund no other channel.
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
  const deposit =
    turn.deposit === undefined
      ? undefined
      : await signDeposit(signer, request, channelId, turn.deposit, BigInt(nowSeconds + request.validForSeconds))
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

async function signDeposit(
  signer: TypedDataSigner,
  request: BatchSettlementRequest,
  channelId: Hex,
  amount: bigint,
  until: bigint,
): Promise<BatchDepositProof> {
  const from = getAddress(signer.address)
  const token = getAddress(request.token)
  const method = request.depositMethod
  if (method.kind === 'permit2') {
    const nonce = randomUint256()
    const signature = await signer.sign({
      domain: { name: 'Permit2', chainId: request.chainId, verifyingContract: permit2Address },
      types: permit2DepositTypes,
      primaryType: 'PermitWitnessTransferFrom',
      message: {
        permitted: { token, amount },
        spender: permit2DepositCollector,
        nonce,
        deadline: until,
        witness: { channelId },
      },
    })
    return {
      kind: 'permit2',
      amount: amount.toString(),
      signature,
      permit2Authorization: {
        from,
        permitted: { token, amount: amount.toString() },
        spender: permit2DepositCollector,
        nonce: nonce.toString(),
        deadline: until.toString(),
        witness: { channelId },
      },
    }
  }
  const salt = bytesToHex(crypto.getRandomValues(new Uint8Array(32)))
  const signature = await signer.sign({
    domain: { ...method.tokenDomain, chainId: request.chainId, verifyingContract: token },
    types: receiveWithAuthorizationTypes,
    primaryType: 'ReceiveWithAuthorization',
    message: {
      from,
      to: erc3009DepositCollector,
      value: amount,
      validAfter: 0n,
      validBefore: until,
      nonce: keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }], [channelId, BigInt(salt)])),
    },
  })
  return { kind: 'eip3009', amount: amount.toString(), validAfter: '0', validBefore: until.toString(), salt, signature }
}
