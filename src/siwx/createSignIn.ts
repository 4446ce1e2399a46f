import type { SignInWithX } from '../signers/SignInWithX.js'
import { encodeBase64Json } from '../utils/base64.js'
import { checkSiwxChallenge } from './checkSiwxChallenge.js'
import { claimNonce } from './claimNonce.js'
import { readSignInWithX } from './readSignInWithX.js'
import type { SiwxChallenge } from './SiwxChallenge.js'

/** What one chain family brings to sign in: its address, signature type and message. */
export type SignInFamily = {
  readonly address: string
  /** The `supportedChains` type it signs: `eip191` (SIWE), `ed25519` (SIWS). */
  readonly type: string
  /** Why this signer cannot sign for the CAIP-2 chain, or `undefined`. */
  chainRefusal(chainId: string): string | undefined
  /** Builds the chain's message text from the checked challenge and signs it. */
  sign(challenge: SiwxChallenge, chainId: string): Promise<string>
}

/**
 * A signer's sign-in-with-x: reads the extension, checks the challenge against the URL that asked
 * (`checkSiwxChallenge`), picks a supported chain it may sign for (the one paid on first), claims
 * the nonce, signs, and writes the `SIGN-IN-WITH-X` header: base64 JSON of the challenge as sent,
 * plus `address`, `chainId`, `type` and `signature`.
 */
export function createSignIn(family: SignInFamily): SignInWithX {
  const { address, type } = family
  return {
    address,
    offersSignIn(extensions) {
      const offer = readSignInWithX(extensions)
      return offer !== undefined && typeof offer !== 'string'
    },
    async signIn({ extensions, url, network }) {
      const offer = readSignInWithX(extensions)
      if (offer === undefined || typeof offer === 'string') return offer
      const { challenge, chains } = offer
      const refused = checkSiwxChallenge(challenge, url)
      if (refused) return refused
      const signable = chains.filter((chain) => chain.type === type && family.chainRefusal(chain.chainId) === undefined)
      const chain = signable.find((candidate) => candidate.chainId === network) ?? signable[0]
      if (!chain)
        return `no sign-in-with-x chain this signer can sign for (offered: ${chains.map((c) => c.chainId).join(', ') || 'none'})`
      // Claimed just before signing: this process signs a nonce once, whoever asks again.
      if (!claimNonce(challenge.nonce)) return 'the sign-in-with-x nonce was already signed by this process'
      const signature = await family.sign(challenge, chain.chainId)
      const payload = { ...challenge, address, chainId: chain.chainId, type, signature }
      return { headers: { 'sign-in-with-x': encodeBase64Json(payload) }, address, chainId: chain.chainId }
    },
  }
}
