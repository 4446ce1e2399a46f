// The x402 `batch-settlement` channel contract's ABI, as the x402 2.27 facilitator and client call it
// (`@x402/evm` does not export its copy). The stack's stand-in contract is compiled to match; a test holds it there.
import { channelConfigTypes } from '../../src/evm/batchSignatures.js'

// The config tuple is the struct whose EIP-712 hash is the channel id: one field list for both.
const channelConfig = { name: 'config', type: 'tuple', components: channelConfigTypes.ChannelConfig } as const

const voucherClaims = {
  name: 'voucherClaims',
  type: 'tuple[]',
  components: [
    {
      name: 'voucher',
      type: 'tuple',
      components: [
        { ...channelConfig, name: 'channel' },
        { name: 'maxClaimableAmount', type: 'uint128' },
      ],
    },
    { name: 'signature', type: 'bytes' },
    { name: 'totalClaimed', type: 'uint128' },
  ],
} as const

export const batchSettlementAbi = [
  {
    type: 'function',
    name: 'deposit',
    stateMutability: 'nonpayable',
    inputs: [
      channelConfig,
      { name: 'amount', type: 'uint128' },
      { name: 'collector', type: 'address' },
      { name: 'collectorData', type: 'bytes' },
    ],
    outputs: [],
  },
  { type: 'function', name: 'claim', stateMutability: 'nonpayable', inputs: [voucherClaims], outputs: [] },
  {
    type: 'function',
    name: 'claimWithSignature',
    stateMutability: 'nonpayable',
    inputs: [voucherClaims, { name: 'authorizerSignature', type: 'bytes' }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'settle',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'receiver', type: 'address' },
      { name: 'token', type: 'address' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'initiateWithdraw',
    stateMutability: 'nonpayable',
    inputs: [channelConfig, { name: 'amount', type: 'uint128' }],
    outputs: [],
  },
  { type: 'function', name: 'finalizeWithdraw', stateMutability: 'nonpayable', inputs: [channelConfig], outputs: [] },
  {
    type: 'function',
    name: 'refund',
    stateMutability: 'nonpayable',
    inputs: [channelConfig, { name: 'amount', type: 'uint128' }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'refundWithSignature',
    stateMutability: 'nonpayable',
    inputs: [
      channelConfig,
      { name: 'amount', type: 'uint128' },
      { name: 'nonce', type: 'uint256' },
      { name: 'receiverAuthorizerSignature', type: 'bytes' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'multicall',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'data', type: 'bytes[]' }],
    outputs: [{ name: 'results', type: 'bytes[]' }],
  },
  {
    type: 'function',
    name: 'getChannelId',
    stateMutability: 'view',
    inputs: [channelConfig],
    outputs: [{ name: '', type: 'bytes32' }],
  },
  {
    type: 'function',
    name: 'getVoucherDigest',
    stateMutability: 'view',
    inputs: [
      { name: 'channelId', type: 'bytes32' },
      { name: 'maxClaimableAmount', type: 'uint128' },
    ],
    outputs: [{ name: '', type: 'bytes32' }],
  },
  {
    type: 'function',
    name: 'getRefundDigest',
    stateMutability: 'view',
    inputs: [
      { name: 'channelId', type: 'bytes32' },
      { name: 'nonce', type: 'uint256' },
      { name: 'amount', type: 'uint128' },
    ],
    outputs: [{ name: '', type: 'bytes32' }],
  },
  {
    type: 'function',
    name: 'getClaimBatchDigest',
    stateMutability: 'view',
    inputs: [voucherClaims],
    outputs: [{ name: '', type: 'bytes32' }],
  },
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
    name: 'pendingWithdrawals',
    stateMutability: 'view',
    inputs: [{ name: 'channelId', type: 'bytes32' }],
    outputs: [
      { name: 'amount', type: 'uint128' },
      { name: 'initiatedAt', type: 'uint40' },
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
  {
    type: 'function',
    name: 'CHANNEL_CONFIG_TYPEHASH',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'bytes32' }],
  },
  {
    type: 'event',
    name: 'Settled',
    anonymous: false,
    inputs: [
      { name: 'receiver', type: 'address', indexed: true },
      { name: 'token', type: 'address', indexed: true },
      { name: 'sender', type: 'address', indexed: true },
      { name: 'amount', type: 'uint128', indexed: false },
    ],
  },
] as const
