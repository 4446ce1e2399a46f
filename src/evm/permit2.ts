import { type Address, getAddress } from 'viem'
import type { Permit2Proof, Permit2Request } from '../methods/Permit2.js'
import type { TypedDataSigner } from './account.js'

/** Uniswap Permit2, at the same address on every chain. */
export const permit2Address: Address = '0x000000000022D473030F116dDEE9F6B43aC78BA3'

/**
 * The x402 Permit2 proxies (the same address on every chain): the only spenders payfetch ever names
 * in a Permit2 signature. Each pays the witness's `to` and nobody else.
 */
export const permit2Proxies: Readonly<Record<Permit2Request['proxy'], Address>> = {
  exact: '0x402085c248EeA27D92E8b30b2C58ed07f9E20001',
  upto: '0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002',
}

const tokenPermissions = [
  { name: 'token', type: 'address' },
  { name: 'amount', type: 'uint256' },
] as const

const permitFields = [
  { name: 'permitted', type: 'TokenPermissions' },
  { name: 'spender', type: 'address' },
  { name: 'nonce', type: 'uint256' },
  { name: 'deadline', type: 'uint256' },
  { name: 'witness', type: 'Witness' },
] as const

// The witness each proxy checks: `upto` also binds the facilitator allowed to settle.
const witnessTypes = {
  exact: [
    { name: 'to', type: 'address' },
    { name: 'validAfter', type: 'uint256' },
  ],
  upto: [
    { name: 'to', type: 'address' },
    { name: 'facilitator', type: 'address' },
    { name: 'validAfter', type: 'uint256' },
  ],
} as const

/**
 * Signs a `PermitWitnessTransferFrom` for the request's proxy: a random uint256 nonce (Permit2
 * nonces are an unordered bitmap), the deadline `deadline` (Unix seconds), valid from 0.
 */
export async function signPermitWitnessTransfer(
  signer: TypedDataSigner,
  request: Permit2Request,
  deadline: bigint,
): Promise<Permit2Proof> {
  const payer = getAddress(signer.address)
  const token = getAddress(request.token)
  const spender = permit2Proxies[request.proxy]
  const to = getAddress(request.to)
  const nonce = randomUint256()
  const witness =
    request.proxy === 'upto'
      ? { to, facilitator: getAddress(request.facilitator as string), validAfter: 0n }
      : { to, validAfter: 0n }
  const signature = await signer.sign({
    domain: { name: 'Permit2', chainId: request.chainId, verifyingContract: permit2Address },
    types: {
      PermitWitnessTransferFrom: permitFields,
      TokenPermissions: tokenPermissions,
      Witness: witnessTypes[request.proxy],
    },
    primaryType: 'PermitWitnessTransferFrom',
    message: { permitted: { token, amount: request.amount }, spender, nonce, deadline, witness },
  })
  return {
    kind: 'permit2',
    signature,
    permit2Authorization: {
      from: payer,
      permitted: { token, amount: request.amount.toString() },
      spender,
      nonce: nonce.toString(),
      deadline: deadline.toString(),
      witness: { ...witness, validAfter: '0' },
    },
    payer,
  }
}

/** A random Permit2 nonce: Permit2 nonces are an unordered bitmap, so any unused uint256 will do. */
export function randomUint256(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return BigInt(`0x${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`)
}
