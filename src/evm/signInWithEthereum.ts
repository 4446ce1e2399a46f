import { getAddress } from 'viem'
import type { SignInWithX } from '../signers/SignInWithX.js'
import { createSignIn } from '../siwx/createSignIn.js'
import type { TypedDataSigner } from './account.js'
import { siweMessage } from './siweMessage.js'

/**
 * Sign-in-with-x for an EVM account: the challenge's EIP-4361 (SIWE) text signed with EIP-191
 * (`signMessage`, `personal_sign`) on an `eip155` chain the server supports and `chainRefusal`
 * allows. `undefined` when the account cannot sign messages.
 */
export function signInWithEthereum(
  signer: TypedDataSigner,
  chainRefusal: (chainId: number) => string | undefined,
): SignInWithX | undefined {
  const { signMessage } = signer
  if (!signMessage) return undefined
  const address = getAddress(signer.address)
  return createSignIn({
    address,
    type: 'eip191',
    chainRefusal: (chainId) => chainRefusal(chainIdOf(chainId)),
    sign: (challenge, chainId) => signMessage(siweMessage(challenge, address, chainIdOf(chainId))),
  })
}

function chainIdOf(caip2: string): number {
  const match = /^eip155:([1-9][0-9]{0,15})$/.exec(caip2)
  return match ? Number(match[1]) : Number.NaN
}
