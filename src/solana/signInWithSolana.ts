import { getBase58Decoder } from '@solana/kit'
import type { SignInWithX } from '../signers/SignInWithX.js'
import { createSignIn } from '../siwx/createSignIn.js'
import type { PayerSigner } from './signer.js'
import { siwsMessage } from './siwsMessage.js'

/**
 * Sign-in-with-x for a Solana payer: the challenge's Sign In With Solana text signed with Ed25519
 * on one of the server's `solana:` chains this signer pays on. `undefined` when the signer cannot
 * sign messages (a wallet-standard modifying signer, a wallet adapter).
 */
export function signInWithSolana(payer: PayerSigner, networks: readonly string[]): SignInWithX | undefined {
  const { signMessage } = payer
  if (!signMessage) return undefined
  const { address } = payer
  return createSignIn({
    address,
    type: 'ed25519',
    chainRefusal: (chainId) =>
      networks.includes(chainId) ? undefined : `${chainId} is not one of this signer's networks`,
    async sign(challenge, chainId) {
      const signature = await signMessage(new TextEncoder().encode(siwsMessage(challenge, address, chainId)))
      return getBase58Decoder().decode(signature)
    },
  })
}
