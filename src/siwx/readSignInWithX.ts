import { isRecord, isShortString } from '../utils/guards.js'
import type { SiwxChain, SiwxChallenge } from './SiwxChallenge.js'

/** The x402 v2 extension key. */
const signInWithXKey = 'sign-in-with-x'

/** What a 402 advertises for sign-in-with-x. */
export type SignInWithXOffer = { readonly challenge: SiwxChallenge; readonly chains: readonly SiwxChain[] }

const required = ['domain', 'uri', 'version', 'nonce', 'issuedAt'] as const
const optional = ['expirationTime', 'notBefore', 'statement', 'requestId'] as const
const maxResources = 16
const maxChains = 16

/**
 * The sign-in-with-x challenge a v2 message's `extensions` advertise: `undefined` when there is
 * none, a sentence when it is malformed. Only the shape is read here; what it says is the signer's
 * to check.
 */
export function readSignInWithX(extensions: unknown): SignInWithXOffer | string | undefined {
  const declared = isRecord(extensions) ? extensions[signInWithXKey] : undefined
  if (declared === undefined) return undefined
  if (!isRecord(declared) || !isRecord(declared.info)) return 'the sign-in-with-x extension has no info'
  const { info, supportedChains } = declared
  const challenge: Record<string, unknown> = {}
  for (const field of required) {
    if (!isShortString(info[field], 2048)) return `the sign-in-with-x ${field} is missing`
    challenge[field] = info[field]
  }
  for (const field of optional) {
    if (info[field] === undefined) continue
    if (!isShortString(info[field], 2048)) return `the sign-in-with-x ${field} is not a string`
    challenge[field] = info[field]
  }
  if (info.resources !== undefined) {
    const { resources } = info
    if (
      !Array.isArray(resources) ||
      resources.length > maxResources ||
      !resources.every((resource) => isShortString(resource, 2048))
    )
      return 'the sign-in-with-x resources are not a short list of strings'
    challenge.resources = resources
  }
  if (!Array.isArray(supportedChains) || supportedChains.length > maxChains)
    return 'the sign-in-with-x supportedChains are missing'
  const chains = supportedChains.filter(
    (chain): chain is SiwxChain => isRecord(chain) && isShortString(chain.chainId, 64) && isShortString(chain.type, 32),
  )
  return { challenge: challenge as SiwxChallenge, chains }
}
