import type { Response402 } from '../protocols/Protocol.js'
import { messageOf, readPaymentRequired } from '../protocols/x402/decode.js'
import type { SessionToken } from '../sessions/SessionStore.js'
import type { SiwxAccess } from '../signers/SignInWithX.js'
import { type PayingContext, refuse } from './context.js'
import type { Paid } from './paymentAttempt.js'
import type { ReplayableRequest } from './replayableRequest.js'
import { sendFollowingRedirects } from './sendFollowingRedirects.js'
import { storeFailed } from './storeFailed.js'

/** The protocol name of a sign-in-with-x entitlement in the sessions store, and its keys' prefix. */
const entitlementProtocol = 'x402-siwx'

/**
 * The sessions key of the entitlement to `url`'s resource: its origin and path (what the reference
 * server records a payment under), behind a prefix no origin has, so L402 tokens never collide.
 */
export function entitlementKey(url: string): string {
  const { origin, pathname } = new URL(url)
  return `${entitlementProtocol}:${origin}${pathname}`
}

/**
 * Reaches `url` again by signing in instead of paying, when its x402 v2 402 advertises
 * sign-in-with-x and the sessions hold an entitlement an address of ours paid for. Resolves to the
 * server's answer to the signed request and the headers it carried, or `undefined` when nothing was
 * signed (no entitlement, no signer for its address, or a check refused the challenge): then the
 * call pays as usual. The signature goes to the 402's origin only; a redirect to another origin
 * drops it.
 */
export async function signInAgain(
  context: PayingContext,
  request: ReplayableRequest,
  url: string,
  answer: Response402,
): Promise<{ response: Response; presented: Record<string, string> } | undefined> {
  const advertised = await reaccessFor(context, url, answer)
  if (!advertised) return undefined
  const { extensions, address, network } = advertised
  // Hex addresses compare without their checksum case.
  const signIn = context.signers.find(
    (signer) => signer.signIn?.address.toLowerCase() === address.toLowerCase(),
  )?.signIn
  let access: SiwxAccess | string | undefined = `no signer signs in as ${address}, the address that paid`
  if (signIn)
    try {
      access = await signIn.signIn({ extensions, url, network, signal: request.signal })
    } catch {
      // A wallet that refuses to sign in (a person said no) leaves paying, which asks again.
      if (request.signal?.aborted) throw request.signal.reason
      access = 'the signer did not sign'
    }
  if (typeof access !== 'object') {
    if (access) context.emit({ type: 'siwx.skipped', url, reason: access })
    return undefined
  }
  const hops = await sendFollowingRedirects(
    context.fetch,
    request,
    { url, proof: { ...access.headers } },
    context.maxRedirects,
  )
  const response = hops.at(-1) as Response
  context.emit({
    type: response.status === 402 ? 'siwx.declined' : 'siwx.accepted',
    url,
    address: access.address,
    chainId: access.chainId,
    status: response.status,
  })
  return { response, presented: access.headers }
}

/**
 * The entitlement a call to `url` would sign in with: when its x402 v2 402 advertises
 * sign-in-with-x and the sessions hold one for the resource. Read by the loop and by `quote()`.
 */
export async function reaccessFor(
  context: PayingContext,
  url: string,
  answer: Response402,
): Promise<(NonNullable<SessionToken['entitlement']> & { readonly extensions: unknown }) | undefined> {
  let extensions: unknown
  try {
    const message = readPaymentRequired(answer)
    extensions = message?.x402Version === 2 ? message.extensions : undefined
  } catch {} // a malformed x402 message is the offers' decoder's to report
  if (!(extensions as Record<string, unknown> | undefined)?.['sign-in-with-x']) return undefined
  const entitlement = await entitlementFor(context, url)
  return entitlement && { ...entitlement, extensions }
}

/**
 * After a paid x402 call to a server that advertised sign-in-with-x: keeps the entitlement (the
 * paying address, per origin and path) so later calls, here or in processes sharing the sessions,
 * sign in instead of paying. It has no end of its own: a challenge's `expirationTime` bounds that
 * one signature (servers set it afresh on every 402), and a server that no longer grants access
 * answers the sign-in with a 402, which is paid once. Bookkeeping only: a store that fails costs a
 * later payment, not this answer.
 */
export async function keepEntitlement(context: PayingContext, url: string, paid: Paid): Promise<void> {
  const { offer, signer } = paid.candidate
  const message = messageOf(offer)
  const address = paid.pending.payer
  const offered = message?.x402Version === 2 && signer.signIn?.offersSignIn(message.extensions)
  if (!paid.receipt || !address || !offered) return
  const token: SessionToken = {
    protocol: entitlementProtocol,
    headers: {},
    entitlement: { address, network: offer.network },
  }
  try {
    await context.sessions.set(entitlementKey(url), token)
  } catch (error) {
    context.emit({ type: 'store.failed', url, error: storeFailed('sessions', 'set', true, url, error) })
  }
}

async function entitlementFor(context: PayingContext, url: string): Promise<SessionToken['entitlement']> {
  let token: SessionToken | undefined
  try {
    token = await context.sessions.get(entitlementKey(url))
  } catch (error) {
    throw refuse(context, url, storeFailed('sessions', 'get', false, url, error))
  }
  if (token?.protocol !== entitlementProtocol || (token.expiresAt ?? Infinity) <= Date.now()) return undefined
  return token.entitlement
}
