import { type Address, getAddress, type Hex } from 'viem'
import type { TypedDataSigner } from './account.js'

/** The x402 `exact` EVM payload: an EIP-3009 `transferWithAuthorization` and its signature. */
export type Eip3009Payload = {
  readonly signature: Hex
  readonly authorization: {
    readonly from: Address
    readonly to: Address
    readonly value: string
    readonly validAfter: string
    readonly validBefore: string
    readonly nonce: Hex
  }
}

const transferWithAuthorizationTypes = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const

export type AuthorizationParameters = {
  readonly chainId: number
  readonly token: string
  /** The token's EIP-712 domain, from the offer's `extra`. */
  readonly domain: { readonly name: string; readonly version: string }
  readonly to: string
  readonly value: bigint
  readonly validAfter: bigint
  readonly validBefore: bigint
}

/** Signs a `TransferWithAuthorization` with a fresh random 32-byte nonce. */
export async function signTransferWithAuthorization(
  signer: TypedDataSigner,
  parameters: AuthorizationParameters,
): Promise<Eip3009Payload> {
  const message = {
    from: signer.address,
    to: getAddress(parameters.to),
    value: parameters.value,
    validAfter: parameters.validAfter,
    validBefore: parameters.validBefore,
    nonce: randomNonce(),
  }
  const signature = await signer.sign({
    domain: { ...parameters.domain, chainId: parameters.chainId, verifyingContract: getAddress(parameters.token) },
    types: transferWithAuthorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message,
  })
  return {
    signature,
    authorization: {
      ...message,
      value: message.value.toString(),
      validAfter: message.validAfter.toString(),
      validBefore: message.validBefore.toString(),
    },
  }
}

function randomNonce(): Hex {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return `0x${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`
}
