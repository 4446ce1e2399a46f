import { bytesToHex, getAddress, type Hex, keccak256, stringToHex } from 'viem'
import type { Eip3009Proof, Eip3009Request } from '../methods/Eip3009.js'
import { withFields } from '../utils/withFields.js'
import type { TypedDataSigner } from './account.js'

/** EIP-3009's authorization fields, shared by `transferWithAuthorization` and `receiveWithAuthorization`. */
export const authorizationFields = [
  { name: 'from', type: 'address' },
  { name: 'to', type: 'address' },
  { name: 'value', type: 'uint256' },
  { name: 'validAfter', type: 'uint256' },
  { name: 'validBefore', type: 'uint256' },
  { name: 'nonce', type: 'bytes32' },
] as const

const transferWithAuthorizationTypes = { TransferWithAuthorization: authorizationFields } as const

/** The request with its validity window resolved to Unix seconds at signing time. */
export type AuthorizationParameters = Omit<Eip3009Request, 'validAfterSeconds' | 'validBefore' | 'domain'> & {
  readonly domain: { readonly name: string; readonly version: string }
  readonly validAfter: bigint
  readonly validBefore: bigint
}

/** Signs a `TransferWithAuthorization` with the request's nonce rule. */
export async function signTransferWithAuthorization(
  signer: TypedDataSigner,
  parameters: AuthorizationParameters,
): Promise<Eip3009Proof> {
  const payer = getAddress(signer.address)
  const message = {
    from: payer,
    to: getAddress(parameters.to),
    value: parameters.value,
    validAfter: parameters.validAfter,
    validBefore: parameters.validBefore,
    nonce: parameters.nonce === 'random' ? randomNonce() : keccak256(stringToHex(parameters.nonce.keccak256Of)),
  }
  const signature = await signer.sign({
    domain: withFields(parameters.domain, {
      chainId: parameters.chainId,
      verifyingContract: getAddress(parameters.token),
    }),
    types: transferWithAuthorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message,
  })
  return {
    kind: 'eip3009',
    signature,
    authorization: {
      ...message,
      value: message.value.toString(),
      validAfter: message.validAfter.toString(),
      validBefore: message.validBefore.toString(),
    },
    payer,
  }
}

// getRandomValues costs a system call (5 µs here) whatever the size: nonces are drawn 64 at a time.
const noncePool = new Uint8Array(32 * 64)
let nonceAt = noncePool.length

function randomNonce(): Hex {
  if (nonceAt === noncePool.length) {
    crypto.getRandomValues(noncePool)
    nonceAt = 0
  }
  nonceAt += 32
  return bytesToHex(noncePool.subarray(nonceAt - 32, nonceAt))
}
