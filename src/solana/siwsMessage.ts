import type { SiwxChallenge } from '../siwx/SiwxChallenge.js'

/**
 * The Sign In With Solana text of a sign-in-with-x challenge for `address` on the CAIP-2 `chainId`,
 * as the x402 reference server rebuilds it to verify: like EIP-4361 with "Solana account", the
 * chain's genesis reference as `Chain ID`, one blank line when there is no statement, and
 * `Resources` only when there are some. Every field is the server's text verbatim; check the
 * challenge first (`checkSiwxChallenge`).
 */
export function siwsMessage(challenge: SiwxChallenge, address: string, chainId: string): string {
  const { domain, statement, uri, version, nonce, issuedAt, expirationTime, notBefore, requestId, resources } =
    challenge
  const lines = [`${domain} wants you to sign in with your Solana account:`, address, '']
  if (statement !== undefined) lines.push(statement, '')
  const reference = chainId.slice(chainId.indexOf(':') + 1)
  lines.push(
    `URI: ${uri}`,
    `Version: ${version}`,
    `Chain ID: ${reference}`,
    `Nonce: ${nonce}`,
    `Issued At: ${issuedAt}`,
  )
  if (expirationTime !== undefined) lines.push(`Expiration Time: ${expirationTime}`)
  if (notBefore !== undefined) lines.push(`Not Before: ${notBefore}`)
  if (requestId !== undefined) lines.push(`Request ID: ${requestId}`)
  if (resources?.length) lines.push('Resources:', ...resources.map((resource) => `- ${resource}`))
  return lines.join('\n')
}
